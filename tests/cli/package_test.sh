#!/usr/bin/env bash
# cpack -G DEB into a temporary directory: the package declares its dependencies (every shared
# library the binary needs, and the CA store) and holds the binary, the man page and the
# completion; the packaged binary runs.
# usage: package_test.sh BUILD_DIR VERSION CPACK HAS_MAN(ON|OFF)
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=$1 version=$2 cpack=$3 has_man=$4
if ! command -v dpkg-deb >/dev/null; then
  echo "dpkg-deb not found: skipped"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$cpack" -G DEB -B "$out" --config "$build/CPackConfig.cmake" >"$out/cpack.log" 2>&1 ||
  { cat "$out/cpack.log" >&2; fail "cpack failed"; }
debs=("$out"/relicense_*.deb)
[[ -f ${debs[0]} ]] || fail "no relicense_*.deb in $(ls "$out")"
deb=${debs[0]}

info=$(dpkg-deb -I "$deb")
grep -q "^ Package: relicense$" <<<"$info" || fail "Package field: $info"
grep -q "^ Version: $version$" <<<"$info" || fail "Version field: $info"
depends=$(sed -n 's/^ Depends: //p' <<<"$info")
declares() { [[ ", $depends," == *", $1 "* || ", $depends," == *", $1,"* ]]; }
for lib in libc6 libssl3 libstdc++6 libgcc-s1 libsimdjson14 ca-certificates; do
  declares "$lib" || fail "Depends lacks $lib: '$depends'"
done
# Every library the binary links is provided by a declared package.
if command -v dpkg >/dev/null; then
  for so in $(objdump -p "$build/bin/relicense" 2>/dev/null | awk '/NEEDED/ {print $2}'); do
    path=$(ldconfig -p | awk -v so="$so" '$1 == so && !found {print $NF; found = 1}')
    [[ -n $path ]] || continue
    # dpkg knows /usr/lib paths only (merged /usr): resolve the /lib link first.
    pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1) || true
    [[ -z $pkg ]] || declares "$pkg" || fail "$so comes from $pkg, not in Depends '$depends'"
  done
fi

contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/relicense ./usr/share/bash-completion/completions/relicense; do
  grep -q " $f$" <<<"$contents" || fail "$f not in the package"
done
if [[ $has_man == ON ]]; then
  grep -q " ./usr/share/man/man1/relicense.1.gz$" <<<"$contents" || fail "man page not in the package"
fi

dpkg-deb -x "$deb" "$out/root"
ran=$("$out/root/usr/bin/relicense" --version)
[[ $ran == "relicense $version" ]] || fail "packaged binary says '$ran'"
echo "package test passed: $(basename "$deb"), Depends: $depends"
