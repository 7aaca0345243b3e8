#!/usr/bin/env bash
# The project's two entry points (see README): `./dev.sh demo` and `./dev.sh test`.
# Each installs the Debian 12 packages it needs when missing, (re)builds what changed, and runs.
set -euo pipefail
cd "$(dirname "$0")"

packages=(build-essential cmake ninja-build libboost1.81-dev libssl-dev libsimdjson-dev
          libgtest-dev libcli11-dev openssl ca-certificates help2man)
test_packages=(clang libclang-rt-14-dev wrk tinyproxy-bin dpkg-dev)

ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "dev.sh: installing ${missing[*]}" >&2
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# configure DIR [cmake args...]: configure once (and again only if the arguments change).
configure() {
  local dir=$1; shift
  local stamp="$dir/.dev-args" args="$*"
  if [[ ! -f $dir/build.ninja || ! -f $stamp || $(<"$stamp") != "$args" ]]; then
    cmake -S . -B "$dir" -G Ninja "$@"
    printf '%s' "$args" >"$stamp"
  fi
}

jobs=${JOBS:-$(nproc)}

case "${1:-}" in
  demo)
    ensure_packages "${packages[@]}"
    configure build -DRELICENSE_WERROR=ON
    cmake --build build --target relicense -j "$jobs"
    exec build/bin/relicense demo
    ;;
  test)
    ensure_packages "${packages[@]}" "${test_packages[@]}"
    start=$SECONDS
    configure build -DRELICENSE_WERROR=ON
    cmake --build build -j "$jobs"
    echo "dev.sh: build took $((SECONDS - start)) s" >&2
    ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300
    echo "dev.sh: build + tests took $((SECONDS - start)) s" >&2
    # The same suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
    configure build-asan -DRELICENSE_WERROR=ON -DRELICENSE_SANITIZE=ON -DRELICENSE_BUILD_BENCH=ON
    cmake --build build-asan -j "$jobs"
    # The sanitizers exit with 86, not their default 1 (relicense's "some rows failed"), so a
    # child's memory error or leak can never pass for an expected exit code.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=86 LSAN_OPTIONS=exitcode=86 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=86 \
      ctest --test-dir build-asan --output-on-failure -j "$jobs" --timeout 600
    echo "dev.sh: all done in $((SECONDS - start)) s" >&2
    ;;
  *)
    echo "usage: ./dev.sh demo | ./dev.sh test" >&2
    exit 2
    ;;
esac
