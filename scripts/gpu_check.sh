#!/usr/bin/env bash
# The checks that need a GPU, as one script for a machine lent with one (under ~8 minutes on an
# H100): the CUDA-marked tests (two-GPU NCCL DDP included when there are two GPUs), `bench profile`
# at CIFAR-100 shapes (paper batch sizes) in fp32 and bf16, each with and without --compile, the
# CUDA benchmarks at CIFAR shapes, and a short digits run on CUDA into a throwaway store. It ends
# with the figures as markdown tables, ready to paste into the README's Performance section.
# Usage: scripts/gpu_check.sh [OUTPUT_DIR]   (default: a temporary folder; nothing else is written)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "Error: no CUDA device here; scripts/gpu_check.sh is for a machine with a GPU" >&2
    exit 2
fi
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
export DFKD_HOME="$OUT/home"
step() { echo; echo "== $* ($(date +%T))"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device.txt"
git log --oneline -1 | tee -a "$OUT/device.txt"

step "CUDA-marked tests"
python -m pytest tests -m cuda -q -p no:cacheprovider -rs 2>&1 | tee "$OUT/cuda-tests.txt" | tail -n 15

for compile in "" "--compile"; do
    step "bench profile, CIFAR-100 paper batch sizes, fp32 and bf16 ${compile}"
    bench profile --task cifar100 --device cuda --precision fp32,bf16 \
        --methods fast2,fast5,fast10,deepinv,cmi,dafl $compile | tee "$OUT/profile${compile:+-compiled}.md"
done

step "benchmarks at CIFAR shapes, fp32 and bf16"
python -m pytest tests/benchmarks/test_bench_methods.py --benchmark-only --bench-shapes cifar \
    --bench-precision fp32,bf16 -k "fast5 or dafl" -q -p no:cacheprovider \
    --benchmark-columns=mean,stddev,rounds 2>&1 | tee "$OUT/benchmarks.txt" | tail -n 25

step "a short digits run on CUDA"
bench run --methods fast5 --task digits --budget smoke --device cuda --quiet --results-dir "$OUT/results" \
    | tee "$OUT/digits-run.txt"
bench leaderboard --task digits --results-dir "$OUT/results" | tee -a "$OUT/digits-run.txt"

step "for the README (from $OUT)"
cat "$OUT/device.txt" "$OUT/profile.md" "$OUT/profile-compiled.md"
grep -E "passed|failed|skipped" "$OUT/cuda-tests.txt" | tail -n 1
