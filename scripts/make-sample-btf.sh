#!/usr/bin/env bash
# Rebuilds python/btfx/data/sample.btf from scripts/sample/sample.c with real tools:
# gcc -g (DWARF), pahole -J (DWARF -> .BTF), objcopy (extract the section).
# Needs Debian packages: gcc, dwarves, binutils.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../python/btfx/data/sample.btf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -g -O1 -c "$here/sample/sample.c" -o "$tmp/sample.o"
pahole -J --btf_gen_all "$tmp/sample.o"
objcopy --dump-section .BTF="$out" "$tmp/sample.o" "$tmp/scratch.o"
echo "wrote $out ($(stat -c %s "$out") bytes)"
