#!/usr/bin/env bash
# cmake --install into a temporary prefix: the binary runs and prints the project's version, the
# man page renders without warnings, and the bash completion completes subcommands and options.
# usage: install_test.sh BUILD_DIR VERSION HAS_MAN(ON|OFF)
set -euo pipefail
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2' ERR
build=$1 version=$2 has_man=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null

[[ -x $prefix/bin/relicense ]] || fail "bin/relicense not installed"
out=$("$prefix/bin/relicense" --version)
[[ $out == "relicense $version" ]] || fail "--version says '$out', expected 'relicense $version'"

completion=$prefix/share/bash-completion/completions/relicense
[[ -f $completion ]] || fail "bash completion not installed"

if [[ $has_man == ON ]]; then
  page=$prefix/share/man/man1/relicense.1.gz
  [[ -f $page ]] || fail "man page not installed"
  if command -v groff >/dev/null; then
    warnings=$(zcat "$page" | groff -man -Tutf8 -ww -z 2>&1) || fail "groff failed: $warnings"
    [[ -z $warnings ]] || fail "groff warnings: $warnings"
  fi
  text=$(zcat "$page")
  for want in 'Exit codes' 'RELICENSE_CALLER' 'relicense\\-project' 'apply'; do
    grep -q -- "$want" <<<"$text" || fail "man page lacks '$want'"
  done
else
  echo "help2man was not found at configure time: man page not checked"
fi

# complete WORDS...: the completions bash offers for the last word.
complete_words() {
  PATH="$prefix/bin:$PATH" bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _relicense; printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}
got=$(complete_words relicense ap)
[[ $got == apply ]] || fail "'relicense ap<TAB>' gives '$got'"
got=$(complete_words relicense apply x.csv --report-f)
[[ $got == --report-format ]] || fail "'relicense apply x.csv --report-f<TAB>' gives '$got'"
got=$(complete_words relicense apply x.csv --mode '' | tr '\n' ' ')
[[ $got == "put batch auto " ]] || fail "'--mode <TAB>' gives '$got'"
got=$(complete_words relicense verify x.csv --conc)
[[ -z $got ]] || fail "verify offers '$got', an apply option"
got=$(complete_words relicense plan x.csv --re)
[[ -z $got ]] || fail "plan offers '$got' (from the help's footer?)"
got=$(complete_words relicense lic)
[[ $got == licenses ]] || fail "'relicense lic<TAB>' gives '$got'"
got=$(complete_words relicense licenses --org 1 --se)
[[ $got == --serial ]] || fail "'relicense licenses --se<TAB>' gives '$got'"
got=$(complete_words relicense orgs '')
[[ -z $got ]] || fail "orgs offers '$got' as an argument"
echo "install test passed"
