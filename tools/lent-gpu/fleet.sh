#!/usr/bin/env bash
# One row pair of issue 13's table on the lent two-GPU machine, after `remote.sh unpack`: serve LightOnOCR's
# full-size architecture on both GPUs (two replicas, or one data-parallel server) with a profile's flags,
# bench one GPU alone (replicas) or take that figure from the replicas' run (data parallel), bench the fleet,
# stop. Everything the user would read lands in $OUT/<mode>-<profile>/.
#
# usage: bash tools/lent-gpu/fleet.sh replicas|dp card|tuned [--check]
set -u
mode=$1 profile=$2 with_check=${3:-}
source ~/lent-gpu/env.sh
out="${OUT:-reports}/$mode-$profile"
mkdir -p "$out" reports
# The load per GPU: 64 pages in flight, 128 measured after 16 warm-up, 1024 output tokens (ignore_eos), the
# same page and load as docs/gpu.md's tuning table, so the rows compare with it.
load=(--full-size --concurrency 64 --requests 128 --warmup 16 --max-tokens 1024 --temperature 0 --page prose-01)
one="reports/one-gpu-$profile.json"  # kept on the machine between calls: the data-parallel run reads it

case "$mode" in
  replicas) fleet=(--replicas 2) ;;
  dp) fleet=(--data-parallel-size 2) ;;
  *) echo "mode is replicas or dp" >&2; exit 2 ;;
esac
started=$(date +%s)
invoke serve --full-size --device cuda --profile "$profile" "${fleet[@]}" --detach --timeout 400 2>&1 | tee "$out/serve.log"
rc=${PIPESTATUS[0]}
echo "serve: exit $rc after $(( $(date +%s) - started )) s" | tee -a "$out/serve.log"
if [ "$rc" = 0 ]; then
  if [ "$mode" = replicas ]; then
    if [ -n "$with_check" ]; then
      invoke check --full-size --replicas 2 --report-json "$out/check.json" --report-md "$out/check.md" > "$out/check.log" 2>&1
      echo "check: exit $?" | tee -a "$out/check.log"; tail -3 "$out/check.log"
    fi
    invoke bench "${load[@]}" --json "$one" > "$out/bench-one-gpu.log" 2>&1
    echo "bench one GPU: exit $?" | tee -a "$out/bench-one-gpu.log"; cp "$one" "$out/"
    invoke bench "${load[@]}" --replicas 2 --single-gpu "$one" --json "$out/bench.json" --html "$out/bench.html" \
      > "$out/bench.log" 2>&1
  else
    invoke bench "${load[@]}" --gpus 2 --single-gpu "$one" --json "$out/bench.json" --html "$out/bench.html" \
      > "$out/bench.log" 2>&1
  fi
  echo "bench fleet: exit $?" | tee -a "$out/bench.log"; tail -25 "$out/bench.log"
fi
invoke stop 2>&1 | tee "$out/stop.log"
cp .cache/serve/*.log "$out/" 2>/dev/null
nvidia-smi --query-gpu=index,memory.used --format=csv | tee "$out/gpus-after.csv"
exit "$rc"
