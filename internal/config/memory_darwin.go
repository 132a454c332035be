package config

import "golang.org/x/sys/unix"

// TotalRAM returns the host's total physical memory in bytes.
func TotalRAM() (uint64, error) {
	return unix.SysctlUint64("hw.memsize")
}
