#!/usr/bin/env bash
# The committed few-step study (the paper's Table 4 on digits): DeepInv and CMI at 2/5/10 synthesis
# steps per batch against Fast-2/5/10, every method at Fast's quick budget (44 rounds of 128
# images, 40 KD steps per round), seeds 0,1,2, one cell at a time from a clean tree with the
# shipped teacher. About 1.5 hours on one core (CORES=0). Interrupted, the same command continues.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_clean_tree
RESULTS=${RESULTS:-results/digits-few-step}
sweep_table digits-few-step digits "$RESULTS" --budget quick --seeds "${SEEDS:-0,1,2}" \
    "${FEW_STEP[@]}"
export_table digits-few-step digits "$RESULTS"
