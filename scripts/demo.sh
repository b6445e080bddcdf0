#!/usr/bin/env bash
# The quickstart demo, from the repository root: builds the example and the CLI in build/release,
# runs the example (a training loop that saves a trial with the hook) and lists the trial with
# `tdbg ls`. The trial is written to a temporary directory, removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc 2>/dev/null || echo 2)
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

cmake -S . -B build/release "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$jobs" --target tdbg_example_quickstart tdbg_cli

example=build/release/examples/quickstart
cli=build/release/tools/tdbg/tdbg
for exe in "$example" "$cli"; do
  if [ ! -x "$exe" ]; then
    echo "demo: $exe was not built" >&2
    exit 1
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "\$ $example $work/trial"
"$example" "$work/trial"
echo
echo "\$ $cli ls $work/trial"
"$cli" ls "$work/trial"
