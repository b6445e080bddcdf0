// Must not compile: a collection without a name.
#include "tdbg/collect/config.hpp"
constexpr auto unnamed = tdbg::collect::collection_config{""}.include("x");
tdbg::collect::collections<unnamed> set;
