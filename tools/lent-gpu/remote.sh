#!/usr/bin/env bash
# On the lent GPU machine: collect the parts pack.py made, unpack them, and set up the environment that
# serves vLLM from them over the machine's own Python (see README.md beside this script).
#
#   bash tools/lent-gpu/remote.sh receive   copy the parts carried with this command to $LENT_GPU_HOME, check them
#   bash tools/lent-gpu/remote.sh unpack    once every part is there: join, unpack, write env.sh and the shims
#   source "$LENT_GPU_HOME/env.sh"          then `vllm` and `invoke` run from the unpacked folder
#
# Wheels carried beside the parts (lent-gpu-parts/*.whl, e.g. xformers: issue 22's encoder lever) are unzipped
# by `receive` into $LENT_GPU_HOME/opt/NAME, each its own folder, off PYTHONPATH: a run opts in by putting
# that folder first (steady.sh's WITH=NAME), so one machine measures both environments.
#
# Exit codes: 0 done; 1 a part is corrupt or unpacking failed; 2 parts are missing or the command is unknown.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
carried="${LENT_GPU_PARTS:-$repo/lent-gpu-parts}"
home="${LENT_GPU_HOME:-$HOME/lent-gpu}"
store="$home/parts"

fail() {
    echo "error: $2" >&2
    exit "$1"
}

expected_parts() {
    [[ -f "$store/SHA256SUMS" ]] || fail 2 "no SHA256SUMS in $store: carry lent-gpu-parts/SHA256SUMS with a part"
    awk '{print $2}' "$store/SHA256SUMS"
}

receive() {
    mkdir -p "$store"
    [[ -f "$carried/SHA256SUMS" ]] || fail 2 "no $carried/SHA256SUMS: carry lent-gpu-parts/SHA256SUMS with each part"
    cp "$carried/SHA256SUMS" "$store/SHA256SUMS"
    local copied=0
    for part in "$carried"/*.part*; do
        [[ -e "$part" ]] || continue
        cp "$part" "$store/"
        copied=$((copied + 1))
    done
    (cd "$store" && sha256sum --quiet --check --ignore-missing SHA256SUMS) || fail 1 "a part is corrupt: send it again"
    for wheel in "$carried"/*.whl; do
        [[ -e "$wheel" ]] || continue
        local name
        name="$(basename "$wheel" | cut -d- -f1)"
        rm -rf "$home/opt/$name" && mkdir -p "$home/opt/$name"
        python3 -m zipfile -e "$wheel" "$home/opt/$name" || fail 1 "could not unzip $wheel"
        echo "unzipped $(basename "$wheel") into $home/opt/$name"
    done
    local have=0 total=0
    while read -r name; do
        total=$((total + 1))
        [[ -f "$store/$name" ]] && have=$((have + 1))
    done < <(expected_parts)
    echo "received $copied part(s); $have of $total in $store"
}

unpack() {
    local missing=()
    while read -r name; do
        [[ -f "$store/$name" ]] || missing+=("$name")
    done < <(expected_parts)
    ((${#missing[@]} == 0)) || fail 2 "missing ${missing[*]}: send them with \`remote.sh receive\` first"
    (cd "$store" && sha256sum --quiet --check SHA256SUMS) || fail 1 "a part is corrupt: send it again"
    rm -rf "$home/site" && mkdir -p "$home/site" "$home/bin"
    # shellcheck disable=SC2046  # the names come from SHA256SUMS, in order, without spaces
    (cd "$store" && cat $(expected_parts)) | xz -d | tar -x -C "$home/site" || fail 1 "unpacking failed"
    # The console scripts inside carry the packing machine's interpreter: these run the machine's python3.
    printf '#!/usr/bin/env bash\nexec python3 -m vllm.entrypoints.cli.main "$@"\n' >"$home/bin/vllm"
    printf '#!/usr/bin/env bash\nexec python3 -m invoke "$@"\n' >"$home/bin/invoke"
    chmod +x "$home/bin/vllm" "$home/bin/invoke"
    cat >"$home/env.sh" <<EOF
# vLLM and its dependencies from $home/site, ahead of the machine's own packages (its torch stays).
export PYTHONPATH="$home/site\${PYTHONPATH:+:\$PYTHONPATH}"
export PATH="$home/bin:\$PATH"
# FlashInfer's sampler compiles itself at start, and the machine has no toolchain for it.
export VLLM_USE_FLASHINFER_SAMPLER=0
# No network there: never reach for the hub.
export HF_HUB_OFFLINE=1
EOF
    echo "unpacked $(du -sm "$home/site" | cut -f1) MiB into $home/site; now: source $home/env.sh"
}

case "${1:-}" in
    receive) receive ;;
    unpack) unpack ;;
    *) fail 2 "usage: remote.sh receive|unpack" ;;
esac
