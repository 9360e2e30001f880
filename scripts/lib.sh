# Shared by the scripts that produce committed artefacts (results, shipped teachers): they are
# evidence only when the code that made them is exactly a commit.

# Refuse to run unless the code is exactly HEAD (no change, no untracked file that git does not
# ignore, outside results/ where the tables land): every run then records a commit that identifies
# its code (harness/record/provenance.py draws the same line).
require_clean_tree() {
    if [ -n "$(git status --porcelain -- . ':(exclude)results')" ]; then
        echo "Error: the working tree has uncommitted changes; commit or stash them first:" >&2
        git status --short -- . ':(exclude)results' >&2
        exit 2
    fi
}

# Run one committed table's grid with `bench sweep`: one cell at a time (each its own `bench run`
# process, timed alone), FINISHED cells skipped and interrupted ones resumed when the script is
# run again. CORES (e.g. CORES=0) pins every cell to those cores, one thread per core; the runs
# record the cores and threads they had (dfkd.cpu_cores, dfkd.threads), so a table says how it
# was timed. A grid longer than one machine's loan continues on the next machine: interrupted,
# the finished cells are exported to results/runs/parts/NAME.csv (git add -f it); run the script
# again from a clean checkout of the same commit and those cells are skipped.
# Usage: sweep_table NAME TASK RESULTS_DIR bench-sweep-flags...
sweep_table() {
    local name=$1 task=$2 results=$3 part="results/runs/parts/$1.csv"
    shift 3
    mkdir -p "$results"
    local pin=() skip=()
    if [ -n "${CORES:-}" ]; then
        pin=(taskset -c "$CORES")
        export OMP_NUM_THREADS=$(( $(echo "$CORES" | tr -cd ',' | wc -c) + 1 ))
    fi
    part=$(table_part "$name")
    [ -n "$part" ] && skip=(--part "$part")
    local status=0
    "${pin[@]}" bench sweep --jobs 1 --device cpu --tasks "$task" --results-dir "$results" "${skip[@]}" "$@" \
        || status=$?
    if [ "$status" != 0 ]; then
        save_part "$name" "$task" "$results"
        exit "$status"
    fi
}

# The cells of table NAME already run by this commit on earlier machines: its part file, or its
# committed export when this very commit made it (a script of several tables then skips the
# finished ones); nothing when the table starts afresh.
table_part() {
    local part="results/runs/parts/$1.csv" final="results/runs/$1.csv"
    if [ -f "$part" ]; then
        echo "$part"
    elif [ -f "$final" ] && python -c "import pandas, sys; sys.exit(set(pandas.read_csv(sys.argv[1], dtype=str)['tags.dfkd.git_sha']) != {sys.argv[2]})" "$final" "$(git rev-parse HEAD)"; then
        echo "$final"
    fi
}

# Export the finished cells of an unfinished grid (and those of its earlier part) to its part file.
save_part() {
    local name=$1 task=$2 results=$3 part skip=()
    part=$(table_part "$name")
    [ -n "$part" ] && skip=(--part "$part")
    part="results/runs/parts/$name.csv"
    mkdir -p "$(dirname "$part")"
    bench export --task "$task" --results-dir "$results" "${skip[@]}" --output "${part%.csv}.saving.csv" \
        && mv "${part%.csv}.saving.csv" "$part" && echo "the finished cells are in $part: commit it to continue elsewhere" >&2
}

# Render results/leaderboards/NAME.{md,csv,tex} from the committed export results/runs/NAME.csv.
render_table() {
    local name=$1 export="results/runs/$1.csv" task
    task=$(python -c "import pandas, sys; print(pandas.read_csv(sys.argv[1])['tags.dfkd.task'].iloc[0])" "$export")
    for format in github:md csv:csv latex:tex; do
        bench leaderboard --task "$task" --from "$export" --format "${format%%:*}" \
            --output "results/leaderboards/$name.${format##*:}"
    done
}

# Export a finished table's runs (with its part from earlier machines) beside the committed tables
# and render them from the export.
export_table() {
    local name=$1 task=$2 results=$3 part skip=()
    part=$(table_part "$name")
    [ -n "$part" ] && skip=(--part "$part")
    bench export --task "$task" --results-dir "$results" "${skip[@]}" --output "results/runs/$name.csv"
    rm -f "results/runs/parts/$name.csv"
    render_table "$name"
}

# The few-step study (the paper's Table 4): DeepInv and CMI at 2/5/10 synthesis steps per batch
# against Fast-2/5/10, every method at Fast's quick budget (44 rounds of 128 images, 40 KD steps a
# round), so that the step count is the only difference.
FEW_STEP=(--methods fast2,fast5,fast10,deepinv:g_steps=2,deepinv:g_steps=5,deepinv:g_steps=10,cmi:g_steps=2,cmi:g_steps=5,cmi:g_steps=10
          --set epochs=44 --set synthesis_batch_size=128 --set batch_size=128 --set kd_steps=40 --set ep_steps=40)
