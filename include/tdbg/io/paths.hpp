// tdbg/io/paths.hpp — the names of a trial's files and of stored reduction tensors (spec §1.1, §8).
// Layer: io. Includes tdbg/core/{mode,reduction}.hpp and the standard library.
//
// Keys are '/'-separated paths relative to the trial root, as the storage layer uses them.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tdbg/core/mode.hpp"
#include "tdbg/core/reduction.hpp"

namespace tdbg::io {

/// Python's format(s, "012"): zero-padded to 12 characters (sign included), longer if needed.
[[nodiscard]] inline std::string step_string(step_t s) {
  const bool neg = s < 0;
  std::string digits = neg ? std::to_string(s).substr(1) : std::to_string(s);
  const std::size_t width = neg ? 11 : 12;
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return neg ? "-" + digits : digits;
}

/// A worker name as it appears in file names: '/' → '_', ':' → '-'.
[[nodiscard]] inline std::string serialize_worker(std::string_view w) {
  std::string s(w);
  for (char& c : s) {
    if (c == '/') c = '_';
    else if (c == ':') c = '-';
  }
  return s;
}

/// The inverse mapping of serialize_worker: '_' → '/', '-' → ':'.
[[nodiscard]] inline std::string deserialize_worker(std::string_view w) {
  std::string s(w);
  for (char& c : s) {
    if (c == '_') c = '/';
    else if (c == '-') c = ':';
  }
  return s;
}

/// "events/<S12>/<S12>_<W>.tfevents" (worker serialized).
[[nodiscard]] inline std::string event_file_key(step_t s, std::string_view worker) {
  const std::string st = step_string(s);
  return "events/" + st + "/" + st + "_" + serialize_worker(worker) + ".tfevents";
}

/// "index/<S/1000, 9 digits>/<S12>_<W>.json" (worker serialized; Python's floor division).
[[nodiscard]] inline std::string index_file_key(step_t s, std::string_view worker) {
  const step_t bucket = s >= 0 ? s / 1000 : -((-(s + 1)) / 1000) - 1;
  std::string b = std::to_string(bucket < 0 ? -bucket : bucket);
  const std::size_t width = bucket < 0 ? 8 : 9;
  if (b.size() < width) b.insert(0, width - b.size(), '0');
  if (bucket < 0) b.insert(0, 1, '-');
  return "index/" + b + "/" + step_string(s) + "_" + serialize_worker(worker) + ".json";
}

/// "collections/000000000/<W>_collections.json" (worker serialized).
[[nodiscard]] inline std::string collections_file_key(std::string_view worker) {
  return "collections/000000000/" + serialize_worker(worker) + "_collections.json";
}

/// The empty marker a finished job leaves in the trial root.
inline constexpr std::string_view end_marker_key = "training_job_end.ts";

/// The step and worker an event or index file name encodes.
struct step_file_name {
  step_t step = 0;
  std::string worker;
  friend bool operator==(const step_file_name&, const step_file_name&) = default;
};

/// "index/000000000/000000000005_worker_0.json" → {5, "worker_0"}. The key needs a directory
/// part and a basename "<digits>_<worker>.<json|csv|tfevents>"; anything else (including
/// "*.tmp" and steps that overflow int64) gives nullopt. The worker is de-serialized only when
/// it starts with '_' (a serialized TF device name); tdbg does not copy smdebug's "'__'
/// anywhere in the full path" quirk.
[[nodiscard]] inline std::optional<step_file_name> parse_step_file_name(std::string_view key) {
  const auto slash = key.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::string_view base = key.substr(slash + 1);
  const auto dot = base.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view ext = base.substr(dot + 1);
  if (ext != "json" && ext != "csv" && ext != "tfevents") return std::nullopt;
  base = base.substr(0, dot);
  const auto us = base.find('_');
  if (us == std::string_view::npos || us == 0 || us + 1 >= base.size()) return std::nullopt;
  const std::string_view digits = base.substr(0, us);
  for (char c : digits)
    if (c < '0' || c > '9') return std::nullopt;
  step_file_name r;
  const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), r.step);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
  const std::string_view worker = base.substr(us + 1);
  r.worker = worker.front() == '_' ? deserialize_worker(worker) : std::string(worker);
  return r;
}

/// "collections/000000000/worker_0_collections.json" → "worker_0": a "collections" directory
/// (at the start or after a '/'), at least one directory below it, and a basename
/// "<W>_collections.json" with a non-empty W (de-serialized when it starts with '_').
[[nodiscard]] inline std::optional<std::string> parse_collections_file_name(std::string_view key) {
  constexpr std::string_view suffix = "_collections.json";
  std::size_t pos = key.rfind("collections/");
  while (pos != std::string_view::npos && pos != 0 && key[pos - 1] != '/')
    pos = pos == 0 ? std::string_view::npos : key.rfind("collections/", pos - 1);
  if (pos == std::string_view::npos) return std::nullopt;
  const std::string_view rest = key.substr(pos + 12);  // after "collections/"
  const auto slash = rest.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  const std::string_view base = rest.substr(slash + 1);
  if (base.size() <= suffix.size() || !base.ends_with(suffix)) return std::nullopt;
  const std::string_view worker = base.substr(0, base.size() - suffix.size());
  return worker.front() == '_' ? deserialize_worker(worker) : std::string(worker);
}

inline constexpr std::string_view reduction_prefix = "smdebug/reductions/";

/// "smdebug/reductions/<name>/<tensor>" with <name> = reduction_name(r) ("abs_mean", "l2").
/// tdbg's writer keeps the tensor name whole (smdebug drops ":<digits>" suffixes; spec §13).
[[nodiscard]] inline std::string reduction_tensor_name(std::string_view tensor, reduction r) {
  return std::string(reduction_prefix) + reduction_name(r) + "/" + std::string(tensor);
}

/// The tensor and reduction a stored reduction name refers to.
struct parsed_reduction_name {
  std::string tensor;
  reduction red;
  friend bool operator==(const parsed_reduction_name&, const parsed_reduction_name&) = default;
};

/// Inverse of reduction_tensor_name, as smdebug's reader does it: split at the first
/// "smdebug/reductions/", then at the first '/'; a name containing "abs_" is the abs variant
/// of the op after it. nullopt if the name is not a reduction name, the tensor part is empty,
/// or the op is unknown ("l1_norm" is accepted as "l1").
[[nodiscard]] inline std::optional<parsed_reduction_name> parse_reduction_tensor_name(
    std::string_view name) {
  const auto p = name.find(reduction_prefix);
  if (p == std::string_view::npos) return std::nullopt;
  const std::string_view rest = name.substr(p + reduction_prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size()) return std::nullopt;
  std::string_view op = rest.substr(0, slash);
  bool abs = false;
  if (const auto a = op.find("abs_"); a != std::string_view::npos) {
    abs = true;
    op = op.substr(a + 4);
  }
  const auto parsed = parse_reduction_op(op);
  if (!parsed) return std::nullopt;
  return parsed_reduction_name{std::string(rest.substr(slash + 1)), reduction{*parsed, abs}};
}

}  // namespace tdbg::io
