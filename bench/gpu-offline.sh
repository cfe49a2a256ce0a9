#!/usr/bin/env bash
# The GPU benchmark on a GPU machine that reaches no package index (a cluster node, a lent machine):
# the Python packages `python -m bench.gpu` needs beyond what a CUDA machine with PyTorch already has
# (onnxruntime-gpu, rasterio, affine) are packed here into parts small enough to copy one at a time,
# then unpacked there and the benchmark run.
#
#   bench/gpu-offline.sh pack            here, with pip's index: writes .gpu-offline/part-00, part-01, ...
#                                        and .gpu-offline/SHA256SUMS
#   bench/gpu-offline.sh receive         there, each time parts have arrived in .gpu-offline/: moves them
#                                        out of the checkout, to $FLAIR_GPU_STORE
#   bench/gpu-offline.sh run [ARGS...]   there: receives what is left, checks the parts, unpacks them
#                                        once and runs python3 -m bench.gpu ARGS (e.g. --out gpu.md)
#
# Settings (environment):
#   FLAIR_GPU_PACKAGES  what to pack (default below)
#   FLAIR_GPU_PYTHON    the GPU machine's Python version (3.12)
#   FLAIR_GPU_PART_MIB  size of a part in MiB (56: a part and a checkout of this repository under 64 MiB)
#   FLAIR_GPU_PARTS     the folder of parts in the checkout (.gpu-offline)
#   FLAIR_GPU_STORE     where the GPU machine keeps parts and the unpacked packages (/tmp/flair_gpu_offline)
#   PYTHON              the Python whose pip packs (the project's .venv when there is one) or runs (python3)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# onnxruntime-gpu 1.31 is built for CUDA 13 and cuDNN 9 (PyTorch's cu13x builds bring both); the engine's
# rasterio and affine; Dask for the sharded cases (run-plan), with the parts of its stack a PyTorch
# machine may lack or hold too old.
default_packages="onnxruntime-gpu==1.31.1 rasterio==1.4.3 affine==2.4.0 cligj==0.7.2 click-plugins==1.1.1
    dask==2026.8.0 distributed==2026.8.0 partd==1.4.2 locket==1.0.0 tornado==6.6.1 zict==3.0.0 tblib==3.2.2
    toolz==1.2.0 cloudpickle==3.1.3"
packages="${FLAIR_GPU_PACKAGES:-$default_packages}"
python_version="${FLAIR_GPU_PYTHON:-3.12}"
part_mib="${FLAIR_GPU_PART_MIB:-56}"
parts="${FLAIR_GPU_PARTS:-$repo/.gpu-offline}"
store="${FLAIR_GPU_STORE:-/tmp/flair_gpu_offline}"

say() { echo "gpu-offline: $*" >&2; }

pack() {
    local python="${PYTHON:-}"
    if [ -z "$python" ]; then
        if [ -x "$repo/.venv/bin/python" ]; then python="$repo/.venv/bin/python"; else python=python3; fi
    fi
    local site
    site="$(mktemp -d)"
    trap 'rm -rf "$site"' RETURN
    say "downloading $packages for CPython $python_version on x86-64 Linux"
    # shellcheck disable=SC2086  # the package list is a list
    "$python" -m pip install --quiet --no-deps --only-binary=:all: --implementation cp \
        --python-version "$python_version" --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --target "$site" $packages
    pack_site "$site"
}

# Pack the installed packages of folder $1 into $parts: one xz-compressed tar, split into parts.
pack_site() {
    rm -rf "$parts.partial"
    mkdir -p "$parts.partial"
    tar -C "$1" -cf - . | xz -T0 -6 | split -b "$((part_mib * 1048576))" -d -a 2 - "$parts.partial/part-"
    echo "$python_version" > "$parts.partial/PYTHON_VERSION"
    (cd "$parts.partial" && sha256sum part-* PYTHON_VERSION > SHA256SUMS)
    rm -rf "$parts"
    mv "$parts.partial" "$parts"
    local count
    count="$(find "$parts" -name 'part-*' | wc -l)"
    say "wrote $count parts of at most $part_mib MiB to $parts ($(du -sh "$parts" | cut -f1)); copy them to" \
        "the GPU machine's checkout, at .gpu-offline/, and run bench/gpu-offline.sh receive after each copy"
}

receive() {
    mkdir -p "$store"
    if [ -d "$parts" ]; then
        find "$parts" -maxdepth 1 -type f \( -name 'part-*' -o -name SHA256SUMS -o -name PYTHON_VERSION \) -exec mv -f {} "$store/" \;
    fi
    say "parts here: $(cd "$store" && find . -maxdepth 1 -name 'part-*' | sort | tr '\n' ' ')"
}

# xz's decompression, from Python's lzma where the xz program is missing.
unxz() {
    if command -v xz > /dev/null; then
        xz -d
    else
        "${PYTHON:-python3}" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer, 1 << 20)'
    fi
}

run() {
    receive
    local site="$store/site" python="${PYTHON:-python3}" packed here
    if [ -f "$store/PYTHON_VERSION" ]; then
        packed="$(cat "$store/PYTHON_VERSION")"
        here="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        if [ "$packed" != "$here" ]; then
            say "cannot run: the parts hold packages for Python $packed and $python is Python $here; pack" \
                "them again with FLAIR_GPU_PYTHON=$here"
            exit 2
        fi
    fi
    if [ ! -f "$site/.complete" ]; then
        if [ ! -f "$store/SHA256SUMS" ]; then
            say "cannot run: $store/SHA256SUMS has not arrived (copy .gpu-offline/ as bench/gpu-offline.sh pack wrote it)"
            exit 2
        fi
        if ! (cd "$store" && sha256sum --quiet -c SHA256SUMS); then
            say "cannot run: a part is missing or damaged (above); copy it again and rerun"
            exit 2
        fi
        rm -rf "$site"
        mkdir -p "$site"
        cat "$store"/part-* | unxz | tar -C "$site" -xf -
        touch "$site/.complete"
        say "unpacked into $site"
    fi
    cd "$repo"
    PYTHONPATH="$site:$repo${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m bench.gpu "$@"
}

case "${1:-}" in
    pack) pack ;;
    pack-site) pack_site "$2" ;;
    receive) receive ;;
    run) shift; run "$@" ;;
    *)
        sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
