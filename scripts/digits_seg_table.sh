#!/usr/bin/env bash
# The committed digits-seg leaderboard: the teacher, scratch, KD and every data-free method that
# supports segmentation at the quick budget, seeds 0,1,2, one cell at a time from a clean tree
# with the shipped teacher. About four hours on one core (CORES=0). Interrupted, the same command
# continues.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_clean_tree
RESULTS=${RESULTS:-results/digits-seg}
sweep_table digits-seg digits-seg "$RESULTS" --budget quick --seeds "${SEEDS:-0,1,2}" \
    --methods teacher,scratch,kd,fast2,fast5,fast10,dafl,dfad
export_table digits-seg digits-seg "$RESULTS"
