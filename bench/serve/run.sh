#!/usr/bin/env bash
# Load test of `model-release serve` against PyTorch CPU inference on the
# same network and weights. Everything stays on 127.0.0.1.
#
#   bench/serve/run.sh [MODEL_DIR]
#
# MODEL_DIR defaults to a model trained by `model-release train --epochs 1`
# on the embedded sample (into bench/out/serve/train) when the train command
# exists, else to a convnet with seeded random weights (said in the output).
# REQUESTS (default 2000) and CONCURRENCY (default 8) size the Go load test.
set -euo pipefail
cd "$(dirname "$0")/../.."

export OPENBLAS_NUM_THREADS=1 # its spinning threads fight Go's scheduler
OUT=bench/out/serve
mkdir -p "$OUT"
REQUESTS=${REQUESTS:-2000}
CONCURRENCY=${CONCURRENCY:-8}
PY=${PYTHON:-/usr/bin/python3}

go build -o "$OUT/bench-serve" ./bench/serve

MODEL=${1:-}
if [[ -z "$MODEL" ]]; then
  if go run ./cmd/model-release train --help >/dev/null 2>&1; then
    echo "== training a 1-epoch model on the embedded sample"
    rm -rf "$OUT/train"
    go run ./cmd/model-release train --epochs 1 --work-dir "$OUT/train" >&2
    MODEL=$(dirname "$(find "$OUT/train" -name model.safetensors | head -n1)")
    WEIGHTS="trained 1 epoch on the sample ($MODEL)"
  else
    MODEL="$OUT/random-model"
    "$OUT/bench-serve" --init-random "$MODEL"
    WEIGHTS="RANDOM weights (model-release train is not available yet)"
  fi
else
  WEIGHTS="$MODEL"
fi
[[ -f "$MODEL/model.safetensors" ]] || { echo "no model.safetensors in $MODEL" >&2; exit 1; }
echo "== model: $WEIGHTS"

echo "== Go server: $REQUESTS single-image PNG requests, $CONCURRENCY clients"
"$OUT/bench-serve" --model "$MODEL" --requests "$REQUESTS" --concurrency "$CONCURRENCY" --dump "$OUT/sample.json" | tee "$OUT/go1.txt"
BATCH_REQ=$(( REQUESTS / 64 > 8 ? REQUESTS / 64 : 8 ))
echo "== Go server: $BATCH_REQ JSON requests of 64 images, $CONCURRENCY clients"
"$OUT/bench-serve" --model "$MODEL" --requests "$BATCH_REQ" --concurrency "$CONCURRENCY" --batch 64 --warmup 2 | tee "$OUT/go64.txt"

echo "== PyTorch CPU ($PY), same network and weights"
"$PY" bench/serve/torch_infer.py "$MODEL" --check "$OUT/sample.json" | tee "$OUT/torch.txt"

val() { grep -o "$1=[0-9.]*" "$2" | head -n1 | cut -d= -f2; }
go1=$(val images_per_sec "$OUT/go1.txt")
go64=$(val images_per_sec "$OUT/go64.txt")
t1=$(val torch_batch1_images_per_sec "$OUT/torch.txt")
t64=$(val torch_batch64_images_per_sec "$OUT/torch.txt")
echo "== ratios (Go server / PyTorch inference, same run, $(nproc) cores)"
awk -v a="$go1" -v b="$t1" 'BEGIN { printf "single images: go %.1f img/s, torch batch-1 %.1f img/s, ratio %.3f\n", a, b, a / b }'
awk -v a="$go64" -v b="$t64" 'BEGIN { printf "64-image batches: go %.1f img/s, torch batch-64 %.1f img/s, ratio %.3f\n", a, b, a / b }'
