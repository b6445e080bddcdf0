// Must not compile: two collections named "weights".
#include "tdbg/collect/defaults.hpp"
constexpr auto mine = tdbg::collect::collection_config{"weights"}.include("w$").every(10);
tdbg::collect::collections<tdbg::collect::defaults::weights, mine> set;
