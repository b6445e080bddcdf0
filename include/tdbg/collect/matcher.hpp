// tdbg/collect/matcher.hpp — which collections a tensor belongs to, decided once per name.
// Layer: collect; the only collect header that includes Boost.Regex.
// Regexes follow Python `re.search` (a match anywhere; Perl syntax incl. look-ahead); they are
// compiled once, and the membership of each tensor name is cached, so a repeated name costs one
// hash lookup and no regex evaluation.
#pragma once

#include <boost/regex.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tdbg/collect/collection.hpp"

namespace tdbg::collect {

/// Membership of tensor names in a fixed list of collections (indices into that list).
class matcher {
 public:
  /// Compiles every include_regex. Throws config_error naming the collection and the pattern.
  explicit matcher(const std::vector<collection>& cs) : colls_(cs.size()) {
    for (std::size_t i = 0; i < cs.size(); ++i) {
      for (const auto& p : cs[i].include_regex) {
        try {
          colls_[i].regexes.emplace_back(p, boost::regex::perl);
        } catch (const boost::regex_error& e) {
          throw config_error("collection '" + cs[i].name + "': invalid include_regex '" + p +
                             "': " + e.what());
        }
      }
      colls_[i].names.insert(cs[i].tensor_names.begin(), cs[i].tensor_names.end());
    }
  }

  /// Indices of the collections `tensor` belongs to (cached per name).
  [[nodiscard]] const std::vector<std::uint32_t>& members(std::string_view tensor) {
    if (const auto it = cache_.find(tensor); it != cache_.end()) return it->second;
    std::vector<std::uint32_t> m;
    for (std::size_t i = 0; i < colls_.size(); ++i)
      if (matches(i, tensor)) {
        m.push_back(static_cast<std::uint32_t>(i));
        colls_[i].matched.emplace_back(tensor);
      }
    return cache_.emplace(std::string(tensor), std::move(m)).first->second;
  }

  /// Adds `tensor` to collection `index` by name (smdebug's add_tensor_name).
  void add_name(std::size_t index, std::string_view tensor) {
    colls_.at(index).names.emplace(tensor);
    if (const auto it = cache_.find(tensor); it != cache_.end()) cache_.erase(it);
  }

  /// The names that matched collection `index` so far, in first-seen order (a name re-added
  /// with add_name may appear twice).
  [[nodiscard]] const std::vector<std::string>& matched(std::size_t index) const {
    return colls_.at(index).matched;
  }

  /// Number of regex evaluations so far (tests use it to prove the cache works).
  [[nodiscard]] std::uint64_t regex_evaluations() const noexcept { return evaluations_; }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct compiled {
    std::vector<boost::regex> regexes;
    std::unordered_set<std::string, string_hash, std::equal_to<>> names;
    std::vector<std::string> matched;
  };

  bool matches(std::size_t i, std::string_view tensor) {
    const auto& c = colls_[i];
    if (c.names.find(tensor) != c.names.end()) return true;
    for (const auto& re : c.regexes) {
      ++evaluations_;
      if (boost::regex_search(tensor.begin(), tensor.end(), re)) return true;
    }
    return false;
  }

  std::vector<compiled> colls_;
  std::unordered_map<std::string, std::vector<std::uint32_t>, string_hash, std::equal_to<>> cache_;
  std::uint64_t evaluations_ = 0;
};

}  // namespace tdbg::collect
