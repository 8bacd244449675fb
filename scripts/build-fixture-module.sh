#!/usr/bin/env bash
# Build btfx's fixture kernel module (tests/fixtures/kfunc_module) against Debian kernels.
#
#   scripts/build-fixture-module.sh [-o OUTDIR] [KERNEL...]     # KERNEL defaults to "6.1 6.12"
#
# KERNEL is a series (6.1: the newest Debian amd64 kernel of that series known to apt, picked
# as scripts/fetch-corpus.sh does), SERIES-previous (the image before that: for 6.1 an
# earlier build of the same upstream release) or a release (6.1.0-55-amd64); see
# image_package in scripts/debian-kernel.sh. For each it `apt-get download`s (never
# installs) linux-headers-<release>, its -common package, its linux-kbuild package and the
# image package, unpacks them with `dpkg-deb -x` under the cache directory, and writes
#
#   OUTDIR/<release>/vmlinuz                  the bootable kernel (from the image package)
#   OUTDIR/<release>/vmlinux, vmlinux.btf     ELF from the bzImage (scripts/extract_vmlinux.py)
#                                             (these three are symlinks into the cache)
#   OUTDIR/<release>/split/btfx_kfuncs.ko     kbuild as usual: split BTF on that vmlinux
#   OUTDIR/<release>/standalone/btfx_kfuncs.ko  `pahole -J` without --btf_base (ids from 1),
#                                             then resolve_btfids against that BTF
#   OUTDIR/<release>/nobtf/btfx_kfuncs.ko     the linked module before any BTF step
#   OUTDIR/<release>/cross-<other>/btfx_kfuncs.ko  (when several kernels are built) compiled
#                                             for <release>, BTF split on <other>'s vmlinux
#   OUTDIR/<release>/build.env                what was used (package versions, pahole flags)
#   OUTDIR/<KERNEL> -> <release>              symlink (unless KERNEL is the release)
#
# The module BTF steps use the pahole flags kbuild itself passes for that kernel (recorded
# through a PAHOLE wrapper during the kbuild run) and that kernel's resolve_btfids: the 6.12
# linux-kbuild package ships it; for 6.1 it is built from Debian's linux-source-<series>
# (only tools/ is unpacked). The kbuild and source packages are taken at apt's candidate
# version: the archive keeps only the newest build of linux-kbuild-6.1, which headers
# packages accept (they depend on linux-kbuild-<series> >= their own version).
# OUTDIR defaults to $BTFX_CACHE/fixture; BTFX_CACHE defaults to
# ${XDG_CACHE_HOME:-~/.cache}/btfx and holds the downloads and unpacked trees. A kernel is
# rebuilt only when its package version, this script or the module source changed; runs
# sharing a cache wait for each other (flock).
#
# Needs (Debian packages): gcc gcc-12 make binutils dwarves (pahole) libelf-dev zlib1g-dev
# xz-utils dpkg apt python3 (+ the zstandard Python module for 6.12's zstd bzImage);
# `apt-get update` done. Works as any user.
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
# shellcheck source=scripts/debian-kernel.sh
. "$here/debian-kernel.sh"

cache=${BTFX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/btfx}
out=
while getopts o: opt; do
    case $opt in
        o) out=$OPTARG ;;
        *) echo "usage: $0 [-o OUTDIR] [KERNEL...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- 6.1 6.12
out=${out:-$cache/fixture}
python=${PYTHON:-python3}
src=$repo/tests/fixtures/kfunc_module
mod=btfx_kfuncs
jobs=${BTFX_JOBS:-2}

export PATH="$PATH:/usr/sbin:/sbin"
for tool in apt-cache apt-get dpkg-deb flock make gcc gcc-12 pahole objcopy strip "$python"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build-fixture-module: '$tool' not found (make deps installs what is needed)" >&2
        exit 1
    fi
done
mkdir -p "$cache/debs" "$out"
cache=$(cd "$cache" && pwd)
out=$(cd "$out" && pwd)
exec 9>"$cache/.fixture.lock"
flock 9

log() { echo "== $*" >&2; }

# fetch PACKAGE VERSION -> path of the cached .deb (downloaded once).
fetch() {
    local pkg=$1 version=$2 deb
    deb=$(find "$cache/debs" -maxdepth 1 -name "${pkg}_*.deb" | while read -r f; do
        [ "$(dpkg-deb -f "$f" Version)" = "$version" ] && echo "$f"; done | head -n1)
    if [ -z "$deb" ]; then
        apt_download "$cache/debs" "$pkg=$version"
        deb=$(find "$cache/debs" -maxdepth 1 -name "${pkg}_*.deb" | while read -r f; do
            [ "$(dpkg-deb -f "$f" Version)" = "$version" ] && echo "$f"; done | head -n1)
    fi
    [ -n "$deb" ] || { echo "build-fixture-module: could not download $pkg=$version" >&2; return 1; }
    echo "$deb"
}

# depends_matching DEB REGEX -> the first package name in DEB's Depends matching REGEX.
depends_matching() {
    dpkg-deb -f "$1" Depends | tr ',|' '\n' | awk '{ print $1 }' | grep -E "$2" | head -n1
}

# build_resolve_btfids SOURCE_PACKAGE VERSION -> path of a resolve_btfids binary built from
# that kernel source package (tools/bpf/resolve_btfids needs the tools/ subtree, and
# scripts/bpf_doc.py to generate libbpf's helper definitions).
build_resolve_btfids() {
    local pkg=$1 version=$2 dir deb tarball
    dir=$cache/resolve_btfids/$pkg-$version
    if [ ! -x "$dir/resolve_btfids" ]; then
        log "building resolve_btfids from $pkg $version"
        deb=$(fetch "$pkg" "$version")
        rm -rf "$dir" && mkdir -p "$dir/src" "$dir/obj"
        tarball=$(dpkg-deb -c "$deb" | awk '{ print $NF }' | grep -E '^\./usr/src/linux-source-.*\.tar\.xz$')
        dpkg-deb --fsys-tarfile "$deb" | tar -xO "$tarball" | xz -dc \
            | tar -x -C "$dir/src" --strip-components=1 --wildcards '*/tools/*' '*/scripts/bpf_doc.py'
        make -s -C "$dir/src/tools/bpf/resolve_btfids" OUTPUT="$dir/obj/" -j"$jobs" >&2
        cp "$dir/obj/resolve_btfids" "$dir/resolve_btfids"
        rm -rf "$dir/src" "$dir/obj"
    fi
    echo "$dir/resolve_btfids"
}

# prepare_kernel KERNEL -> sets kver, series, kdir (cache), objtree, version, resolve_btfids.
prepare_kernel() {
    local image headers common kbuild hdeb ideb tree
    image=$(image_package "$1")
    [ -n "$image" ] || { echo "build-fixture-module: no linux-image package for '$1' known to apt (apt-get update?)" >&2; return 1; }
    version=$(candidate_version "$image")
    kver=$(kernel_release "$image")
    series=$(cut -d. -f1,2 <<<"$kver")
    headers=linux-headers-$kver
    kdir=$cache/kernel/$kver
    tree=$kdir/tree
    objtree=$tree/usr/src/$headers
    if [ "$(cat "$kdir/complete" 2>/dev/null)" != "$version" ]; then
        log "$kver: fetching $image $version and its headers"
        rm -rf "$kdir" && mkdir -p "$tree"
        hdeb=$(fetch "$headers" "$version")
        common=$(depends_matching "$hdeb" '^linux-headers-.*-common$')
        kbuild=$(depends_matching "$hdeb" '^linux-kbuild-')
        dpkg-deb -x "$hdeb" "$tree"
        dpkg-deb -x "$(fetch "$common" "$version")" "$tree"
        dpkg-deb -x "$(fetch "$kbuild" "$(candidate_version "$kbuild")")" "$tree"
        # The headers Makefile includes the -common tree by its absolute /usr/src path.
        sed -i "s|^include /usr/src/|include $tree/usr/src/|" "$objtree/Makefile"
        ideb=$(fetch "$image" "$version")
        dpkg-deb --fsys-tarfile "$ideb" | tar -x -C "$kdir" --wildcards "./boot/vmlinuz-$kver"
        mv "$kdir/boot/vmlinuz-$kver" "$kdir/vmlinuz" && rmdir "$kdir/boot"
        "$python" "$here/extract_vmlinux.py" "$kdir/vmlinuz" "$kdir/vmlinux" "$kdir/vmlinux.btf" >/dev/null
        # Makefile.modfinal generates module BTF only when the objtree has a vmlinux with .BTF
        # (the 6.1 headers have none; the 6.12 one carries the same BTF as the image's).
        ln -sf "$kdir/vmlinux" "$objtree/vmlinux"
        echo "$version" >"$kdir/complete"
    fi
    resolve_btfids=$objtree/tools/bpf/resolve_btfids/resolve_btfids
    if [ ! -x "$resolve_btfids" ]; then
        local built
        built=$(build_resolve_btfids "linux-source-$series" "$(candidate_version "linux-source-$series")")
        mkdir -p "$(dirname "$resolve_btfids")"
        cp "$built" "$resolve_btfids"
    fi
}

# module_btf KO PAHOLE_FLAGS_FILE RESOLVE_BTFIDS [BASE_VMLINUX]: what Makefile.modfinal's
# cmd_btf_ko does (pahole -J + resolve_btfids), with --btf_base/-b only when a base is given.
module_btf() {
    local ko=$1 flags=$2 rb=$3 base=${4:-} pflags=()
    mapfile -t pflags <"$flags"
    if [ -n "$base" ]; then
        LLVM_OBJCOPY=objcopy pahole -J "${pflags[@]}" --btf_base "$base" "$ko"
        "$rb" -b "$base" "$ko"
    else
        LLVM_OBJCOPY=objcopy pahole -J "${pflags[@]}" "$ko"
        "$rb" "$ko"
    fi
}

stamp_of() {  # what a kernel's outputs depend on
    echo "$version"
    cat "${BASH_SOURCE[0]}" "$src/$mod.c" "$src/Kbuild" | sha256sum | cut -d' ' -f1
}

built_kvers=()
for spec in "$@"; do
    prepare_kernel "$spec"
    built_kvers+=("$kver")
    dest=$out/$kver
    stamp=$(stamp_of)
    [ "$spec" = "$kver" ] || ln -sfn "$kver" "$out/$spec"
    if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$stamp" ]; then
        log "$kver: fixture module up to date"
        continue
    fi
    log "$kver: building $mod"
    rm -rf "$dest" && mkdir -p "$dest"/{split,standalone,nobtf,kbuild}
    cp "$src/$mod.c" "$src/Kbuild" "$dest/kbuild/"
    # PAHOLE wrapper: records the flags kbuild passes to `pahole -J` and keeps a copy of the
    # linked module before its BTF is added.
    cat >"$dest/kbuild/pahole" <<WRAP
#!/bin/sh
if [ "\$1" = "-J" ]; then
    for a in "\$@"; do last=\$a; done
    cp "\$last" "$dest/nobtf/$mod.ko"
    for a in "\$@"; do echo "\$a"; done >"$dest/kbuild/pahole.args"
fi
exec pahole "\$@"
WRAP
    chmod +x "$dest/kbuild/pahole"
    make -s -C "$objtree" M="$dest/kbuild" PAHOLE="$dest/kbuild/pahole" -j"$jobs" modules >&2
    cp "$dest/kbuild/$mod.ko" "$dest/split/"
    # Flags between -J and --btf_base: PAHOLE_FLAGS (+ MODULE_PAHOLE_FLAGS on 6.12).
    awk 'NR > 1 && $0 == "--btf_base" { exit } NR > 1 { print }' "$dest/kbuild/pahole.args" \
        >"$dest/pahole.flags"
    cp "$dest/nobtf/$mod.ko" "$dest/standalone/"
    module_btf "$dest/standalone/$mod.ko" "$dest/pahole.flags" "$resolve_btfids"
    ln -s "$kdir/vmlinuz" "$kdir/vmlinux" "$kdir/vmlinux.btf" "$dest/"
    cp "$resolve_btfids" "$dest/resolve_btfids"
    {
        echo "KERNEL=$kver"
        echo "SERIES=$series"
        echo "VERSION=$version"
        echo "PAHOLE=$(pahole --version)"
        echo "PAHOLE_FLAGS=\"$(tr '\n' ' ' <"$dest/pahole.flags" | sed 's/ $//')\""
    } >"$dest/build.env"
    echo "$stamp" >"$dest/.stamp"
done

# Cross variants: each kernel's module with its BTF split on every other kernel's vmlinux.
for kver in "${built_kvers[@]}"; do
    dest=$out/$kver
    for other in "${built_kvers[@]}"; do
        [ "$other" != "$kver" ] || continue
        cross=$dest/cross-$other
        cstamp=$(cat "$dest/.stamp" "$out/$other/.stamp" | sha256sum | cut -d' ' -f1)
        [ "$(cat "$cross/.stamp" 2>/dev/null)" = "$cstamp" ] && continue
        log "$kver: $mod with BTF split on $other's vmlinux"
        rm -rf "$cross" && mkdir -p "$cross"
        cp "$dest/nobtf/$mod.ko" "$cross/"
        module_btf "$cross/$mod.ko" "$dest/pahole.flags" "$dest/resolve_btfids" "$out/$other/vmlinux"
        echo "$cstamp" >"$cross/.stamp"
    done
done
log "fixture modules in $out: ${built_kvers[*]}"
