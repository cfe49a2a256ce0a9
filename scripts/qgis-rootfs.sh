#!/usr/bin/env bash
# The newer QGIS releases the plugin is tested on, each in a Debian 13 (trixie) root filesystem built
# with debootstrap from Debian's own archive: QGIS 3.40 LTR (trixie) and QGIS 3.44 LTR (trixie-backports),
# with Python 3.13 and numpy 2. Inside each, Debian's rasterio (built on QGIS's GDAL) and /opt/flair-venv,
# which sees QGIS's packages and holds what the plugin's installer would add (ONNX Runtime) plus the test
# tools.
#
#   scripts/qgis-rootfs.sh build RELEASE          build (or reuse) the root filesystem; prints its path
#   scripts/qgis-rootfs.sh test RELEASE PATHS...  run pytest on PATHS of this checkout inside it
#
# RELEASE is 3.40 or 3.44. A root filesystem is cached in ~/.cache/flair_qgis (FLAIR_ENV_HOME moves it)
# under a name carrying a hash of what it is made of (this script, the plugin's requirements, the test
# tools), and rebuilt when that changes or when it is older than FLAIR_ROOTFS_MAX_AGE_DAYS (30), so that
# Debian's updates come in. Needs root (debootstrap, chroot, bind mounts).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cache="${FLAIR_ENV_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/flair_qgis}"
max_age_days="${FLAIR_ROOTFS_MAX_AGE_DAYS:-30}"
mirror="http://deb.debian.org/debian"
# The test tools of tests/requirements.txt that the plugin tests use (no lint, no torch in there).
test_tools=("pytest>=8" "pytest-qgis>=5,<6" "pytest-timeout" "mock" "onnx>=1.16" "psutil")

say() { printf '[qgis-rootfs] %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

usage() { die "usage: $0 build 3.40|3.44 | $0 test 3.40|3.44 PATHS..."; }

suite_for() {
    case "$1" in
        3.40) echo "trixie" ;;      # QGIS 3.40.x, Debian 13's own
        3.44) echo "trixie-backports" ;;
        *) die "unknown QGIS release '$1' (3.40 or 3.44)" ;;
    esac
}

rootfs_path() {
    local release="$1" hash
    hash="$( (cat "$0"; cat "$repo/flair_qgis/requirements.txt"; printf '%s\n' "${test_tools[@]}") \
        | sha256sum | cut -c1-12)"
    echo "$cache/rootfs-qgis$release-$hash"
}

# Anything mounted at or below $1 (the root filesystem must never be removed while /dev or /proc is
# bound inside it).
mounted_below() { awk -v root="$1" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/self/mounts; }

unmount_all() {
    local root="$1" point
    # Deepest first.
    for point in $(mounted_below "$root" | sort -r); do
        umount "$point" 2>/dev/null || umount -l "$point"
    done
}

mount_system() {
    local root="$1" point
    for point in proc sys dev dev/pts; do
        mkdir -p "$root/$point"
        mountpoint -q "$root/$point" || mount --bind "/$point" "$root/$point"
    done
}

remove_rootfs() {
    local root="$1"
    unmount_all "$root"
    if [ -n "$(mounted_below "$root")" ]; then
        die "$root still has mounts inside; not removing it"
    fi
    rm -rf --one-file-system "$root"
}

in_root() { chroot "$1" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive /bin/sh -c "$2"; }

fresh() {
    local root="$1"
    [ -f "$root/.complete" ] || return 1
    [ -z "$(find "$root/.complete" -mtime +"$max_age_days" 2>/dev/null)" ]
}

build() {
    local release="$1" suite root staging
    suite="$(suite_for "$release")"
    root="$(rootfs_path "$release")"
    if fresh "$root"; then
        echo "$root"
        return
    fi
    [ "$(id -u)" = 0 ] || die "building the QGIS $release root filesystem needs root (debootstrap, chroot)"
    command -v debootstrap >/dev/null 2>&1 || {
        say "installing debootstrap"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    }
    mkdir -p "$cache"
    staging="$root.building"
    [ -e "$staging" ] && remove_rootfs "$staging"
    trap 'unmount_all "'"$staging"'"' EXIT
    say "building QGIS $release ($suite) in $root (debootstrap + apt: a few minutes, about 3 GB)"
    debootstrap --variant=minbase trixie "$staging" "$mirror" >/dev/null
    echo "deb $mirror trixie main" > "$staging/etc/apt/sources.list"
    if [ "$suite" = trixie-backports ]; then
        echo "deb $mirror trixie-backports main" > "$staging/etc/apt/sources.list.d/backports.list"
    fi
    # This machine's certificate authorities (the package registries may be reached through them).
    mkdir -p "$staging/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$staging/usr/local/share/ca-certificates/" 2>/dev/null || true
    cp /etc/resolv.conf "$staging/etc/resolv.conf"
    mount_system "$staging"
    local target=""
    [ "$suite" = trixie-backports ] && target="-t trixie-backports"
    in_root "$staging" "apt-get update -qq && apt-get install -y -qq --no-install-recommends $target \
        qgis python3-qgis qgis-providers && apt-get install -y -qq --no-install-recommends \
        python3-rasterio ca-certificates xvfb xauth python3-venv python3-pip e2fsprogs >/dev/null \
        && update-ca-certificates >/dev/null" \
        >/dev/null
    cp "$repo/flair_qgis/requirements.txt" "$staging/tmp/plugin-requirements.txt"
    local tools
    tools="$(printf '"%s" ' "${test_tools[@]}")"
    # numpy stays the one Debian built QGIS and GDAL against, as the plugin's installer does.
    in_root "$staging" "python3 -m venv --system-site-packages /opt/flair-venv \
        && python3 -c 'import numpy; print(\"numpy==\" + numpy.__version__)' > /opt/flair-venv/constraints.txt \
        && /opt/flair-venv/bin/python -m pip install -q --no-input -c /opt/flair-venv/constraints.txt \
           -r /tmp/plugin-requirements.txt $tools"
    # rasterio is Debian's, on QGIS's GDAL (one GDAL per process: docs/gdal.md), not PyPI's wheel.
    in_root "$staging" "/opt/flair-venv/bin/python -c 'import qgis.core, numpy, rasterio, onnxruntime; \
        from osgeo import gdal; \
        print(\"QGIS\", qgis.core.Qgis.version(), \"numpy\", numpy.__version__, \"rasterio\", \
        rasterio.__version__, \"GDAL\", rasterio.__gdal_version__, \"onnxruntime\", onnxruntime.__version__); \
        assert rasterio.__gdal_version__ == gdal.__version__ and rasterio.__file__.startswith(\"/usr/lib/python3/\"), \
        rasterio.__file__'" >&2
    unmount_all "$staging"
    trap - EXIT
    touch "$staging/.complete"
    [ -e "$root" ] && remove_rootfs "$root"
    mv "$staging" "$root"
    local old
    for old in "$cache"/rootfs-qgis"$release"-*; do
        case "$old" in "$root" | *.building) continue ;; esac
        [ -d "$old" ] && { say "removing the outdated $old"; remove_rootfs "$old"; }
    done
    echo "$root"
}

run_tests() {
    local release="$1" root
    shift
    [ $# -gt 0 ] || usage
    root="$(build "$release")"
    [ "$(id -u)" = 0 ] || die "running tests in the QGIS $release root filesystem needs root (chroot)"
    # The checkout as git sees it (tracked files and untracked ones it does not ignore), copied afresh.
    rm -rf --one-file-system "$root/src"
    mkdir -p "$root/src"
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$root/src"
    trap 'unmount_all "'"$root"'"' EXIT
    mount_system "$root"
    local status=0 paths
    paths="$(printf '%q ' "$@")"
    in_root "$root" "mkdir -p -m 700 /tmp/runtime-root && cd /src && QT_QPA_PLATFORM=offscreen PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/src \
        XDG_RUNTIME_DIR=/tmp/runtime-root /opt/flair-venv/bin/python -m pytest -p no:cacheprovider \
        $paths" || status=$?
    unmount_all "$root"
    trap - EXIT
    return "$status"
}

[ $# -ge 2 ] || usage
case "$1" in
    build) build "$2" ;;
    test) release="$2"; shift 2; run_tests "$release" "$@" ;;
    *) usage ;;
esac
