#!/usr/bin/env bash
# Kernel micro-benchmarks, all measured in this one run so the ratios are
# fair on a shared machine:
#   - SGEMM GFLOP/s per backend (OpenBLAS via purego vs pure Go), one thread;
#   - one conv layer forward+backward through a tape machine, stock gorgonia
#     vs internal/model/ops, per CIFAR layer shape;
#   - a full SGD training step of a 3-conv + FC CIFAR CNN, stock vs fast,
#     at batch 64 and 128: images/s and MB allocated per step.
# Usage: bench/kernels/run.sh [benchtime]   (default 3x; raw output in bench/out/)
set -euo pipefail
cd "$(dirname "$0")/../.."
benchtime="${1:-3x}"
out=bench/out
mkdir -p "$out"
raw="$out/kernels-$(date +%Y%m%d-%H%M%S).txt"

go test -run '^$' -bench 'Sgemm|ConvKernels' -benchtime 20x ./internal/kernels/ | tee "$raw"
go test -run '^$' -bench 'ConvLayer|TrainStep' -benchtime "$benchtime" -timeout 30m ./internal/model/ops/ | tee -a "$raw"

awk '
function metric(name,   i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
/^BenchmarkSgemm\// {
	split($1, p, "/"); sub(/-[0-9]+$/, "", p[3]); gf[p[2], p[3]] = metric("GFLOP/s"); sizes[p[3]] = 1
}
/^BenchmarkConvLayer\// {
	split($1, p, "/"); sub(/-[0-9]+$/, "", p[3]); layer[p[2], p[3]] = $3 / 1e6; layers[p[2]] = 1
}
/^BenchmarkTrainStep\// {
	split($1, p, "/"); sub(/-[0-9]+$/, "", p[3])
	ips[p[2], p[3]] = metric("img/s"); mb[p[2], p[3]] = metric("MB/step"); batches[p[2]] = 1
}
END {
	print "\n== SGEMM, one thread (GFLOP/s) =="
	printf "%-16s %10s %10s %8s\n", "m x n x k", "go", "openblas", "ratio"
	for (s in sizes) printf "%-16s %10.1f %10s %8s\n", s, gf["go", s], gf["openblas", s], \
		(gf["openblas", s] != "" ? sprintf("%.1fx", gf["openblas", s] / gf["go", s]) : "n/a")
	print "\n== Conv layer fwd+bwd via tape machine (ms per call) =="
	printf "%-24s %10s %10s %8s\n", "layer", "stock", "fast", "speedup"
	for (l in layers) printf "%-24s %10.1f %10.1f %7.2fx\n", l, layer[l, "stock"], layer[l, "fast"], layer[l, "stock"] / layer[l, "fast"]
	print "\n== Training step, 3-conv CNN + FC, SGD =="
	printf "%-10s %12s %12s %8s %14s %14s\n", "batch", "stock img/s", "fast img/s", "speedup", "stock MB/step", "fast MB/step"
	for (b in batches) printf "%-10s %12.1f %12.1f %7.2fx %14.1f %14.2f\n", b, ips[b, "stock"], ips[b, "fast"], ips[b, "fast"] / ips[b, "stock"], mb[b, "stock"], mb[b, "fast"]
}' "$raw"
echo "raw output: $raw"
