#!/usr/bin/env bash
# The main demo, from the repository root: a LibTorch training whose gradients vanish is stopped
# by a built-in rule, then the trial it wrote is inspected and checked with the tdbg tool.
#
#  1. builds, in build/release, the example examples/torch/bad_training_stops.cpp (LibTorch, the
#     hook, rules/vanishing_gradient.rule loaded at run time and attached to the hook with the stop
#     action) and the tdbg tool — about 3 minutes on 2 cores the first time (2 min 47 s measured from a
#     fresh clone, packages installed);
#  2. trains the deep sigmoid network: the rule fires on the first gradients it checks and the
#     training loop ends through hook.should_stop(), hundreds of steps early;
#  3. `tdbg ls` lists what the trial holds, and `tdbg check` runs the same rule file over the
#     written trial, offline, finding the same thing (exit status 1: a rule fired);
#  4. the same network with ReLU trains to the end: the rule finds no issue.
# The trials are written to a temporary directory, removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

cmake -S . -B build/release "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if ! cmake --build build/release --target help 2>/dev/null | grep -q tdbg_example_bad_training_stops; then
  echo "demo: LibTorch was not found (Debian package libtorch-dev): run ./scripts/install-deps.sh first" >&2
  exit 1
fi
echo "demo: building the example and the tdbg tool (a few minutes the first time)"
cmake --build build/release -j "$jobs" --target tdbg_example_bad_training_stops tdbg_cli

example=build/release/examples/torch/bad_training_stops
cli=build/release/tools/tdbg/tdbg
for exe in "$example" "$cli"; do
  if [ ! -x "$exe" ]; then
    echo "demo: $exe was not built" >&2
    exit 1
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() {
  echo
  echo "\$ $*"
  "$@"
}

run "$example" "$work/sigmoid" --steps 500
run "$cli" ls "$work/sigmoid"
status=0
run "$cli" check "$work/sigmoid" rules/vanishing_gradient.rule || status=$?
if [ "$status" -ne 1 ]; then
  echo "demo: tdbg check should have exited with 1 (the rule fired), got $status" >&2
  exit 1
fi
echo "(exit status $status: the rule fired on the written trial too)"
run "$example" "$work/relu" --steps 100 --activation relu
