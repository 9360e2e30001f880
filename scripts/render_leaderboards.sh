#!/usr/bin/env bash
# Regenerate every committed leaderboard from the committed run exports (results/runs/).
# An export is named <name>.csv and holds one task's runs; its tables are results/leaderboards/<name>.md
# (github), .csv and .tex. Usage: scripts/render_leaderboards.sh   (no store needed)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
for export in results/runs/*.csv; do
    render_table "$(basename "$export" .csv)"
done
