#!/usr/bin/env bash
# Issue 22 on the lent GPU machine, after `remote.sh unpack`: pages/s in steady state, one configuration per
# server start, each benched over at least three waves (LightOnOCR-2-1B full size, random weights, prose-01,
# 1024-token answers, 128 in flight, 384 measured requests after 16 warm-up). Run from the checkout; state is
# kept in ~/steady (outside the checkout, which each call replaces), results are tarred into $OUT.
#
#   bash tools/lent-gpu/steady.sh tune NAME[,NAME...]  `invoke tune --grid steady --only NAMES` (start, bench,
#                                                      stop each; resumable: what ~/steady/tune records is kept)
#   bash tools/lent-gpu/steady.sh drawn                the tuned profile once, measured with answer lengths drawn
#                                                      from uniform:256-1024 and a 20 s staggered start, then a
#                                                      torch profiler trace of one burst of 16 pages
#
#   WITH=NAME                     put ~/lent-gpu/opt/NAME first on PYTHONPATH (a wheel remote.sh unzipped, e.g.
#                                 xformers); the tune's records go to ~/steady/tune-NAME
#   MODEL_PROFILE=NAME            tune that profile's full-size architecture (e.g. LightOnOCR-3-4B); records in
#                                 ~/steady/tune-NAME (lower case)
#
# Exit: the tune's or the bench's exit code.
set -u
what=${1:-}
source ~/lent-gpu/env.sh
state=~/steady
suffix=""
if [ -n "${WITH:-}" ]; then
  [ -d ~/lent-gpu/opt/"$WITH" ] || { echo "error: no ~/lent-gpu/opt/$WITH: carry its wheel with remote.sh receive" >&2; exit 2; }
  export PYTHONPATH=~/lent-gpu/opt/"$WITH":$PYTHONPATH
  suffix="$suffix-$WITH"
fi
profile_flags=()
if [ -n "${MODEL_PROFILE:-}" ]; then
  profile_flags=(--model-profile "$MODEL_PROFILE")
  suffix="$suffix-$(echo "$MODEL_PROFILE" | tr 'A-Z' 'a-z')"
fi
mkdir -p "$state" "${OUT:=$state/out}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$state/gpu.csv"

case "$what" in
  tune)
    timeout -s TERM "${STEADY_SECONDS:-560}" invoke tune --grid steady --only "$2" --full-size --device cuda \
      "${profile_flags[@]}" --concurrency 128 --requests 384 --warmup 16 --max-tokens 1024 --page prose-01 \
      --start-timeout 300 --out "$state/tune$suffix" \
      2>&1 | tee "$state/tune$suffix-$2.log"
    rc=${PIPESTATUS[0]}
    ;;
  drawn)
    prof="$state/profile"
    rm -rf "$prof" && mkdir -p "$prof"
    started=$(date +%s)
    # The profiler is only armed by these flags; it records between /start_profile and /stop_profile alone.
    invoke serve --full-size --device cuda --profile tuned --detach --timeout 300 -- \
      --profiler-config.profiler=torch --profiler-config.torch_profiler_dir="$prof" \
      --profiler-config.torch_profiler_with_stack=false --profiler-config.ignore_frontend=true \
      --profiler-config.max_iterations=40 2>&1 | tee "$state/serve-drawn.log"
    rc=${PIPESTATUS[0]}
    echo "serve: exit $rc after $(( $(date +%s) - started )) s" | tee -a "$state/serve-drawn.log"
    if [ "$rc" = 0 ]; then
      invoke bench --full-size --concurrency 128 --warmup 16 --temperature 0 --page prose-01 --waves 3 \
        --answer-tokens uniform:256-1024 --ramp 20 --json "$state/bench-drawn.json" > "$state/bench-drawn.log" 2>&1
      rc=$?
      echo "bench drawn: exit $rc" | tee -a "$state/bench-drawn.log"; tail -40 "$state/bench-drawn.log"
      python3 tools/lent-gpu/profile_burst.py --pages 16 --max-tokens 16 --out "$prof" 2>&1 | tee "$state/profile.log"
    fi
    invoke stop 2>&1 | tail -2
    cp .cache/serve/vllm-serve.log "$state/vllm-serve-drawn.log" 2>/dev/null
    ;;
  attention)
    # The encoder's attention alone, each way this environment can compute it (encoder_attention.py).
    python3 tools/lent-gpu/encoder_attention.py --json "$state/encoder-attention$suffix.json" 2>&1 \
      | tee "$state/encoder-attention$suffix.log"
    rc=${PIPESTATUS[0]}
    ;;
  *) echo "usage: steady.sh tune NAMES | drawn | attention" >&2; exit 2 ;;
esac
# What comes back (8 files at most): the state folder without the traces, and the profiler's kernel table.
tar -czf "$OUT/steady-$what$suffix.tgz" -C "$state" --exclude='*.pt.trace.json*' --exclude='out' . 2>/dev/null
cp "$state"/profile/profiler_out_*.txt "$OUT/" 2>/dev/null
ls -la "$OUT"
exit "$rc"
