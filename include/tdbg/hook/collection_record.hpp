// tdbg/hook/collection_record.hpp — run-time collections ↔ the records of the collections file.
// Layer: hook (collect + io). It lives here, not in collect/, because collect may depend on core
// only; a reader that needs the same conversion can move it to a layer above both.
#pragma once

#include "tdbg/collect/collection.hpp"
#include "tdbg/io/collections_file.hpp"

namespace tdbg {

/// The record of `c` as stored in a collections file (save_config modes in TRAIN, EVAL, PREDICT,
/// GLOBAL order, as smdebug's SaveConfig writes them). `tensor_names` is written as given (the
/// io layer sorts it).
[[nodiscard]] inline io::collection_record to_collection_record(const collect::collection& c) {
  io::collection_record r;
  r.name = c.name;
  r.include_regex = c.include_regex;
  r.tensor_names = c.tensor_names;
  if (c.reductions)
    r.reduction_config = io::reduction_config_record{
        c.reductions->save_raw_tensor, collect::reductions_string(c.reductions->reductions),
        c.reductions->save_shape};
  if (c.save) {
    r.save_config.emplace();
    for (mode m : all_modes) {
      std::optional<io::save_config_mode_record> mr;
      if (const auto& s = (*c.save)[m])
        mr = io::save_config_mode_record{s->save_interval, s->save_steps, s->start_step, s->end_step};
      r.save_config->emplace_back(m, std::move(mr));
    }
  }
  r.save_histogram = c.save_histogram;
  return r;
}

/// The collection a record describes. Throws config_error (naming the collection) on an unknown
/// reduction name.
[[nodiscard]] inline collect::collection from_collection_record(const io::collection_record& r) {
  collect::collection c;
  c.name = r.name;
  c.include_regex = r.include_regex;
  c.tensor_names = r.tensor_names;
  if (r.reduction_config)
    c.reductions = collect::reduction_config{
        r.reduction_config->save_raw_tensor,
        collect::parse_reductions(r.reduction_config->reductions, "collection '" + r.name + "'"),
        r.reduction_config->save_shape};
  if (r.save_config) {
    collect::save_config s;
    for (const auto& [m, mr] : *r.save_config)
      if (mr) s[m] = collect::save_config_mode{mr->save_interval, mr->save_steps, mr->start_step, mr->end_step};
    c.save = std::move(s);
  }
  c.save_histogram = r.save_histogram;
  return c;
}

}  // namespace tdbg
