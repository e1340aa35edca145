#!/bin/sh
# Training throughput of this project against PyTorch CPU on the same
# architectures, batch sizes, threads and random data, in one run.
# Usage: bench/train/run.sh [images-per-measurement] [threads]
# Prints images/s for both and their ratio (Go / PyTorch). Each number is
# the best of REPEAT runs (default 3), Go and PyTorch alternating, so a
# burst of load from other processes hits both sides alike.
set -eu
cd "$(dirname "$0")/../.."
IMAGES=${1:-512}
THREADS=${2:-$(nproc)}
KERNELS=${KERNELS:-fast}
REPEAT=${REPEAT:-3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$THREADS
mkdir -p bench/out
go build -o bench/out/train-bench ./bench/train
printf '%-8s %5s %8s %12s %12s %7s\n' arch batch kernels go_img/s torch_img/s ratio
for arch in seed convnet; do
  for batch in 32 128; do
    n=$(( IMAGES > batch * 2 ? IMAGES : batch * 2 ))
    g=0 t=0 i=0
    while [ "$i" -lt "$REPEAT" ]; do
      x=$(bench/out/train-bench -arch "$arch" -batch "$batch" -kernels "$KERNELS" -threads "$THREADS" -images "$n")
      g=$(echo "if ($x > $g) $x else $g" | bc -l)
      x=$(/usr/bin/python3 bench/train/torch_ref.py --arch "$arch" --batch "$batch" --threads "$THREADS" --images "$n")
      t=$(echo "if ($x > $t) $x else $t" | bc -l)
      i=$((i + 1))
    done
    printf '%-8s %5d %8s %12s %12s %7.2f\n' "$arch" "$batch" "$KERNELS" "$g" "$t" "$(echo "$g / $t" | bc -l)"
  done
done
