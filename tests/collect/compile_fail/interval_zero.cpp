// Must not compile: save interval 0.
#include "tdbg/collect/config.hpp"
constexpr auto c = tdbg::collect::collection_config{"weights"}.include("weight").every(0);
tdbg::collect::collections<c> set;
