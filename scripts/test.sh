#!/usr/bin/env bash
# Builds tdbg and runs its whole test suite twice, from the repository root:
#   build/release  RelWithDebInfo
#   build/asan     Debug, clang 14, AddressSanitizer + UndefinedBehaviorSanitizer (TDBG_SANITIZE=ON),
#                  without LibTorch, the examples, and the packaging and header-check test layers
# Both runs always happen; the script exits non-zero if either fails, and its last line sums up
# both. Release uses CMake's default compiler (g++) or $CXX; the sanitizer build uses clang++ unless $CXX is set.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

jobs=$(nproc 2>/dev/null || echo 2)
ctest_jobs=$((jobs < 2 ? 2 : jobs))   # tests are partly I/O-bound: at least two at a time
generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

# run_build <name> <cmake args...>: configure, build and test build/<name>; records the outcome.
declare -A result
run_build() {
  local name=$1; shift
  local dir="build/$name" start=$SECONDS stage=configure
  echo "==> $name: configure ($*)"
  if cmake -S . -B "$dir" "${generator[@]}" "$@"; then
    stage=build
    echo "==> $name: build (-j$jobs)"
    if cmake --build "$dir" -j "$jobs"; then
      stage="test"
      echo "==> $name: test (-j$ctest_jobs)"
      if ctest --test-dir "$dir" -j "$ctest_jobs" --output-on-failure; then
        stage=""
      fi
    fi
  fi
  local took=$((SECONDS - start))
  if [ -z "$stage" ]; then
    result[$name]="$name passed (${took}s)"
    return 0
  fi
  result[$name]="$name FAILED at $stage (${took}s)"
  return 1
}

status=0
run_build release -DCMAKE_BUILD_TYPE=RelWithDebInfo || status=1

# Benchmarks are compiled (and smoke-tested, if they register tests) in the release build only.
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The sanitizer build uses clang 14, so every run also proves that both compilers build tdbg
# (g++ 12 above, clang 14 here) with warnings as errors.
asan_cxx=()
if [ -z "${CXX:-}" ] && command -v clang++ >/dev/null 2>&1; then asan_cxx=(-DCMAKE_CXX_COMPILER=clang++); fi
# LibTorch (a g++-built binary library) is left out of the sanitizer build: its integration and
# examples are built and tested in the release build.
# The examples (run as tests in the release build) are left out of it too, to keep CI's time down,
# and so are two test layers that check the build, not tdbg's code: packaging (tests/cmake, which
# builds consumer projects without sanitizers) and header self-containment (tests/headers, pure
# compile checks).
run_build asan -DCMAKE_BUILD_TYPE=Debug -DTDBG_SANITIZE=ON -DTDBG_BUILD_BENCHMARKS=OFF -DTDBG_BUILD_EXAMPLES=OFF -DTDBG_WITH_TORCH=OFF "-DTDBG_SKIP_TEST_LAYERS=cmake;headers" "${asan_cxx[@]}" || status=1

echo "test.sh: ${result[release]}; ${result[asan]}; total ${SECONDS}s"
exit $status
