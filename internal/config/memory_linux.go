package config

import "syscall"

// TotalRAM returns the host's total physical memory in bytes.
func TotalRAM() (uint64, error) {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0, err
	}
	return uint64(si.Totalram) * uint64(si.Unit), nil
}
