#!/usr/bin/env bash
# The README's screenshots, taken in a real browser (headless Chromium) from a results store:
# docs/leaderboard-page.png (bench leaderboard --format html, with the store's sample grids),
# docs/mlflow-runs.png and docs/mlflow-compare.png (the views `bench serve` prints).
# Usage: RESULTS=results TASK=digits scripts/screenshots.sh   (needs chromium and a store with runs)
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS=${RESULTS:-results} TASK=${TASK:-digits} PORT=${PORT:-5123}
profile=$(mktemp -d)
shot() {  # shot OUTPUT WIDTHxHEIGHT URL
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
        --window-size="${2/x/,}" --virtual-time-budget=30000 --screenshot="$1" "$3" 2>/dev/null
}
bench leaderboard --task "$TASK" --results-dir "$RESULTS" --format html --output "$profile/page.html"
shot docs/leaderboard-page.png 1280x1500 "file://$profile/page.html"
bench serve --results-dir "$RESULTS" --port "$PORT" >/dev/null 2>"$profile/serve.log" & server=$!
trap 'kill $server 2>/dev/null; rm -rf "$profile"' EXIT
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 2; done
runs=$(grep -m1 "dfkd/$TASK runs: " "$profile/serve.log" | sed 's/.*runs: //')
compare=$(grep -m1 "dfkd/$TASK compare" "$profile/serve.log" | sed 's/.*variant: //')
shot docs/mlflow-runs.png 1600x1000 "$runs"
shot docs/mlflow-compare.png 1600x1100 "$compare"
echo "wrote docs/leaderboard-page.png docs/mlflow-runs.png docs/mlflow-compare.png"
