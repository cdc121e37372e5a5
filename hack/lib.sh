# shellcheck shell=bash
# Helpers sourced by hack/*.sh.

# test_funcs PREFIX prints "IMPORTPATH NAME", one a line, for every
# top-level func PREFIX* (Fuzz, Benchmark) in the module's test files; it
# fails when go list does.
test_funcs() {
  local prefix=$1 pkgs pkg dir
  pkgs=$(${GO:-go} list -f '{{.ImportPath}} {{.Dir}}' ./...) || return
  while read -r pkg dir; do
    # grep fails on a package with no such func, or no test files.
    { grep -hoE "^func ${prefix}[A-Za-z0-9_]+\(" "$dir"/*_test.go 2>/dev/null || true; } |
      awk -v pkg="$pkg" '{ sub(/^func /, ""); sub(/\($/, ""); print pkg, $0 }' | sort -u
  done <<<"$pkgs"
}
