// tdbg/tdbg.hpp — the umbrella header: all of tdbg's public API in one include.
// Layer: none (above every layer). Convenient, not lean: a binary that only saves tensors should
// include the layer headers it uses (core, collect, io, hook) and pay for nothing else.
#pragma once

#include "tdbg/core/dtype.hpp"
#include "tdbg/core/eigen.hpp"
#include "tdbg/core/error.hpp"
#include "tdbg/core/mode.hpp"
#include "tdbg/core/reduce.hpp"
#include "tdbg/core/reduction.hpp"
#include "tdbg/core/tensor.hpp"

#include "tdbg/storage/backend.hpp"
#include "tdbg/storage/local.hpp"
#include "tdbg/storage/memory.hpp"

#include "tdbg/io/io.hpp"

#include "tdbg/collect/collection.hpp"
#include "tdbg/collect/config.hpp"
#include "tdbg/collect/defaults.hpp"
#include "tdbg/collect/json_config.hpp"

#include "tdbg/hook/eigen.hpp"
#include "tdbg/hook/hook.hpp"
#include "tdbg/hook/json_config.hpp"

#include "tdbg/trial/trial.hpp"

#include "tdbg/rules/actions.hpp"
#include "tdbg/rules/attach.hpp"
#include "tdbg/rules/live_source.hpp"
#include "tdbg/rules/rules.hpp"
#include "tdbg/rules/runner.hpp"
#include "tdbg/rules/trial_source.hpp"

// Not included: tdbg/lang/ (Boost.Spirit X3, heavy to compile) — include tdbg/lang/parse.hpp
// in the one translation unit that loads .rule files.
