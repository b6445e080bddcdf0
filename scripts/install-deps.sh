#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, test and demo tdbg. Run from anywhere, as root
# (or as a user who has sudo). Idempotent: when everything is installed it changes nothing and
# does not touch the network.
set -euo pipefail

packages=(
  build-essential g++ clang          # compilers: g++ 12 (release build) and clang 14 (sanitizer build, fuzzing)
  libclang-rt-14-dev                 # clang's sanitizer and libFuzzer runtimes
  cmake ninja-build pkg-config       # build system; pkg-config for the tdbg.pc test
  libeigen3-dev                      # Eigen 3.4 (Tensor module)
  libboost1.81-dev                   # Boost 1.81: Spirit X3, Regex (header-only)
  librange-v3-dev                    # range-v3 0.12
  libfmt-dev                         # fmt 9.1
  nlohmann-json3-dev                 # nlohmann_json 3.11 (JSON parsing)
  catch2                             # Catch2 2.13 (tests)
  libcli11-dev                       # CLI11 2.1 (the tdbg command-line tool)
  protobuf-compiler                  # protoc: checks tdbg's protobuf wire encoding in tests
  libssl-dev                         # OpenSSL
  libtorch-dev                       # LibTorch 1.13 (CPU): the tdbg::torch integration and its examples
  dataset-fashion-mnist              # Fashion-MNIST idx files for the LibTorch examples
  zlib1g-dev                         # zlib: the examples read Fashion-MNIST's gzip'd idx files
  git ca-certificates
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -qx 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi

if ! grep -qs '^VERSION_ID="12"' /etc/os-release; then
  echo "install-deps: warning: tdbg targets Debian 12 (bookworm); package names may differ here" >&2
fi

echo "install-deps: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
