// tdbg/rules/resolve.hpp — turning a selection_spec into tensor names of a data source.
// Layer: rules (core, rules/source.hpp, rules/requirements.hpp, Boost.Regex).
//
// Contract: a name selection yields the name if the source knows it; a regex selection yields
// the known names in which the regex (Boost.Regex, perl syntax) matches somewhere (search
// semantics, like smdebug's re.search); a collection yields collection_tensor_names. The result
// is sorted and free of duplicates. An invalid regex is a config_error naming it.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <boost/regex.hpp>

#include "tdbg/core/error.hpp"
#include "tdbg/rules/requirements.hpp"
#include "tdbg/rules/source.hpp"

namespace tdbg::rules {

/// Compiles a selection regex; throws config_error with the pattern on a syntax error.
[[nodiscard]] inline std::shared_ptr<const boost::regex> compile_selection_regex(const std::string& pattern) {
  try {
    return std::make_shared<const boost::regex>(pattern, boost::regex::perl);
  } catch (const boost::regex_error& e) {
    throw config_error("invalid tensor regex '" + pattern + "': " + e.what());
  }
}

/// The names a selection picks in `src` now (sorted). `compiled` may pass the selection's
/// regex already compiled (nodes compile theirs once).
[[nodiscard]] inline std::vector<std::string> resolve_names(const data_source& src, const selection_spec& sel,
                                                            const boost::regex* compiled = nullptr) {
  std::vector<std::string> out;
  switch (sel.kind) {
    case selection_kind::name: {
      const auto all = src.tensor_names();
      if (std::binary_search(all.begin(), all.end(), sel.pattern)) out.push_back(sel.pattern);
      break;
    }
    case selection_kind::regex: {
      std::shared_ptr<const boost::regex> own;
      if (compiled == nullptr) {
        own = compile_selection_regex(sel.pattern);
        compiled = own.get();
      }
      for (auto& n : src.tensor_names())
        if (boost::regex_search(n, *compiled)) out.push_back(n);
      break;
    }
    case selection_kind::collection:
      out = src.collection_tensor_names(sel.pattern);
      break;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/// "tensor_named(\"loss\")", "tensors_matching(\"grad\")", "collection(\"gradients\")", with ".in(EVAL)" and
/// ".only_saved()" when set — the text of a selection in describe() output.
[[nodiscard]] inline std::string describe_selection(const selection_spec& sel) {
  std::string s;
  switch (sel.kind) {
    case selection_kind::name: s = "tensor_named"; break;
    case selection_kind::regex: s = "tensors_matching"; break;
    case selection_kind::collection: s = "collection"; break;
  }
  s += "(\"" + sel.pattern + "\")";
  if (sel.mode) s += ".in(" + std::string(mode_name(*sel.mode)) + ")";
  if (sel.only_saved) s += ".only_saved()";
  return s;
}

}  // namespace tdbg::rules
