// tdbg/io/event.hpp — the protobuf `Event` that holds one saved tensor (spec §3).
// Layer: io. Includes tdbg/core/{dtype,tensor,mode,error}.hpp, tdbg/io/wire.hpp and the
// standard library. A hand-written encoder/decoder of the few messages smdebug uses
// (Event > Summary > Summary.Value > TensorProto, TensorShapeProto, SummaryMetadata.PluginData):
// no protobuf runtime needed.
//
// The encoder writes the canonical serialization smdebug's Python protobuf produces (fields in
// number order, proto3 defaults omitted), so tdbg's event files are byte-identical to smdebug's.
// The decoder accepts any valid serialization of these messages (unknown fields of every wire
// type skipped, packed or unpacked repeated fields, the *_val fallbacks of TensorFlow writers).
#pragma once

#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tdbg/core/dtype.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/core/tensor.hpp"
#include "tdbg/io/wire.hpp"

namespace tdbg::io {

/// One decoded tensor record.
struct tensor_event {
  double wall_time = 0;
  step_t step = 0;                  ///< Event.step: the global step of the writer
  std::string tag;                  ///< Summary.Value.tag: the tensor name
  tdbg::tensor value;               ///< the decoded TensorProto
  std::optional<tdbg::mode> mode;   ///< plugin "mode", if present
  std::optional<step_t> mode_step;  ///< plugin "mode_step", if present
};

namespace detail {

/// Field numbers of the messages (spec §3).
namespace field {
inline constexpr std::uint32_t event_wall_time = 1, event_step = 2, event_summary = 5;
inline constexpr std::uint32_t summary_value = 1;
inline constexpr std::uint32_t value_tag = 1, value_tensor = 8, value_metadata = 9;
inline constexpr std::uint32_t metadata_plugin_data = 1;
inline constexpr std::uint32_t plugin_name = 1, plugin_content = 2;
inline constexpr std::uint32_t tensor_dtype = 1, tensor_shape = 2, tensor_content = 4,
                               tensor_float_val = 5, tensor_double_val = 6, tensor_int_val = 7,
                               tensor_string_val = 8, tensor_int64_val = 10, tensor_bool_val = 11,
                               tensor_half_val = 13, tensor_uint32_val = 16,
                               tensor_uint64_val = 17;
inline constexpr std::uint32_t shape_dim = 2, shape_unknown_rank = 3;
inline constexpr std::uint32_t dim_size = 1, dim_name = 2;
}  // namespace field

[[nodiscard]] inline std::string_view value_oneof_name(std::uint32_t f) noexcept {
  switch (f) {
    case 2: return "simple_value";
    case 3: return "obsolete_old_style_histogram";
    case 4: return "image";
    case 5: return "histo";
    case 6: return "audio";
    default: return "?";
  }
}

inline void put_plugin(std::vector<std::byte>& meta, std::string_view name,
                       std::string_view content) {
  const std::size_t body = delimited_field_size(field::plugin_name, name.size()) +
                           delimited_field_size(field::plugin_content, content.size());
  put_delimited_header(meta, field::metadata_plugin_data, body);
  put_string_field(meta, field::plugin_name, name);
  put_string_field(meta, field::plugin_content, content);
}

/// Parses a decimal int64 ("-12", "5"); nullopt for anything else.
[[nodiscard]] inline std::optional<std::int64_t> parse_decimal(std::span<const std::byte> b) {
  const char* first = reinterpret_cast<const char*>(b.data());
  const char* last = first + b.size();
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || p != last || b.empty()) return std::nullopt;
  return v;
}

[[nodiscard]] inline std::string to_string(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

/// Appends the elements of a repeated scalar field, packed (wire type 2) or not.
/// `width` is 0 for varints, 4 for fixed32, 8 for fixed64.
inline void collect_repeated(const wire_reader& r, const wire_field& f, int width,
                             std::string_view name, std::vector<std::uint64_t>& out) {
  const wire_type single = width == 0 ? wire_type::varint
                           : width == 4 ? wire_type::fixed32
                                        : wire_type::fixed64;
  if (f.type == single) {
    out.push_back(f.value);
    return;
  }
  r.expect(f, wire_type::length_delimited, name);
  if (width == 0) {
    std::size_t pos = 0;
    while (pos < f.bytes.size()) out.push_back(r.read_varint_in(f.bytes, pos, f.body_offset, name));
    return;
  }
  const auto w = static_cast<std::size_t>(width);
  if (f.bytes.size() % w != 0)
    r.fail("packed " + std::string(name) + " of " + std::to_string(f.bytes.size()) +
               " bytes is not a multiple of " + std::to_string(w),
           f.offset);
  for (std::size_t i = 0; i < f.bytes.size(); i += w) {
    std::uint64_t v = 0;
    for (std::size_t k = w; k-- > 0;) v = (v << 8) | static_cast<std::uint8_t>(f.bytes[i + k]);
    out.push_back(v);
  }
}

/// Element bytes of `vals` (raw field values) converted to numeric dtype T.
template <class T>
void append_converted(const std::vector<std::uint64_t>& vals, std::vector<std::byte>& out) {
  out.reserve(vals.size() * sizeof(T));
  for (std::uint64_t raw : vals) {
    T v;
    if constexpr (std::is_same_v<T, float>) {
      v = std::bit_cast<float>(static_cast<std::uint32_t>(raw));
    } else if constexpr (std::is_same_v<T, double>) {
      v = std::bit_cast<double>(raw);
    } else if constexpr (std::is_same_v<T, float16_t>) {
      v = float16_t{static_cast<std::uint16_t>(raw)};
    } else if constexpr (std::is_same_v<T, bool>) {
      v = raw != 0;
    } else {
      v = static_cast<T>(raw);  // two's complement truncation, as protobuf's int32 fields
    }
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
  }
}

/// The *_val field that holds elements of dtype t without tensor_content (TensorFlow's choice).
[[nodiscard]] constexpr std::uint32_t val_field_of(dtype t) noexcept {
  switch (t) {
    case dtype::float16: return field::tensor_half_val;
    case dtype::float32: return field::tensor_float_val;
    case dtype::float64: return field::tensor_double_val;
    case dtype::int8: case dtype::int16: case dtype::int32:
    case dtype::uint8: case dtype::uint16: return field::tensor_int_val;
    case dtype::int64: return field::tensor_int64_val;
    case dtype::uint32: return field::tensor_uint32_val;
    case dtype::uint64: return field::tensor_uint64_val;
    case dtype::boolean: return field::tensor_bool_val;
    case dtype::string: return field::tensor_string_val;
  }
  return 0;
}

[[nodiscard]] constexpr std::string_view val_field_name(std::uint32_t f) noexcept {
  switch (f) {
    case field::tensor_half_val: return "half_val";
    case field::tensor_float_val: return "float_val";
    case field::tensor_double_val: return "double_val";
    case field::tensor_int_val: return "int_val";
    case field::tensor_int64_val: return "int64_val";
    case field::tensor_uint32_val: return "uint32_val";
    case field::tensor_uint64_val: return "uint64_val";
    case field::tensor_bool_val: return "bool_val";
    default: return "string_val";
  }
}

[[nodiscard]] inline shape_t decode_shape(const wire_reader& tr, const wire_field& f,
                                          std::string_view tag) {
  shape_t shape;
  auto sr = tr.nested(f, "TensorShapeProto");
  while (auto g = sr.next()) {
    if (g->number == field::shape_unknown_rank) {
      sr.expect(*g, wire_type::varint, "unknown_rank");
      if (g->value != 0) sr.fail("tensor '" + std::string(tag) + "' has an unknown rank", g->offset);
    } else if (g->number == field::shape_dim) {
      sr.expect(*g, wire_type::length_delimited, "dim");
      auto dr = sr.nested(*g, "TensorShapeProto.Dim");
      std::int64_t size = 0;
      while (auto h = dr.next()) {
        if (h->number == field::dim_size) {
          dr.expect(*h, wire_type::varint, "size");
          size = static_cast<std::int64_t>(h->value);
        } else if (h->number == field::dim_name) {
          dr.expect(*h, wire_type::length_delimited, "name");
        }
      }
      if (size < 0)
        sr.fail("tensor '" + std::string(tag) + "' dimension " + std::to_string(shape.size()) +
                    " has size " + std::to_string(size),
                g->offset);
      shape.push_back(size);
    }
  }
  return shape;
}

[[nodiscard]] inline tdbg::tensor decode_tensor(const wire_reader& vr, const wire_field& f,
                                                std::string_view tag) {
  auto tr = vr.nested(f, "TensorProto");
  std::int64_t code = 0;
  shape_t shape;
  std::span<const std::byte> content;
  std::vector<std::span<const std::byte>> strings;
  std::vector<std::uint64_t> vals[18];  // indexed by *_val field number
  std::uint32_t vals_field = 0;
  while (auto g = tr.next()) {
    switch (g->number) {
      case field::tensor_dtype:
        tr.expect(*g, wire_type::varint, "dtype");
        code = static_cast<std::int64_t>(static_cast<std::int32_t>(g->value));
        break;
      case field::tensor_shape:
        tr.expect(*g, wire_type::length_delimited, "tensor_shape");
        shape = decode_shape(tr, *g, tag);
        break;
      case field::tensor_content:
        tr.expect(*g, wire_type::length_delimited, "tensor_content");
        content = g->bytes;
        break;
      case field::tensor_string_val:
        tr.expect(*g, wire_type::length_delimited, "string_val");
        strings.push_back(g->bytes);
        break;
      case field::tensor_float_val:
        collect_repeated(tr, *g, 4, val_field_name(g->number), vals[g->number]);
        vals_field = g->number;
        break;
      case field::tensor_double_val:
        collect_repeated(tr, *g, 8, val_field_name(g->number), vals[g->number]);
        vals_field = g->number;
        break;
      case field::tensor_int_val: case field::tensor_int64_val: case field::tensor_bool_val:
      case field::tensor_half_val: case field::tensor_uint32_val: case field::tensor_uint64_val:
        collect_repeated(tr, *g, 0, val_field_name(g->number), vals[g->number]);
        vals_field = g->number;
        break;
      default:
        break;  // version_number, complex values, resource handles, unknown fields
    }
  }

  const auto fail = [&](const std::string& what) {
    tr.fail("tensor '" + std::string(tag) + "': " + what, f.offset);
  };
  std::uint64_t n = 0;
  try {
    n = element_count(shape);
  } catch (const format_error& e) {
    fail(std::string(e.what()) + " (shape " + shape_string(shape) + ")");
  }

  dtype t = dtype::string;
  if (code == 0) {
    if (!content.empty() || (strings.empty() && n != 0))
      fail("no dtype (DT_INVALID) and no string_val");
  } else if (auto d = from_tf_code(code)) {
    t = *d;
  } else {
    fail("unsupported dtype " + std::string(tf_code_name(code)) + " (code " +
         std::to_string(code) + ")");
  }

  if (t == dtype::string) {
    if (strings.size() != n)
      fail(std::to_string(strings.size()) + " string_val elements for shape " +
           shape_string(shape) + " (" + std::to_string(n) + " elements)");
    std::vector<std::string> s;
    s.reserve(strings.size());
    for (auto b : strings) s.push_back(to_string(b));
    return tdbg::tensor(std::move(shape), std::move(s));
  }

  const std::size_t width = dtype_size(t);
  if (!content.empty()) {
    if (content.size() % width != 0 || content.size() / width != n)
      fail("tensor_content of " + std::to_string(content.size()) + " bytes does not match shape " +
           shape_string(shape) + " of " + std::string(dtype_name(t)));
    if (t == dtype::boolean) {
      // Only 0 and 1 are valid bool objects in C++; numpy reads any non-zero byte as true.
      std::vector<std::byte> norm(content.begin(), content.end());
      for (auto& b : norm) b = b != std::byte{0} ? std::byte{1} : std::byte{0};
      return tdbg::tensor(t, std::move(shape), norm);
    }
    return tdbg::tensor(t, std::move(shape), content);
  }
  const std::uint32_t vf = val_field_of(t);
  const auto& v = vals[vf];
  if (v.size() != n) {
    if (v.empty() && vals_field != 0 && vals_field != vf)
      fail("dtype " + std::string(dtype_name(t)) + " stored in " +
           std::string(val_field_name(vals_field)) + ", expected " +
           std::string(val_field_name(vf)));
    fail(std::to_string(v.size()) + " " + std::string(val_field_name(vf)) +
         " elements and no tensor_content for shape " + shape_string(shape) + " (" +
         std::to_string(n) + " elements)");
  }
  std::vector<std::byte> bytes;
  visit_numeric(t, [&](auto tag_value) { append_converted<decltype(tag_value)>(v, bytes); });
  return tdbg::tensor(t, std::move(shape), bytes);
}

}  // namespace detail

/// Appends the serialized Event (not framed) exactly as smdebug writes it (spec §3.2): step
/// omitted when 0, dims named "<tag>_<size>", plugin data mode_step then mode, no dtype for
/// strings (one string_val per element), shape always present, proto3 defaults omitted.
/// Throws usage_error when `value`'s buffer does not match its shape.
inline void encode_tensor_event(std::vector<std::byte>& out, double wall_time, step_t step,
                                std::string_view tag, const tensor_ref& value, mode m,
                                step_t mode_step) {
  using namespace detail;
  value.validate(tag);

  std::vector<std::byte> shape;
  for (std::int64_t d : value.shape) {
    const std::string name = std::string(tag) + "_" + std::to_string(d);
    std::size_t dim = delimited_field_size(field::dim_name, name.size());
    if (d != 0) dim += 1 + varint_size(static_cast<std::uint64_t>(d));
    put_delimited_header(shape, field::shape_dim, dim);
    if (d != 0) {
      put_tag(shape, field::dim_size, wire_type::varint);
      put_varint(shape, static_cast<std::uint64_t>(d));
    }
    put_string_field(shape, field::dim_name, name);
  }

  const int code = to_tf_code(value.dtype);
  std::size_t tensor_size = delimited_field_size(field::tensor_shape, shape.size());
  if (code != 0) tensor_size += 1 + varint_size(static_cast<std::uint64_t>(code));
  if (value.dtype == dtype::string) {
    for (const auto& s : value.strings) tensor_size += delimited_field_size(field::tensor_string_val, s.size());
  } else if (!value.bytes.empty()) {
    tensor_size += delimited_field_size(field::tensor_content, value.bytes.size());
  }

  std::vector<std::byte> meta;
  put_plugin(meta, "mode_step", std::to_string(mode_step));
  put_plugin(meta, "mode", std::to_string(static_cast<int>(m)));

  std::size_t value_size = delimited_field_size(field::value_tensor, tensor_size) +
                           delimited_field_size(field::value_metadata, meta.size());
  if (!tag.empty()) value_size += delimited_field_size(field::value_tag, tag.size());
  const std::size_t summary_size = delimited_field_size(field::summary_value, value_size);

  reserve_more(out, 9 + 11 + delimited_field_size(field::event_summary, summary_size));
  const auto wall_bits = std::bit_cast<std::uint64_t>(wall_time);
  if (wall_bits != 0) {
    put_tag(out, field::event_wall_time, wire_type::fixed64);
    put_fixed64(out, wall_bits);
  }
  if (step != 0) {
    put_tag(out, field::event_step, wire_type::varint);
    put_varint(out, static_cast<std::uint64_t>(step));
  }
  put_delimited_header(out, field::event_summary, summary_size);
  put_delimited_header(out, field::summary_value, value_size);
  if (!tag.empty()) put_string_field(out, field::value_tag, tag);
  put_delimited_header(out, field::value_tensor, tensor_size);
  if (code != 0) {
    put_tag(out, field::tensor_dtype, wire_type::varint);
    put_varint(out, static_cast<std::uint64_t>(code));
  }
  put_bytes_field(out, field::tensor_shape, shape);
  if (value.dtype == dtype::string) {
    for (const auto& s : value.strings) put_string_field(out, field::tensor_string_val, s);
  } else if (!value.bytes.empty()) {
    put_bytes_field(out, field::tensor_content, value.bytes);
  }
  put_bytes_field(out, field::value_metadata, meta);
}

/// Decodes an Event payload holding one tensor. Throws format_error, whose message starts
/// with `context`, on malformed protobuf, an Event without summary, a Summary without exactly
/// one Value, a Value without tensor, an unsupported dtype ("unsupported dtype complex64
/// (code 8)"), element data not matching the shape, or plugin data that is not a number.
/// Never reads outside `payload`. Besides smdebug's tensor_content and string_val it accepts
/// the *_val fields of TensorFlow writers (one element per value) and DT_STRING (7).
/// Bool bytes other than 0/1 are read as true.
[[nodiscard]] inline tensor_event decode_tensor_event(std::span<const std::byte> payload,
                                                      std::string_view context) {
  using namespace detail;
  wire_reader er(payload, 0, context, "Event");
  tensor_event ev;
  std::optional<wire_field> summary;
  while (auto f = er.next()) {
    switch (f->number) {
      case field::event_wall_time:
        er.expect(*f, wire_type::fixed64, "wall_time");
        ev.wall_time = std::bit_cast<double>(f->value);
        break;
      case field::event_step:
        er.expect(*f, wire_type::varint, "step");
        ev.step = static_cast<step_t>(f->value);
        break;
      case field::event_summary:
        er.expect(*f, wire_type::length_delimited, "summary");
        summary = *f;
        break;
      default:
        break;
    }
  }
  if (!summary) er.fail("the Event holds no summary (not a tensor record)", 0);

  auto sr = er.nested(*summary, "Summary");
  std::optional<wire_field> value;
  std::size_t values = 0;
  while (auto f = sr.next()) {
    if (f->number != field::summary_value) continue;
    sr.expect(*f, wire_type::length_delimited, "value");
    if (values++ == 0) value = *f;
  }
  if (values != 1)
    sr.fail("the Summary holds " + std::to_string(values) + " values, expected 1",
            summary->offset);

  auto vr = sr.nested(*value, "Summary.Value");
  std::optional<wire_field> tensor_field, metadata;
  std::uint32_t other_kind = 0;
  while (auto f = vr.next()) {
    switch (f->number) {
      case field::value_tag:
        vr.expect(*f, wire_type::length_delimited, "tag");
        ev.tag = to_string(f->bytes);
        break;
      case field::value_tensor:
        vr.expect(*f, wire_type::length_delimited, "tensor");
        tensor_field = *f;
        break;
      case field::value_metadata:
        vr.expect(*f, wire_type::length_delimited, "metadata");
        metadata = *f;
        break;
      case 2: case 3: case 4: case 5: case 6:
        other_kind = f->number;
        break;
      default:
        break;
    }
  }
  if (!tensor_field)
    vr.fail("value '" + ev.tag + "' holds no tensor" +
                (other_kind ? " (it holds " + std::string(value_oneof_name(other_kind)) + ")"
                            : std::string()),
            value->offset);

  if (metadata) {
    auto mr = vr.nested(*metadata, "SummaryMetadata");
    while (auto f = mr.next()) {
      if (f->number != field::metadata_plugin_data) continue;
      mr.expect(*f, wire_type::length_delimited, "plugin_data");
      auto pr = mr.nested(*f, "SummaryMetadata.PluginData");
      std::string name;
      std::span<const std::byte> content;
      while (auto g = pr.next()) {
        if (g->number == field::plugin_name) {
          pr.expect(*g, wire_type::length_delimited, "plugin_name");
          name = to_string(g->bytes);
        } else if (g->number == field::plugin_content) {
          pr.expect(*g, wire_type::length_delimited, "content");
          content = g->bytes;
        }
      }
      if (name == "mode_step") {
        const auto v = parse_decimal(content);
        if (!v) pr.fail("plugin mode_step content '" + to_string(content) + "' is not an integer", f->offset);
        ev.mode_step = *v;
      } else if (name == "mode") {
        const auto v = parse_decimal(content);
        const auto m = v ? mode_from_int(*v) : std::nullopt;
        if (!m) pr.fail("plugin mode content '" + to_string(content) + "' is not a mode (1-4)", f->offset);
        ev.mode = *m;
      }
    }
  }

  ev.value = decode_tensor(vr, *tensor_field, ev.tag);
  return ev;
}

}  // namespace tdbg::io
