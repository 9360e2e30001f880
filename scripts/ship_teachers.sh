#!/usr/bin/env bash
# Train the embedded tasks' teachers (seed 0, each task's recipe) from a clean tree and place them
# where the tasks ship them (tasks/teachers/<task>/<arch>.pt), then print the sha256 to pin in the
# task's `shipped_teachers`. Arguments: TASK:ARCH entries (default: every shipped teacher).
# Usage: scripts/ship_teachers.sh [fashion-mnist:fmnist_teacher ...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
require_clean_tree
DFKD_HOME="$(mktemp -d)"
export DFKD_HOME
ENTRIES=("$@")
[ ${#ENTRIES[@]} -gt 0 ] || ENTRIES=(digits:cnn_large digits-seg:unet_large fashion-mnist:fmnist_teacher)
# Train every teacher before placing any: a placed file would make the tree dirty for the next one.
for entry in "${ENTRIES[@]}"; do
    bench teacher train --task "${entry%%:*}" --arch "${entry##*:}" --seed 0 --device cpu
done
for entry in "${ENTRIES[@]}"; do
    task=${entry%%:*} arch=${entry##*:}
    mkdir -p "tasks/teachers/$task"
    install -m 644 "$DFKD_HOME/teachers/$task/$arch.pt" "tasks/teachers/$task/$arch.pt"
    echo "$task $arch sha256 $(sha256sum "tasks/teachers/$task/$arch.pt" | cut -d' ' -f1)"
done
rm -rf "$DFKD_HOME"
