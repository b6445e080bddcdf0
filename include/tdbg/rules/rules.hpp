// tdbg/rules/rules.hpp — the rule engine's vocabulary and rules in one include.
// Layer: rules. Includes every vocabulary header (selections, element-wise functions and
// operators, reductions, quantifiers and grouping, time shifts, windows/patience/then, across
// modes/workers/trials, the wall clock, save order) and rule.hpp (any_rule, make_rule). Runners, the trial and live data
// sources and actions have their own headers (runner.hpp, trial_source.hpp, live_source.hpp,
// actions.hpp); erased.hpp holds the type-erased nodes of trees composed at run time.
// docs/rules.md documents the semantics with an example per construct.
#pragma once

#include "tdbg/rules/across.hpp"
#include "tdbg/rules/axis.hpp"
#include "tdbg/rules/choose.hpp"
#include "tdbg/rules/classes.hpp"
#include "tdbg/rules/clock.hpp"
#include "tdbg/rules/context.hpp"
#include "tdbg/rules/erased.hpp"
#include "tdbg/rules/expr.hpp"
#include "tdbg/rules/history.hpp"
#include "tdbg/rules/ops.hpp"
#include "tdbg/rules/reduce.hpp"
#include "tdbg/rules/requirements.hpp"
#include "tdbg/rules/resolve.hpp"
#include "tdbg/rules/rule.hpp"
#include "tdbg/rules/save_order.hpp"
#include "tdbg/rules/select.hpp"
#include "tdbg/rules/sets.hpp"
#include "tdbg/rules/source.hpp"
#include "tdbg/rules/time.hpp"
#include "tdbg/rules/window.hpp"
