// Must compile: a valid set (proves the compile-fail harness reports real failures only).
#include "tdbg/collect/defaults.hpp"
constexpr auto weights = tdbg::collect::collection_config{"my_weights"}
                             .include("^(?!gradient).*weight")
                             .every(5)
                             .in(tdbg::mode::eval, tdbg::collect::save_every(10).steps({1, 6}).start(0).end(100))
                             .reductions({tdbg::reduction{tdbg::reduction_op::mean, true}})
                             .raw(false)
                             .shape(true);
tdbg::collect::collections<weights, tdbg::collect::defaults::gradients, tdbg::collect::defaults::losses> set;
static_assert(weights.has_mode[tdbg::mode_index(tdbg::mode::eval)]);
