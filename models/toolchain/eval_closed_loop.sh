#!/usr/bin/env bash
# Closed-loop evaluation matrix of trained bundles (the issue's table):
#   models/toolchain/eval_closed_loop.sh FLOW_BUNDLE L1_BUNDLE EPISODES_PER_TASK SEED OUT_DIR [CONFIGS...]
# CONFIGS (default: all): n1 n2 n4 n10 k4 k8 l1 swap blank. Each writes OUT_DIR/<config>.json (vlad
# sim --json, lockstep, all tasks). swap / blank: the flow bundle at its own N with the instruction
# naming another object / the cameras black (vlad sim --swap-instruction / --blank-cameras).
# Seeds must differ from the collect seed used for training.
set -euo pipefail
flow=$1 l1=$2 eps=$3 seed=$4 out=$5; shift 5
configs=${*:-n1 n2 n4 n10 k4 k8 l1 swap blank}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$out"
for c in $configs; do
  probe=()
  case $c in
    l1) bundle=$l1; profile=cpu ;;
    swap) bundle=$flow; profile=cpu; probe=(--swap-instruction) ;;
    blank) bundle=$flow; profile=cpu; probe=(--blank-cameras) ;;
    *) bundle=$flow; profile=$here/eval-profiles/cpu-$c.yaml ;;
  esac
  echo "[eval $(date +%H:%M:%S)] $c: $bundle profile $profile, $eps episodes/task, seed $seed" >&2
  node "$root/dist/src/cli/main.js" sim --bundle "$bundle" --task all --episodes "$eps" --seed "$seed" --json \
    --mode lockstep --profile "$profile" "${probe[@]}" > "$out/$c.json"
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.error(`[eval] ${process.argv[2]}: `+Object.entries(r.tasks).map(([t,v])=>`${t} ${v.successes}/${v.episodes}`+(v.original_target_rate!==undefined?` (original object ${Math.round(100*v.original_target_rate)}%)`:"")).join(", ")+`; obs_to_chunk p50 ${r.obs_to_chunk_ms.p50.toFixed(1)} ms`)' "$out/$c.json" "$c"
done
