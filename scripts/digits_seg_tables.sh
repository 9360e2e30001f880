#!/usr/bin/env bash
# Produce the committed digits-seg leaderboard (issue: fast2, fast5, fast10, dafl, dfad, kd and
# scratch at the quick budget, seeds 0,1,2). Outside CI: about 1.5 hours on a 2-core CPU. The
# teacher row runs first (it trains and caches the teacher and creates the store); then two grids
# run side by side, one thread each.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
SEEDS=${SEEDS:-0,1,2}
RESULTS=${RESULTS:-results/digits-seg}
mkdir -p "$RESULTS"
bench run --methods teacher --task digits-seg --seeds "$SEEDS" --results-dir "$RESULTS" --quiet
bench run --methods fast5,dafl,kd,fast2 --task digits-seg --seeds "$SEEDS" \
    --results-dir "$RESULTS" --quiet > "$RESULTS/grid-a.log" 2>&1 &
bench run --methods fast10,dfad,scratch --task digits-seg --seeds "$SEEDS" \
    --results-dir "$RESULTS" --quiet > "$RESULTS/grid-b.log" 2>&1 &
wait
bench export --task digits-seg --results-dir "$RESULTS" --output results/runs/digits-seg.csv
scripts/render_leaderboards.sh
