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

	"github.com/model-release/model-release/internal/config"
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
	ips, err := train.Benchmark(context.Background(), cfg, *images)
	if err != nil {
		fmt.Fprintln(os.Stderr, "train-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	fmt.Printf("%.1f\n", ips)
}
