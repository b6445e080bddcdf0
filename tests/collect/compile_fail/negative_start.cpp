// Must not compile: a negative start step.
#include "tdbg/collect/config.hpp"
constexpr auto c = tdbg::collect::collection_config{"weights"}.include("weight").every(
    tdbg::collect::save_every(5).start(-1));
tdbg::collect::collections<c> set;
