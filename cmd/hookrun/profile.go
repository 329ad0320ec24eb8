package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// profileDirEnv names a directory: when set, the process writes a CPU profile of its whole run
// (cpu-PID.pprof) and, on exit, an allocation profile (allocs-PID.pprof) there. For the load benchmarks
// (HOOKRUN_BENCH_PROFILE in test/bench); the process must end by a signal or return, not be killed.
const profileDirEnv = "HOOKRUN_PROFILE_DIR"

// startProfile starts profiling into dir ("" = off) and returns what stops it and writes the profiles.
func startProfile(dir string, stderr io.Writer) (stop func()) {
	if dir == "" {
		return func() {}
	}
	cpuPath := filepath.Join(dir, fmt.Sprintf("cpu-%d.pprof", os.Getpid()))
	f, err := os.Create(cpuPath)
	if err != nil {
		fmt.Fprintf(stderr, "hookrun: %s: %v\n", profileDirEnv, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(stderr, "hookrun: %s: %v\n", profileDirEnv, err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		if err := writeAllocs(filepath.Join(dir, fmt.Sprintf("allocs-%d.pprof", os.Getpid()))); err != nil {
			fmt.Fprintf(stderr, "hookrun: %s: %v\n", profileDirEnv, err)
		}
	}
}

func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("allocation profile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("allocation profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("allocation profile: %w", err)
	}
	return nil
}
