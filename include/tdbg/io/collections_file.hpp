// tdbg/io/collections_file.hpp — the collections JSON file each worker writes (spec §5).
// Layer: io. Includes tdbg/core/{error,mode}.hpp, tdbg/io/{json_reader,py_json}.hpp and the
// standard library.
//
// These are the records as stored, not the collect layer's compiled configurations: the collect
// layer converts. Collections and save_config modes keep their file order (smdebug's is not
// stable), so parse → to_json reproduces a file byte for byte.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/io/json_reader.hpp"
#include "tdbg/io/py_json.hpp"

namespace tdbg::io {

/// One mode's SaveConfigMode.
struct save_config_mode_record {
  std::int64_t save_interval = 500;
  std::vector<std::int64_t> save_steps;
  std::int64_t start_step = 0;
  std::optional<std::int64_t> end_step;  ///< exclusive; nullopt = JSON null (no end)
  friend bool operator==(const save_config_mode_record&, const save_config_mode_record&) = default;
};

/// A ReductionConfig. `reductions` is smdebug's comma-joined list ("min,max,l2_norm,abs_mean").
struct reduction_config_record {
  bool save_raw_tensor = true;
  std::string reductions;
  bool save_shape = false;
  friend bool operator==(const reduction_config_record&, const reduction_config_record&) = default;
};

/// One collection as stored.
struct collection_record {
  std::string name;
  std::vector<std::string> include_regex;
  std::vector<std::string> tensor_names;                  ///< sorted (and deduplicated) on write
  std::optional<reduction_config_record> reduction_config;  ///< nullopt = JSON null
  /// Modes in insertion order; outer nullopt = JSON null, inner nullopt = that mode is null.
  std::optional<std::vector<std::pair<tdbg::mode, std::optional<save_config_mode_record>>>>
      save_config;
  bool save_histogram = true;
  friend bool operator==(const collection_record&, const collection_record&) = default;
};

/// The whole file: collections in file order and the number of workers writing the trial.
struct collections_file {
  std::vector<collection_record> collections;
  std::int64_t num_workers = 1;
  friend bool operator==(const collections_file&, const collections_file&) = default;
};

/// The file as json.dumps writes it (one line, no trailing newline). Collections are keyed by
/// name in vector order. Throws usage_error on two collections with the same name.
[[nodiscard]] inline std::string to_json(const collections_file& f) {
  auto int_list = [](std::string& s, const std::vector<std::int64_t>& v) {
    s += '[';
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) s += ", ";
      s += std::to_string(v[i]);
    }
    s += ']';
  };
  auto string_list = [](std::string& s, const std::vector<std::string>& v) {
    s += '[';
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i) s += ", ";
      append_py_json_string(s, v[i]);
    }
    s += ']';
  };
  auto boolean = [](bool b) { return b ? "true" : "false"; };

  std::string s = "{\"collections\": {";
  for (std::size_t i = 0; i < f.collections.size(); ++i) {
    const auto& c = f.collections[i];
    for (std::size_t k = 0; k < i; ++k)
      if (f.collections[k].name == c.name)
        throw usage_error("two collections named '" + c.name + "' in one collections file");
    if (i) s += ", ";
    append_py_json_string(s, c.name);
    s += ": {\"name\": ";
    append_py_json_string(s, c.name);
    s += ", \"include_regex\": ";
    string_list(s, c.include_regex);
    s += ", \"tensor_names\": ";
    auto names = c.tensor_names;
    std::sort(names.begin(), names.end());  // byte order of UTF-8 = Python's code point order
    names.erase(std::unique(names.begin(), names.end()), names.end());
    string_list(s, names);
    s += ", \"reduction_config\": ";
    if (c.reduction_config) {
      s += "{\"save_raw_tensor\": ";
      s += boolean(c.reduction_config->save_raw_tensor);
      s += ", \"reductions\": ";
      append_py_json_string(s, c.reduction_config->reductions);
      s += ", \"save_shape\": ";
      s += boolean(c.reduction_config->save_shape);
      s += '}';
    } else {
      s += "null";
    }
    s += ", \"save_config\": ";
    if (c.save_config) {
      s += '{';
      for (std::size_t m = 0; m < c.save_config->size(); ++m) {
        const auto& [mode, cfg] = (*c.save_config)[m];
        if (m) s += ", ";
        append_py_json_string(s, mode_name(mode));
        s += ": ";
        if (!cfg) {
          s += "null";
          continue;
        }
        s += "{\"save_interval\": " + std::to_string(cfg->save_interval) + ", \"save_steps\": ";
        int_list(s, cfg->save_steps);
        s += ", \"start_step\": " + std::to_string(cfg->start_step) + ", \"end_step\": ";
        s += cfg->end_step ? std::to_string(*cfg->end_step) : std::string("null");
        s += '}';
      }
      s += '}';
    } else {
      s += "null";
    }
    s += ", \"save_histogram\": ";
    s += boolean(c.save_histogram);
    s += '}';
  }
  s += "}, \"_meta\": {\"num_workers\": " + std::to_string(f.num_workers) + "}}";
  return s;
}

/// Parses a collections file. Throws format_error naming `file` for invalid JSON, a top-level
/// key other than `collections` and `_meta`, an unknown mode name, a num_workers below 1, or
/// a value of the wrong type. Missing keys take smdebug's defaults (include_regex and
/// tensor_names empty, reduction_config and save_config null, save_histogram true, name = the
/// key, num_workers 1); `include_regex: false` (smdebug's default when absent) reads as empty.
[[nodiscard]] inline collections_file parse_collections_file(std::string_view text,
                                                             std::string_view file) {
  const detail::json_checker<format_error> c{file};
  const auto j = c.parse(text);
  c.object(j, "collections file");
  collections_file f;
  bool have_collections = false;
  for (const auto& [key, v] : j.items()) {
    if (key == "_meta") {
      c.object(v, "_meta");
      if (v.contains("num_workers")) {
        f.num_workers = c.int64(v.at("num_workers"), "_meta.num_workers");
        if (f.num_workers < 1)
          c.fail("_meta.num_workers", "must be at least 1, got " + std::to_string(f.num_workers));
      }
    } else if (key == "collections") {
      have_collections = true;
      c.object(v, "collections");
      for (const auto& [cname, cv] : v.items()) {
        const std::string where = "collection '" + cname + "'";
        c.object(cv, where);
        collection_record r;
        r.name = cname;
        for (const auto& [k, x] : cv.items()) {
          const std::string at = where + "." + k;
          if (k == "name") {
            r.name = c.string(x, at);
          } else if (k == "include_regex") {
            if (x.is_null() || (x.is_boolean() && !x.get<bool>())) continue;
            for (const auto& s : c.array(x, at)) r.include_regex.push_back(c.string(s, at));
          } else if (k == "tensor_names") {
            for (const auto& s : c.array(x, at)) r.tensor_names.push_back(c.string(s, at));
          } else if (k == "reduction_config") {
            if (x.is_null()) continue;
            c.object(x, at);
            reduction_config_record rc;
            if (x.contains("save_raw_tensor"))
              rc.save_raw_tensor = c.boolean(x.at("save_raw_tensor"), at + ".save_raw_tensor");
            if (x.contains("reductions"))
              rc.reductions = c.string(x.at("reductions"), at + ".reductions");
            if (x.contains("save_shape"))
              rc.save_shape = c.boolean(x.at("save_shape"), at + ".save_shape");
            r.reduction_config = std::move(rc);
          } else if (k == "save_config") {
            if (x.is_null()) continue;
            c.object(x, at);
            r.save_config.emplace();
            for (const auto& [mname, mv] : x.items()) {
              const std::string mat = at + "." + mname;
              std::optional<tdbg::mode> m;
              for (auto candidate : all_modes)
                if (mode_name(candidate) == mname) m = candidate;
              if (!m) c.fail(mat, "unknown mode '" + mname + "'");
              if (mv.is_null()) {
                r.save_config->emplace_back(*m, std::nullopt);
                continue;
              }
              c.object(mv, mat);
              save_config_mode_record sc;
              if (mv.contains("save_interval"))
                sc.save_interval = c.int64(mv.at("save_interval"), mat + ".save_interval");
              if (mv.contains("save_steps"))
                for (const auto& s : c.array(mv.at("save_steps"), mat + ".save_steps"))
                  sc.save_steps.push_back(c.int64(s, mat + ".save_steps"));
              if (mv.contains("start_step"))
                sc.start_step = c.int64(mv.at("start_step"), mat + ".start_step");
              if (mv.contains("end_step") && !mv.at("end_step").is_null())
                sc.end_step = c.int64(mv.at("end_step"), mat + ".end_step");
              r.save_config->emplace_back(*m, std::move(sc));
            }
          } else if (k == "save_histogram") {
            r.save_histogram = c.boolean(x, at);
          }
        }
        f.collections.push_back(std::move(r));
      }
    } else {
      c.fail("collections file", "unknown top-level key '" + key + "'");
    }
  }
  if (!have_collections) c.fail("collections file", "no 'collections' object");
  return f;
}

}  // namespace tdbg::io
