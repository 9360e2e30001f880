#!/usr/bin/env bash
# The committed Fashion-MNIST tables: the 14-row leaderboard (teacher, scratch, KD and every
# data-free method) at the quick budget, its Pareto plot, and the few-step study (DeepInv and CMI
# at 2/5/10 steps against Fast-2/5/10 at Fast's quick budget, the paper's Table 4), seeds 0,1,2,
# one cell at a time from a clean tree with the shipped teacher. Hours on a 2-core CPU (CORES=0
# pins them to one core). Interrupted, the same command continues.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_clean_tree
SEEDS=${SEEDS:-0,1,2}
RESULTS=${RESULTS:-results/fashion-mnist}
sweep_table fashion-mnist fashion-mnist "$RESULTS" --budget quick --seeds "$SEEDS" \
    --methods teacher,scratch,kd,fast2,fast5,fast10,fast50,fast,deepinv,cmi,dafl,zskt,dfq,dfad
export_table fashion-mnist fashion-mnist "$RESULTS"
bench plot --task fashion-mnist --from results/runs/fashion-mnist.csv --output results/leaderboards/fashion-mnist-pareto

FEW=${FEW:-results/fashion-mnist-few-step}
sweep_table fashion-mnist-few-step fashion-mnist "$FEW" --budget quick --seeds "$SEEDS" \
    "${FEW_STEP[@]}"
export_table fashion-mnist-few-step fashion-mnist "$FEW"
