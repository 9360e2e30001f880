#!/usr/bin/env bash
# Regenerate every committed leaderboard from the committed run exports (results/runs/).
# An export is named <name>.csv and holds one task's runs; its tables are results/leaderboards/<name>.md
# (github), .csv and .tex. Usage: scripts/render_leaderboards.sh   (no store needed)
set -euo pipefail
cd "$(dirname "$0")/.."
for export in results/runs/*.csv; do
    name=$(basename "$export" .csv)
    task=$(python -c "import pandas, sys; print(pandas.read_csv(sys.argv[1])['tags.dfkd.task'].iloc[0])" "$export")
    for format in github:md csv:csv latex:tex; do
        bench leaderboard --task "$task" --from "$export" --format "${format%%:*}" \
            --output "results/leaderboards/$name.${format##*:}"
    done
done
