#!/usr/bin/env bash
# GPU check and benchmark for a machine with an NVIDIA GPU (issue 11):
#   1. builds the CGO_ENABLED=0 binary;
#   2. runs the GPU parity tests (GPU ops against references and the CPU
#      kernels); they must run, not skip, when a GPU is present;
#   3. times a CIFAR-sized conv on the GPU (go test -bench);
#   4. trains the same short run with --device cpu and --device gpu on the
#      embedded sample and prints images/s side by side and the accuracy.
# Usage: bench/gpu.sh            (EPOCHS=3 BATCH=64 ARCH=convnet, the default model)
# Fits in a few minutes; every step has a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi not found); nothing measured. Run it on a GPU machine."
  exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

EPOCHS=${EPOCHS:-3}
BATCH=${BATCH:-64}
ARCH=${ARCH:-convnet}
OUT=bench/out/gpu
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1

echo "== build"
CGO_ENABLED=0 go build -o "$OUT/model-release" ./cmd/model-release

echo "== parity tests"
timeout 300 go test -count=1 -run 'GPU' -v ./internal/gpu ./internal/kernels 2>&1 | tee "$OUT/parity.log" | grep -E '^(--- |ok|FAIL|PASS)' || true
if grep -q -- '--- FAIL\|^FAIL' "$OUT/parity.log"; then
  echo "parity tests FAILED (see $OUT/parity.log)"; exit 1
fi
if grep -q -- '--- SKIP' "$OUT/parity.log"; then
  echo "parity tests SKIPPED although nvidia-smi sees a GPU: the driver or cuBLAS did not load:"
  grep -A1 -- '--- SKIP\|skipping' "$OUT/parity.log" | head -5
  exit 1
fi

echo "== conv benchmark (64x64x3x3 on 32x32, batch 64, copies included)"
timeout 120 go test -count=1 -run '^$' -bench 'BenchmarkGPUConvForward' -benchtime 20x ./internal/gpu | grep -E 'Benchmark|ok'

echo "== training: $ARCH, $EPOCHS epochs, batch $BATCH, embedded sample"
run() { # device
  local dev=$1
  rm -rf "$OUT/work-$dev"
  # The env twin works whether or not `train` binds --device as a flag.
  if ! MODEL_RELEASE_DEVICE=$dev timeout 300 "$OUT/model-release" train --work-dir "$OUT/work-$dev" \
      --architecture "$ARCH" --epochs "$EPOCHS" --batch-size "$BATCH" --seed 1 \
      --optimizer adamw --learning-rate 0.002 \
      >"$OUT/train-$dev.out" 2>"$OUT/train-$dev.log"; then
    echo "train --device $dev failed:"; tail -5 "$OUT/train-$dev.log"; return 1
  fi
}
run cpu
run gpu
if ! grep -q 'device=gpu' "$OUT/train-gpu.log"; then
  echo "WARNING: the gpu run did not log device=gpu: the trainer does not call kernels.SelectDevice yet, so both runs used the CPU"
fi
ips() { grep 'msg=epoch' "$1" | tail -1 | sed -n 's/.*img_per_s=\([0-9.e+]*\).*/\1/p'; }
acc() { sed -n 's/^accuracy: \([0-9.]*\).*/\1/p' "$1"; }
c=$(ips "$OUT/train-cpu.log"); g=$(ips "$OUT/train-gpu.log")
printf '%-6s %10s %10s\n' device img/s accuracy
printf '%-6s %10s %10s\n' cpu "${c:-?}" "$(acc "$OUT/train-cpu.out")"
printf '%-6s %10s %10s\n' gpu "${g:-?}" "$(acc "$OUT/train-gpu.out")"
if [[ -n "$c" && -n "$g" ]]; then
  echo "gpu/cpu images/s ratio: $(awk -v g="$g" -v c="$c" 'BEGIN { printf "%.2f", g / c }')"
fi
grep -h 'msg=device\|gpu device\|sgemm backend' "$OUT/train-gpu.log" | head -3
