#!/usr/bin/env bash
# The committed digits leaderboard: every method and baseline at the quick budget, seeds 0,1,2,
# one cell at a time from a clean tree with the shipped teacher; then its Pareto plot. About three
# hours on one core (CORES=0), less on two. Interrupted, the same command continues.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_clean_tree
RESULTS=${RESULTS:-results/digits}
sweep_table digits digits "$RESULTS" --budget quick --seeds "${SEEDS:-0,1,2}" \
    --methods teacher,scratch,kd,fast2,fast5,fast10,fast50,fast,deepinv,cmi,dafl,zskt,dfq,dfad
export_table digits digits "$RESULTS"
bench plot --task digits --from results/runs/digits.csv --output results/leaderboards/digits-pareto
