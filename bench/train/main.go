// Command train-bench measures training throughput (images/s) of this
// project's trainer for one architecture and batch size on random data.
// bench/train/run.sh runs it next to the PyTorch reference.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"

	"github.com/model-release/model-release/internal/config"
	"github.com/model-release/model-release/internal/model"
	"github.com/model-release/model-release/internal/train"
)

func main() {
	cfg := config.Default()
	flag.StringVar(&cfg.Architecture, "arch", "convnet", "architecture: seed or convnet")
	flag.IntVar(&cfg.BatchSize, "batch", 128, "batch size")
	flag.StringVar(&cfg.Kernels, "kernels", cfg.Kernels, "fast or stock")
	flag.IntVar(&cfg.Threads, "threads", runtime.NumCPU(), "worker threads (GOMAXPROCS)")
	images := flag.Int("images", 1024, "random images to train on (one epoch)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	memprofile := flag.String("memprofile", "", "write a heap allocation profile (alloc_space) to this file")
	traceFile := flag.String("trace", "", "write a runtime execution trace to this file (go tool trace)")
	alloc := flag.Bool("alloc", false, "also print the steady-state heap allocation per training step (bytes)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "train-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		if err == nil {
			err = trace.Start(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "train-bench:", err)
			os.Exit(1)
		}
		defer trace.Stop()
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 64 << 10 // sample every 64 KiB: big buffers dominate
		defer func() {
			if f, err := os.Create(*memprofile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	ips, err := train.Benchmark(context.Background(), cfg, *images)
	if err != nil {
		fmt.Fprintln(os.Stderr, "train-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	if !*alloc {
		fmt.Printf("%.1f\n", ips)
		return
	}
	perStep, err := steadyAllocPerStep(cfg, *images)
	if err != nil {
		fmt.Fprintln(os.Stderr, "train-bench:", err)
		os.Exit(1)
	}
	fmt.Printf("%.1f %.0f\n", ips, perStep)
}

// steadyAllocPerStep measures heap bytes allocated by a training epoch of n
// and of 2n images; the difference divided by the extra steps is what one
// more step costs once buffers exist, without the one-off set-up.
func steadyAllocPerStep(cfg config.Config, n int) (float64, error) {
	measure := func(images int) (uint64, error) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := train.Benchmark(context.Background(), cfg, images); err != nil {
			return 0, err
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc, nil
	}
	a, err := measure(n)
	if err != nil {
		return 0, err
	}
	b, err := measure(2 * n)
	if err != nil {
		return 0, err
	}
	steps := float64((2*n+cfg.BatchSize-1)/cfg.BatchSize - (n+cfg.BatchSize-1)/cfg.BatchSize)
	if b < a || steps <= 0 {
		return 0, nil
	}
	// train.Benchmark makes n random images and labels up front; that data
	// grows with n too but is not training: take it out.
	data := float64(n) * float64(model.ImageSize+1)
	return (float64(b-a) - data) / steps, nil
}
