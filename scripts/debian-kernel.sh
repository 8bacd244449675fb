# shellcheck shell=bash
# Debian kernel package selection shared by fetch-corpus.sh and build-fixture-module.sh.
# Source it; it defines functions only.

# newest_image_package SERIES [N] -> the newest (or N-th newest) linux-image package of that
# series for amd64 known to apt, or nothing. ABI-numbered (6.1.0-56) or Debian-versioned (6.12.117+deb12)
# releases, generic flavour; the -unsigned package is preferred (same modules, bzImage
# without the EFI signature).
newest_image_package() {
    local re_series=${1//./\\.} names
    local re="^linux-image-${re_series}\.[0-9]+(-[0-9]+|\+deb[0-9]+)-amd64"
    names=$(apt-cache search --names-only "^linux-image-${re_series}\." 2>/dev/null | cut -d' ' -f1)
    {
        grep -E "${re}-unsigned\$" <<<"$names" || grep -E "${re}\$" <<<"$names" || true
    } | sort -V | tail -n"${2:-1}" | head -n1
}

# image_package SPEC -> the image package for SPEC: a series ("6.1": the newest), a series
# with "-previous" ("6.1-previous": the one before the newest, typically an earlier build of
# the same upstream release) or a kernel release ("6.1.0-55-amd64"); nothing if unknown.
image_package() {
    local spec=$1 p
    case $spec in
        *-previous)
            newest_image_package "${spec%-previous}" 2 ;;
        *.*.*)
            for p in "linux-image-$spec-unsigned" "linux-image-$spec"; do
                if [ -n "$(candidate_version "$p")" ]; then
                    echo "$p"
                    return
                fi
            done ;;
        *)
            newest_image_package "$spec" ;;
    esac
}

# candidate_version PACKAGE -> the version apt would install, or nothing.
candidate_version() {
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" { print $2 }'
}

# kernel_release IMAGE_PACKAGE -> e.g. 6.1.0-56-amd64
kernel_release() {
    local kver=${1#linux-image-}
    echo "${kver%-unsigned}"
}

# apt_download DIR PACKAGE=VERSION... -> downloads the .debs into DIR (nothing is installed).
apt_download() {
    local dir=$1 sandbox=()
    shift
    # apt's download sandbox user cannot write into a private directory; as root, skip it.
    [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
    (cd "$dir" && apt-get -q download "${sandbox[@]}" "$@" >/dev/null)
}
