#!/usr/bin/env bash
# Build a newer libbpf from a newer Debian release's source package, for the benchmark
# comparison only (btfx never links libbpf):
#
#   scripts/build-libbpf.sh [DEST]     # DEST defaults to <repo>/corpus/libbpf-<suite>
#   python benches/bench.py --libbpf DEST/libbpf.so.1
#
# Why: Debian 12's libbpf1 is 1.1.2, whose btf__new only copies and indexes the BTF.
# libbpf 1.3 and later also check every type there (btf_sanity_check: type ids and
# string offsets in range, FUNC -> FUNC_PROTO). Debian 13's binary package needs a newer
# glibc than Debian 12 has, so its source package (BTFX_LIBBPF_SUITE, default trixie)
# is built here with the Makefile libbpf ships (-O2).
#
# The source comes from the Debian archive this machine's apt already uses, through a
# private apt configuration under DEST: no system file is changed, nothing is
# installed. Needs: apt-get, make, a C compiler, libelf-dev, zlib1g-dev, pkg-config.
# Idempotent: an existing DEST/libbpf.so.1 is kept.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
suite=${BTFX_LIBBPF_SUITE:-trixie}
dest=${1:-$repo/corpus/libbpf-$suite}

if [ -e "$dest/libbpf.so.1" ]; then
    echo "build-libbpf: $dest/libbpf.so.1 exists"
    exit 0
fi
for tool in apt-get make cc pkg-config; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build-libbpf: '$tool' not found" >&2
        exit 1
    fi
done

# The main Debian archive apt is configured with (not the security archive).
# shellcheck disable=SC2016 # apt's own $(FIELD) syntax, not the shell's
mirror=$(apt-get indextargets --format '$(ORIGIN) $(LABEL) $(REPO_URI)' |
    awk '$1 == "Debian" && $2 == "Debian" { print $3; exit }')
if [ -z "$mirror" ]; then
    echo "build-libbpf: apt has no Debian archive configured" >&2
    exit 1
fi

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
work="$dest/apt"
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
    >"$work/sources.list"
apt_opts=(
    -o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
    -o "APT::Sandbox::User=root"
)
apt-get "${apt_opts[@]}" -q update
(cd "$work/src" && apt-get "${apt_opts[@]}" -q source --download-only libbpf)

tarball=$(ls "$work"/src/libbpf_*.orig.tar.gz)
tar -xzf "$tarball" -C "$work/src"
srcdir=$(ls -d "$work"/src/libbpf-*/src)
make -C "$srcdir" -j"$(nproc)" OBJDIR="$work/build" >"$work/build.log" 2>&1 || {
    tail -20 "$work/build.log" >&2
    exit 1
}
cp -L "$work/build/libbpf.so.1" "$dest/libbpf.so.1"
echo "build-libbpf: $dest/libbpf.so.1 ($(basename "$tarball"))"
