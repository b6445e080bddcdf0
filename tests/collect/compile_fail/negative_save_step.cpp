// Must not compile: a negative explicit save step.
#include "tdbg/collect/config.hpp"
constexpr auto c = tdbg::collect::collection_config{"weights"}.include("weight").in(
    tdbg::mode::eval, tdbg::collect::save_every(5).steps({1, -6}));
tdbg::collect::collections<c> set;
