// Must not compile: end step (exclusive) before the start step.
#include "tdbg/collect/config.hpp"
constexpr auto c = tdbg::collect::collection_config{"weights"}.include("weight").in(
    tdbg::mode::train, tdbg::collect::save_every(4).start(10).end(5));
tdbg::collect::collections<c> set;
