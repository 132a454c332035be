//go:build !linux

package config

import "errors"

// TotalRAM is only implemented on Linux; elsewhere set the buffer memory with -m.
func TotalRAM() (uint64, error) {
	return 0, errors.New("total memory detection is only implemented on Linux")
}
