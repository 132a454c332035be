//go:build !linux && !darwin && !windows

package config

import "errors"

// TotalRAM is implemented for Linux, macOS and Windows; elsewhere set -m.
func TotalRAM() (uint64, error) {
	return 0, errors.New("total memory detection is not implemented on this system")
}
