package memtrim

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Release unmaps the executable's read-only, unmodified pages from the process and
// returns how many bytes were resident in them. It is safe at any time: the next use of
// a page maps it again from the page cache.
func Release() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("finding the executable: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("reading the process's mappings: %w", err)
	}
	maps, err := parseSmaps(f)
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("reading the process's mappings: %w", err)
	}
	var released int64
	for _, m := range maps {
		if !m.releasable(exe) {
			continue
		}
		// MADV_DONTNEED on a clean private file mapping only drops the page-table
		// entries; the contents come back from the file on the next access.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("releasing %x-%x: %w", m.start, m.end, errno)
		}
		released += m.rss
	}
	return released, nil
}
