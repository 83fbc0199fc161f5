//go:build !unix

package main

// cpuTime is unavailable here; measure falls back to wall time.
func cpuTime() int64 { return 0 }
