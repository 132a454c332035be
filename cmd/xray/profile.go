package main

import (
	"log/slog"
	"os"
	"runtime/pprof"
)

// startProfiles honours upstream's XRAY_DAEMON_CPU_PROFILE (CPU profile of the whole run)
// and XRAY_DAEMON_MEMORY_PROFILE (heap profile at shutdown). It returns the function that
// finishes them, or nil when neither is set.
func startProfiles(log *slog.Logger) func() {
	cpuPath, memPath := os.Getenv("XRAY_DAEMON_CPU_PROFILE"), os.Getenv("XRAY_DAEMON_MEMORY_PROFILE")
	if cpuPath == "" && memPath == "" {
		return nil
	}
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			log.Error("CPU profile", "path", cpuPath, "error", err)
		} else {
			cpu = f
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			cpu.Close()
		}
		if memPath != "" {
			f, err := os.Create(memPath)
			if err == nil {
				err = pprof.WriteHeapProfile(f)
				f.Close()
			}
			if err != nil {
				log.Error("memory profile", "path", memPath, "error", err)
			}
		}
	}
}
