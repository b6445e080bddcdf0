// tdbg/io/index_file.hpp — the per-step index JSON files of a trial (spec §4).
// Layer: io. Includes tdbg/core/{error,mode,tensor}.hpp, tdbg/io/{json_reader,py_json}.hpp
// and the standard library.
//
// An index file lists where each record of one (step, worker) event file starts and how long
// it is, under the mode and mode step of its `meta`, plus the shapes saved with save_shape.
// to_json writes what Python's json.dumps writes, byte for byte.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/io/json_reader.hpp"
#include "tdbg/io/py_json.hpp"

namespace tdbg::io {

/// One record of the event file: `length` is the whole record (payload + 16 framing bytes).
struct index_entry {
  std::string tensorname;
  std::uint64_t start_idx = 0;
  std::uint64_t length = 0;
  friend bool operator==(const index_entry&, const index_entry&) = default;
};

/// The shape of a tensor saved with save_shape.
struct shape_entry {
  std::string tensorname;
  std::string originalname;
  shape_t shape;
  friend bool operator==(const shape_entry&, const shape_entry&) = default;
};

/// The contents of one index file. The step is not in the file: it comes from the file name.
struct index_file {
  tdbg::mode mode = tdbg::mode::global;
  step_t mode_step = 0;
  /// "events/<STEP12>/<STEP12>_<worker>.tfevents"; absent when the step saved only shapes.
  std::optional<std::string> event_file_name;
  std::vector<index_entry> tensor_payload;
  std::vector<shape_entry> shape_payload;
  friend bool operator==(const index_file&, const index_file&) = default;
};

/// The file as json.dumps writes it: keys in smdebug's order, one line, no trailing newline.
/// `event_file_name` is left out of `meta` when absent.
[[nodiscard]] inline std::string to_json(const index_file& f) {
  std::string s = "{\"meta\": {\"mode\": ";
  append_py_json_string(s, mode_name(f.mode));
  s += ", \"mode_step\": " + std::to_string(f.mode_step);
  if (f.event_file_name) {
    s += ", \"event_file_name\": ";
    append_py_json_string(s, *f.event_file_name);
  }
  s += "}, \"tensor_payload\": [";
  for (std::size_t i = 0; i < f.tensor_payload.size(); ++i) {
    const auto& e = f.tensor_payload[i];
    if (i) s += ", ";
    s += "{\"tensorname\": ";
    append_py_json_string(s, e.tensorname);
    s += ", \"start_idx\": " + std::to_string(e.start_idx) +
         ", \"length\": " + std::to_string(e.length) + "}";
  }
  s += "], \"shape_payload\": [";
  for (std::size_t i = 0; i < f.shape_payload.size(); ++i) {
    const auto& e = f.shape_payload[i];
    if (i) s += ", ";
    s += "{\"tensorname\": ";
    append_py_json_string(s, e.tensorname);
    s += ", \"originalname\": ";
    append_py_json_string(s, e.originalname);
    s += ", \"shape\": " + shape_string(e.shape) + "}";
  }
  s += "]}";
  return s;
}


/// Parses an index file. Throws index_reader_error naming `file` for invalid JSON (including
/// an empty file or two concatenated objects), a missing or empty `meta`, an unknown mode
/// name, neither `tensor_payload` nor `shape_payload`, or a value of the wrong type.
/// A missing `originalname` defaults to `tensorname`.
[[nodiscard]] inline index_file parse_index_file(std::string_view text, std::string_view file) {
  const detail::json_checker<index_reader_error> c{file};
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    c.fail("index file", "empty file");
  const auto j = c.parse(text);
  c.object(j, "index file");
  index_file f;

  const auto meta = j.find("meta");
  if (meta == j.end() || !meta->is_object() || meta->empty())
    c.fail("meta", "missing or empty");
  for (const auto& [key, v] : meta->items()) {
    if (key == "mode") {
      std::string name = c.string(v, "meta.mode");
      const auto b = name.find_first_not_of(" \t\r\n");
      const auto e = name.find_last_not_of(" \t\r\n");
      name = b == std::string::npos ? std::string() : name.substr(b, e - b + 1);  // smdebug strips
      bool found = false;
      for (auto m : all_modes)
        if (mode_name(m) == name) f.mode = m, found = true;
      if (!found) c.fail("meta.mode", "unknown mode '" + name + "'");
    } else if (key == "mode_step") {
      f.mode_step = c.int64(v, "meta.mode_step");
    } else if (key == "event_file_name") {
      if (!v.is_null()) f.event_file_name = c.string(v, "meta.event_file_name");
    }
  }
  if (!meta->contains("mode")) c.fail("meta", "no mode");
  if (!meta->contains("mode_step")) c.fail("meta", "no mode_step");

  const auto tp = j.find("tensor_payload");
  const auto sp = j.find("shape_payload");
  if (tp == j.end() && sp == j.end()) c.fail("index file", "neither tensor_payload nor shape_payload");
  if (tp != j.end()) {
    for (const auto& e : c.array(*tp, "tensor_payload")) {
      const std::string where = "tensor_payload[" + std::to_string(f.tensor_payload.size()) + "]";
      c.object(e, where);
      index_entry x;
      if (!e.contains("tensorname") || !e.contains("start_idx") || !e.contains("length"))
        c.fail(where, "needs tensorname, start_idx and length");
      x.tensorname = c.string(e.at("tensorname"), where + ".tensorname");
      x.start_idx = c.uint64(e.at("start_idx"), where + ".start_idx");
      x.length = c.uint64(e.at("length"), where + ".length");
      f.tensor_payload.push_back(std::move(x));
    }
  }
  if (sp != j.end()) {
    for (const auto& e : c.array(*sp, "shape_payload")) {
      const std::string where = "shape_payload[" + std::to_string(f.shape_payload.size()) + "]";
      c.object(e, where);
      shape_entry x;
      if (!e.contains("tensorname") || !e.contains("shape"))
        c.fail(where, "needs tensorname and shape");
      x.tensorname = c.string(e.at("tensorname"), where + ".tensorname");
      x.originalname =
          e.contains("originalname") ? c.string(e.at("originalname"), where + ".originalname")
                                     : x.tensorname;
      for (const auto& d : c.array(e.at("shape"), where + ".shape")) {
        const auto v = c.uint64(d, where + ".shape");
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          c.fail(where + ".shape", "extent " + std::to_string(v) + " is too large");
        x.shape.push_back(static_cast<std::int64_t>(v));
      }
      f.shape_payload.push_back(std::move(x));
    }
  }
  return f;
}

}  // namespace tdbg::io
