#!/usr/bin/env bash
# Fetch btfx's real-kernel test corpus from Debian's kernel image packages.
#
#   scripts/fetch-corpus.sh [DEST]            # DEST defaults to <repo>/corpus (git-ignored)
#   BTFX_CORPUS_KERNELS="6.1 6.12" scripts/fetch-corpus.sh
#   BTFX_CORPUS_BPF_PACKAGES="libxdp1 golang-github-cilium-ebpf-dev" scripts/fetch-corpus.sh  (default)
#
# For each kernel series (default: 6.1) it picks the newest Debian image package of that
# series for amd64 known to apt (linux-image-6.1.0-<abi>-amd64-unsigned,
# linux-image-6.12.<n>+deb12-amd64-unsigned; these carry /boot/vmlinuz-* and all modules),
# downloads it with `apt-get download` into a temporary directory (nothing is installed),
# unpacks it with `dpkg-deb -x` into DEST/<kernel>/deb, and runs scripts/build_corpus.py,
# which writes DEST/<kernel>/{vmlinux,vmlinux.btf,modules/,bpftool/,MANIFEST.json}.
#
# It also unpacks Debian packages that ship clang-built BPF objects (ELF with .BTF, as
# compiled, before libbpf fixes up their DATASECs) into DEST/bpf-objects/<package>/, with
# the package version in DEST/bpf-objects/<package>.version.
#
# Idempotent: a kernel whose MANIFEST.json matches the package version is skipped, so a
# re-run with everything present only costs a few apt-cache look-ups.
# Needs: apt (with `apt-get update` done), dpkg-deb, bpftool, python3 (+ zstandard for
# zstd-compressed images or modules).  Works as any user; only `apt-get update` needs root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
dest=${1:-$repo/corpus}
kernels=${BTFX_CORPUS_KERNELS:-6.1}
bpf_packages=${BTFX_CORPUS_BPF_PACKAGES-libxdp1 golang-github-cilium-ebpf-dev}
python=${PYTHON:-python3}

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# shellcheck source=scripts/debian-kernel.sh
. "$here/debian-kernel.sh"

export PATH="$PATH:/usr/sbin:/sbin"
for tool in apt-cache apt-get dpkg-deb bpftool "$python"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "fetch-corpus: '$tool' not found (make deps installs what is needed)" >&2
        exit 1
    fi
done


now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

cached_kernel_dir() {  # for offline re-runs: a complete corpus of that series
    local series=$1 m
    for m in "$dest"/*/MANIFEST.json; do
        [ -e "$m" ] || continue
        if "$python" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])).get("series") != sys.argv[2])' \
            "$m" "$series"; then
            dirname "$m"
        fi
    done | sort -V | tail -n1
}

status=0
for series in $kernels; do
    t0=$(now)
    pkg=$(newest_image_package "$series")
    if [ -z "$pkg" ]; then
        kdir=$(cached_kernel_dir "$series")
        if [ -n "$kdir" ]; then
            echo "== $series: no package known to apt; using existing $kdir"
            continue
        fi
        echo "fetch-corpus: no linux-image-$series.*-amd64 package found (run apt-get update?)" >&2
        status=1
        continue
    fi
    version=$(candidate_version "$pkg")
    kver=$(kernel_release "$pkg")
    kdir=$dest/$kver

    if "$python" "$here/build_corpus.py" is-complete "$kdir" --version "$version"; then
        echo "== $kver ($pkg $version): up to date"
        continue
    fi
    echo "== $kver ($pkg $version)"
    mkdir -p "$kdir"

    # deb/ is the unpacked package; deb.version says which version it is.
    if [ -d "$kdir/deb" ] && [ "$(cat "$kdir/deb.version" 2>/dev/null)" != "$version" ]; then
        rm -rf "$kdir/deb" "$kdir/deb.version"
    fi
    if [ ! -d "$kdir/deb" ]; then
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/btfx-corpus.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        t=$(now)
        apt_download "$tmp" "$pkg=$version"
        deb=$(ls "$tmp"/*.deb)
        echo "  download: $(du -h "$deb" | cut -f1) in $(secs "$t" "$(now)")s"
        t=$(now)
        rm -rf "$kdir/deb.partial"
        dpkg-deb -x "$deb" "$kdir/deb.partial"
        mv "$kdir/deb.partial" "$kdir/deb"
        echo "$version" >"$kdir/deb.version"
        rm -rf "$tmp"
        trap - EXIT
        echo "  dpkg-deb -x: $(du -sh "$kdir/deb" | cut -f1) in $(secs "$t" "$(now)")s"
    fi

    if ! "$python" "$here/build_corpus.py" build "$kdir" \
        --kernel "$kver" --series "$series" --package "$pkg" --version "$version"; then
        status=1
        continue
    fi
    echo "  done: $(du -sh "$kdir" | cut -f1) in $(secs "$t0" "$(now)")s"
done

# BPF objects: each package unpacked whole (they are small); a package unknown to apt
# keeps what an earlier run unpacked.
for pkg in $bpf_packages; do
    pdir=$dest/bpf-objects/$pkg
    version=$(candidate_version "$pkg")
    if [ -z "$version" ]; then
        if [ -d "$pdir" ]; then
            echo "== $pkg: no package known to apt; using existing $pdir"
        else
            echo "fetch-corpus: package $pkg not found (run apt-get update?)" >&2
            status=1
        fi
        continue
    fi
    if [ -d "$pdir" ] && [ "$(cat "$pdir.version" 2>/dev/null)" = "$version" ]; then
        echo "== $pkg $version: up to date"
        continue
    fi
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/btfx-corpus.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    apt_download "$tmp" "$pkg=$version"
    rm -rf "$pdir" "$pdir.partial"
    mkdir -p "$dest/bpf-objects"
    dpkg-deb -x "$tmp"/*.deb "$pdir.partial"
    mv "$pdir.partial" "$pdir"
    echo "$version" >"$pdir.version"
    rm -rf "$tmp"
    trap - EXIT
    echo "== $pkg $version: $(find "$pdir" -type f \( -name '*.o' -o -name '*.elf' \) | wc -l) BPF objects"
done
exit $status
