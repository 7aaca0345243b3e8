#!/usr/bin/env bash
# The Dockerfile's build stage installs exactly dev.sh's package list, and its runtime stage
# provides every shared library the binary links that the slim base image lacks. (There is no
# container engine in CI: this checks the file, not an image.)
# usage: dockerfile_test.sh SOURCE_DIR BINARY
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
src=$1 bin=$2
fail() { echo "FAIL: $*" >&2; exit 1; }

dev=$(sed -n '/^packages=(/,/)/p' "$src/dev.sh" | tr -d '()' | sed 's/^packages=//' | tr -s ' \n' '\n' | sort -u | sed '/^$/d')
build_stage=$(sed -n '/^FROM debian:12 AS build/,/^FROM /p' "$src/Dockerfile")
docker_build=$(sed -n '/install -y/,/rm -rf/p' <<<"$build_stage" | grep -v 'install -y\|rm -rf' |
  tr -d '\\' | tr -s ' \n' '\n' | sort -u | sed '/^$/d')
[[ $dev == "$docker_build" ]] || fail "build stage packages differ from dev.sh: $(diff <(echo "$dev") <(echo "$docker_build") | tr '\n' ' ')"

runtime_stage=$(sed -n '/^FROM debian:12-slim/,$p' "$src/Dockerfile")
# Packages of debian:12-slim that the binary may rely on without installing them.
base="libc6 libstdc++6 libgcc-s1"
if command -v dpkg >/dev/null && command -v objdump >/dev/null; then
  for so in $(objdump -p "$bin" | awk '/NEEDED/ {print $2}'); do
    path=$(ldconfig -p | awk -v so="$so" '$1 == so && !found {print $NF; found = 1}')
    [[ -n $path ]] || continue
    # dpkg knows /usr/lib paths only (merged /usr): resolve the /lib link first.
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1) || true
    [[ -n $pkg ]] || continue
    [[ " $base " == *" $pkg "* ]] && continue
    [[ $pkg == lib[alt]san* || $pkg == libubsan* ]] && continue  # a sanitizer build's runtime
    grep -qw -- "$pkg" <<<"$runtime_stage" || fail "$so comes from $pkg, which the runtime stage does not install"
  done
fi
grep -qw ca-certificates <<<"$runtime_stage" || fail "runtime stage lacks ca-certificates"
grep -q '^USER ' <<<"$runtime_stage" || fail "runtime stage runs as root"
echo "Dockerfile test passed"
