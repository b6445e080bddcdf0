// tdbg/hook/json_config.hpp — hooks configured by smdebug's JSON hook configuration (spec §7.4).
// Layer: hook. Parsing lives in collect/json_config.hpp; this header maps it onto hook_options.
//
// As smdebug's hook does, the collections saved are those listed in CollectionConfigurations plus
// "losses"; HookParameters give the save/reduction config of collections that have none;
// include_regex feeds the "default" collection and save_all the "all" collection. With
// include_workers "one" (the default) only worker_0 writes (other workers get a dry-run hook)
// and the trial has num_workers 1.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "tdbg/collect/json_config.hpp"
#include "tdbg/hook/hook.hpp"

namespace tdbg {

/// The hook described by a parsed configuration; `base` supplies worker, num_workers, queue and
/// end-marker options (its save/reduction/include settings are replaced by the file's).
[[nodiscard]] inline std::unique_ptr<hook> make_hook(const collect::json_hook_config& cfg,
                                                     hook_options base = {}) {
  base.save_config = cfg.defaults.save;
  base.reduction_config = cfg.defaults.reductions;
  base.include_regex = cfg.include_regex;
  base.save_all = cfg.save_all;
  if (cfg.include_workers == "one") {
    if (base.worker != "worker_0") base.dry_run = true;
    base.num_workers = 1;
  }
  auto cs = cfg.collections;
  if (std::none_of(cs.begin(), cs.end(), [](const auto& c) { return c.name == collect::keys::losses; }))
    cs.push_back(collect::defaults::losses.to_runtime());
  return std::make_unique<hook>(std::filesystem::path(cfg.out_dir), std::move(cs), std::move(base));
}

/// A hook from a JSON hook configuration file. Throws config_error naming the file and the key.
[[nodiscard]] inline std::unique_ptr<hook> make_hook_from_json(const std::filesystem::path& file,
                                                               hook_options base = {}) {
  return make_hook(collect::load_json_hook_config(file), std::move(base));
}

/// The hook SageMaker asks for: the file named by $SMDEBUG_CONFIG_FILE_PATH, else
/// /opt/ml/input/config/debughookconfig.json. Returns nullptr when the variable is unset and the
/// default file does not exist (no hook requested); throws config_error when the variable names a
/// file that cannot be read or parsed.
[[nodiscard]] inline std::unique_ptr<hook> make_hook_from_env(hook_options base = {}) {
  if (const char* p = std::getenv("SMDEBUG_CONFIG_FILE_PATH"); p != nullptr && *p != '\0')
    return make_hook_from_json(p, std::move(base));
  const std::filesystem::path def(collect::default_json_config_path);
  std::error_code ec;
  if (!std::filesystem::exists(def, ec)) return nullptr;
  return make_hook_from_json(def, std::move(base));
}

}  // namespace tdbg
