#!/bin/sh
# Issue 10's comparison in one run: training images/s of gorgonia's stock ops,
# this project's fast ops and PyTorch CPU on the same model (convnet), batch,
# thread count and random data, plus the fast path's steady-state heap
# allocation per training step.
# Usage: [REPEAT=3] bench/train/compare.sh [images-per-measurement] [threads]
# Fast and PyTorch are measured REPEAT times each, alternating, and the
# medians are compared: both move by up to ±10% from run to run here.
set -eu
cd "$(dirname "$0")/../.."
IMAGES=${1:-1024}
THREADS=${2:-$(nproc)}
ARCH=${ARCH:-convnet}
REPEAT=${REPEAT:-3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$THREADS
mkdir -p bench/out
go build -o bench/out/train-bench ./bench/train
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
printf '%-8s %5s %10s %10s %10s %10s %14s  %s\n' arch batch stock fast torch fast/torch fast_alloc/step "runs (fast | torch)"
for batch in 64 128; do
  n=$(( IMAGES > batch * 4 ? IMAGES : batch * 4 ))
  stock=$(bench/out/train-bench -arch "$ARCH" -batch "$batch" -kernels stock -threads "$THREADS" -images "$(( n / 2 ))")
  fasts="" torches="" alloc=""
  i=0
  while [ "$i" -lt "$REPEAT" ]; do
    set -- $(bench/out/train-bench -arch "$ARCH" -batch "$batch" -kernels fast -threads "$THREADS" -images "$n" -alloc)
    fasts="$fasts $1" alloc=$2
    torches="$torches $(/usr/bin/python3 bench/train/torch_ref.py --arch "$ARCH" --batch "$batch" --threads "$THREADS" --images "$n")"
    i=$((i + 1))
  done
  fast=$(echo "$fasts" | median) torch=$(echo "$torches" | median)
  printf '%-8s %5d %10s %10s %10s %10s %11.3f MB  %s |%s\n' "$ARCH" "$batch" "$stock" "$fast" "$torch" "$(ratio "$fast" "$torch")" \
    "$(awk -v b="$alloc" 'BEGIN { print b / 1048576 }')" "$fasts" "$torches"
done
echo "images/s (higher is better; fast and torch: median of $REPEAT); stock measured once on half the images (it is slow)."
