#!/usr/bin/env bash
# Produce the committed digits leaderboards (issue: every method and baseline at the quick budget,
# seeds 0,1,2; and the few-step study). Outside CI: about 2 hours on a 2-core CPU. Two grids run
# side by side, one thread each; the store and its experiment are created first so that the two
# processes never create the sqlite store concurrently.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
SEEDS=${SEEDS:-0,1,2}
RESULTS=${RESULTS:-results}
bench run --methods teacher --task digits --seeds "$SEEDS" --results-dir "$RESULTS" --quiet
bench run --methods deepinv,fast50,fast,fast2,scratch,kd --task digits --seeds "$SEEDS" \
    --results-dir "$RESULTS" --quiet > "$RESULTS/grid-a.log" 2>&1 &
bench run --methods cmi,dafl,zskt,dfq,dfad,fast5,fast10 --task digits --seeds "$SEEDS" \
    --results-dir "$RESULTS" --quiet > "$RESULTS/grid-b.log" 2>&1 &
wait
mkdir -p results/leaderboards
bench leaderboard --task digits --results-dir "$RESULTS" --format github --output results/leaderboards/digits.md
bench leaderboard --task digits --results-dir "$RESULTS" --format csv --output results/leaderboards/digits.csv

# Few-step study (the paper's Table 4 on digits): k synthesis steps per batch for every method,
# all at Fast's quick budget (44 rounds of 128 images, 40 KD steps per round).
FEW="$RESULTS/few-step"
STUDY=(--task digits --seeds "$SEEDS" --results-dir "$FEW" --quiet --set epochs=44 --set synthesis_batch_size=128
       --set batch_size=128 --set kd_steps=40 --set ep_steps=40)
bench run --methods fast2 "${STUDY[@]}"
bench run --methods deepinv:g_steps=2,deepinv:g_steps=5,deepinv:g_steps=10,fast5 "${STUDY[@]}" > "$FEW/a.log" 2>&1 &
bench run --methods cmi:g_steps=2,cmi:g_steps=5,cmi:g_steps=10,fast10 "${STUDY[@]}" > "$FEW/b.log" 2>&1 &
wait
bench leaderboard --task digits --results-dir "$FEW" --format github --output results/leaderboards/digits-few-step.md
bench leaderboard --task digits --results-dir "$FEW" --format csv --output results/leaderboards/digits-few-step.csv
