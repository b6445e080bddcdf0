// tdbg/collect/json_config.hpp — smdebug's JSON hook configuration (SageMaker; spec §7.4).
// Layer: collect (core, nlohmann/json for parsing, the standard library).
//
//   {"LocalPath": "/opt/ml/output/tensors",
//    "HookParameters": {"save_interval": "10", "eval.save_steps": "1,2,3", "reductions": "mean,l2_norm",
//                       "include_regex": "a.*,b", "save_all": "false", "include_workers": "one"},
//    "CollectionConfigurations": [{"CollectionName": "weights",
//                                  "CollectionParameters": {"train.save_interval": "5"}}]}
//
// Save keys (save_interval, save_steps as "1,2,3", start_step, end_step) may be prefixed with
// train./eval./predict./global.; a prefixed key overrides the plain one for that mode; collection
// parameters override hook parameters per key. Numbers and booleans may be JSON values or strings
// (SageMaker passes strings). Unknown keys are ignored, as smdebug does.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tdbg/collect/collection.hpp"
#include "tdbg/collect/defaults.hpp"

namespace tdbg::collect {

/// smdebug's default location of the JSON hook configuration.
inline constexpr std::string_view default_json_config_path = "/opt/ml/input/config/debughookconfig.json";
/// smdebug's default output directory when the file has no LocalPath.
inline constexpr std::string_view default_sagemaker_out_dir = "/opt/ml/output/tensors";

/// The content of a JSON hook configuration.
struct json_hook_config {
  std::string out_dir{default_sagemaker_out_dir};
  hook_defaults defaults;                   ///< hook-level save config (all modes) and reductions
  std::vector<std::string> include_regex;   ///< added to the "default" collection
  bool save_all = false;                    ///< adds ".*" to the "all" collection
  std::string include_workers = "one";      ///< "one" (only worker_0 writes) or "all"
  std::vector<collection> collections;      ///< one per CollectionConfigurations entry
};

namespace detail {

struct partial_mode {
  std::optional<step_t> interval, start;
  std::optional<std::vector<step_t>> steps;
  std::optional<std::optional<step_t>> end;  // outer: key present; inner: null → no end

  void override_with(const partial_mode& o) {
    if (o.interval) interval = o.interval;
    if (o.start) start = o.start;
    if (o.steps) steps = o.steps;
    if (o.end) end = o.end;
  }
  [[nodiscard]] save_config_mode finish() const {
    save_config_mode m;
    if (interval) m.save_interval = *interval;
    if (start) m.start_step = *start;
    if (steps) m.save_steps = *steps;
    if (end) m.end_step = *end;
    return m;
  }
};

class json_reader {
 public:
  explicit json_reader(std::string_view file) : file_(file) {}

  [[noreturn]] void fail(const std::string& key, const std::string& msg) const {
    throw config_error(file_ + ": " + key + ": " + msg);
  }

  [[nodiscard]] std::int64_t integer(const nlohmann::json& v, const std::string& key) const {
    if (v.is_number_integer()) return v.get<std::int64_t>();
    if (v.is_string()) return parse_int(v.get<std::string>(), key);
    fail(key, "expected an integer, got " + v.dump());
  }
  [[nodiscard]] std::int64_t parse_int(std::string_view s, const std::string& key) const {
    std::string t(trim(s));
    std::size_t used = 0;
    std::int64_t x = 0;
    try {
      x = std::stoll(t, &used);
    } catch (const std::exception&) {
      used = std::string::npos;
    }
    if (t.empty() || used != t.size()) fail(key, "expected an integer, got \"" + std::string(s) + "\"");
    return x;
  }
  [[nodiscard]] bool boolean(const nlohmann::json& v, const std::string& key) const {
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_string()) {
      std::string s = v.get<std::string>();
      for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (s == "true") return true;
      if (s == "false") return false;
    }
    fail(key, "expected true or false, got " + v.dump());
  }
  [[nodiscard]] std::string string(const nlohmann::json& v, const std::string& key) const {
    if (!v.is_string()) fail(key, "expected a string, got " + v.dump());
    return v.get<std::string>();
  }
  /// smdebug's `split`: comma separated, items stripped, empty items dropped.
  [[nodiscard]] static std::vector<std::string> split(std::string_view s) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= s.size()) {
      const std::size_t c = std::min(s.find(',', pos), s.size());
      const auto item = trim(s.substr(pos, c - pos));
      if (!item.empty()) out.emplace_back(item);
      pos = c + 1;
    }
    return out;
  }
  [[nodiscard]] std::vector<std::string> list(const nlohmann::json& v, const std::string& key) const {
    if (v.is_string()) return split(v.get<std::string>());
    if (v.is_array()) {
      std::vector<std::string> out;
      for (const auto& x : v) out.push_back(string(x, key));
      return out;
    }
    fail(key, "expected a comma-separated string, got " + v.dump());
  }

  /// The save keys of `params` with `prefix` ("" or "train." ...).
  [[nodiscard]] partial_mode mode_params(const nlohmann::json& params, std::string_view prefix,
                                         const std::string& where) const {
    partial_mode p;
    for (const auto& [k, v] : params.items()) {
      if (!std::string_view(k).starts_with(prefix)) continue;
      const std::string_view key = std::string_view(k).substr(prefix.size());
      const std::string path = where + "." + k;
      if (key == "save_interval") {
        p.interval = integer(v, path);
      } else if (key == "start_step") {
        p.start = integer(v, path);
      } else if (key == "end_step") {
        p.end = v.is_null() ? std::optional<step_t>{} : std::optional<step_t>{integer(v, path)};
      } else if (key == "save_steps") {
        std::vector<step_t> steps;
        if (v.is_array()) {
          for (const auto& x : v) steps.push_back(integer(x, path));
        } else {
          for (const auto& s : list(v, path)) steps.push_back(parse_int(s, path));
        }
        p.steps = std::move(steps);
      }
    }
    return p;
  }

  /// Per-mode partial configs: plain keys overridden by the mode's prefixed keys.
  [[nodiscard]] std::array<partial_mode, 4> modes(const nlohmann::json& params,
                                                  const std::string& where) const {
    const partial_mode base = mode_params(params, "", where);
    std::array<partial_mode, 4> out;
    for (mode m : all_modes) {
      std::string prefix(mode_name(m));
      for (auto& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      prefix += '.';
      partial_mode p = base;
      p.override_with(mode_params(params, prefix, where));
      out[mode_index(m)] = p;
    }
    return out;
  }

  [[nodiscard]] std::optional<reduction_config> reductions(const nlohmann::json& params,
                                                          const std::string& where) const {
    if (!params.contains("reductions")) return std::nullopt;
    reduction_config r;
    r.reductions = parse_reductions(string(params["reductions"], where + ".reductions"),
                                    file_ + ": " + where + ".reductions");
    r.save_raw_tensor = params.contains("save_raw_tensor")
                            ? boolean(params["save_raw_tensor"], where + ".save_raw_tensor")
                            : false;
    r.save_shape = params.contains("save_shape") ? boolean(params["save_shape"], where + ".save_shape")
                                                 : false;
    return r;
  }

  [[nodiscard]] static std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  }

 private:
  std::string file_;
};

}  // namespace detail

/// Parses a JSON hook configuration. `file` names the source in messages. Throws config_error
/// naming the file and the key on malformed JSON, a wrong type, a bad number, an unknown
/// reduction or an invalid save config.
[[nodiscard]] inline json_hook_config parse_json_hook_config(std::string_view text,
                                                             std::string_view file) {
  const detail::json_reader rd(file);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw config_error(std::string(file) + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) rd.fail("(top level)", "expected a JSON object");
  json_hook_config cfg;
  if (j.contains("LocalPath") && !j["LocalPath"].is_null()) cfg.out_dir = rd.string(j["LocalPath"], "LocalPath");

  nlohmann::json hook_params = nlohmann::json::object();
  if (j.contains("HookParameters") && !j["HookParameters"].is_null()) {
    hook_params = j["HookParameters"];
    if (!hook_params.is_object()) rd.fail("HookParameters", "expected an object");
  }
  const auto hook_modes = rd.modes(hook_params, "HookParameters");
  for (mode m : all_modes) cfg.defaults.save[m] = hook_modes[mode_index(m)].finish();
  cfg.defaults.save.validate(std::string(file) + ": HookParameters");
  if (auto r = rd.reductions(hook_params, "HookParameters")) cfg.defaults.reductions = *r;
  if (hook_params.contains("include_regex"))
    cfg.include_regex = rd.list(hook_params["include_regex"], "HookParameters.include_regex");
  if (hook_params.contains("save_all"))
    cfg.save_all = rd.boolean(hook_params["save_all"], "HookParameters.save_all");
  if (hook_params.contains("include_workers")) {
    cfg.include_workers = rd.string(hook_params["include_workers"], "HookParameters.include_workers");
    if (cfg.include_workers != "one" && cfg.include_workers != "all")
      rd.fail("HookParameters.include_workers", "expected \"one\" or \"all\", got \"" + cfg.include_workers + "\"");
  }

  if (j.contains("CollectionConfigurations") && !j["CollectionConfigurations"].is_null()) {
    const auto& list = j["CollectionConfigurations"];
    if (!list.is_array()) rd.fail("CollectionConfigurations", "expected an array");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string where = "CollectionConfigurations[" + std::to_string(i) + "]";
      const auto& entry = list[i];
      if (!entry.is_object()) rd.fail(where, "expected an object");
      if (!entry.contains("CollectionName")) rd.fail(where + ".CollectionName", "missing");
      const std::string name = rd.string(entry["CollectionName"], where + ".CollectionName");
      if (name.empty()) rd.fail(where + ".CollectionName", "empty collection name");
      nlohmann::json params = nlohmann::json::object();
      if (entry.contains("CollectionParameters") && !entry["CollectionParameters"].is_null()) {
        params = entry["CollectionParameters"];
        if (!params.is_object()) rd.fail(where + ".CollectionParameters", "expected an object");
      }
      const std::string pwhere = where + ".CollectionParameters";
      // A default collection keeps its smdebug regexes (smdebug gets it from its manager).
      collection c = defaults::find(name).value_or(collection{});
      c.name = name;
      const auto own = rd.modes(params, pwhere);
      save_config s;
      for (mode m : all_modes) {
        detail::partial_mode p = hook_modes[mode_index(m)];
        p.override_with(own[mode_index(m)]);
        s[m] = p.finish();
      }
      s.validate(std::string(file) + ": " + pwhere);
      c.save = s;
      if (auto r = rd.reductions(params, pwhere)) c.reductions = *r;
      if (params.contains("include_regex")) {
        for (auto& p : rd.list(params["include_regex"], pwhere + ".include_regex"))
          c.include_regex.push_back(std::move(p));
      }
      if (params.contains("save_histogram"))
        c.save_histogram = rd.boolean(params["save_histogram"], pwhere + ".save_histogram");
      for (const auto& other : cfg.collections)
        if (other.name == name) rd.fail(where + ".CollectionName", "duplicate collection '" + name + "'");
      cfg.collections.push_back(std::move(c));
    }
  }
  return cfg;
}

/// Reads and parses a JSON hook configuration file. Throws config_error naming the file.
[[nodiscard]] inline json_hook_config load_json_hook_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config_error(file.string() + ": cannot open the JSON hook configuration");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_json_hook_config(ss.str(), file.string());
}

}  // namespace tdbg::collect
