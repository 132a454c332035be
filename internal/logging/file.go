package logging

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// DefaultMaxSize is upstream's rotation threshold: 50 MiB.
const DefaultMaxSize = 50 << 20

// File is an append-mode log file with upstream's optional size rotation: when a write
// would take the file past the limit, the file is renamed to `<path>.<k>` (k one more
// than the highest rolled file seen so far), older rolled files are deleted, and a new
// file is started. So at most one rolled file is kept. Safe for concurrent use.
type File struct {
	mu     sync.Mutex
	path   string
	rotate bool
	max    int64
	f      *os.File
	size   int64
	next   int // k for the next rolled file
}

// OpenFile opens (creating it and its parent directories if needed) the log file at
// path in append mode. rotate enables rotation at maxSize bytes (DefaultMaxSize when 0).
func OpenFile(path string, rotate bool, maxSize int64) (*File, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating log directory %s: %w", dir, err)
		}
	}
	lf := &File{path: path, rotate: rotate, max: maxSize}
	if err := lf.open(); err != nil {
		return nil, err
	}
	if rotate {
		rolled, err := lf.rolled()
		if err != nil {
			lf.f.Close()
			return nil, err
		}
		for _, k := range rolled {
			lf.next = max(lf.next, k)
		}
	}
	lf.next++
	return lf, nil
}

func (lf *File) open() error {
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opening log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening log file: %w", err)
	}
	lf.f, lf.size = f, st.Size()
	return nil
}

// rolled lists the k of every existing `<path>.<k>` file.
func (lf *File) rolled() ([]int, error) {
	dir, base := filepath.Split(lf.path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing rolled log files: %w", err)
	}
	var ks []int
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || suffix == "" || strings.TrimLeft(suffix, "0123456789") != "" {
			continue
		}
		if k, err := strconv.Atoi(suffix); err == nil {
			ks = append(ks, k)
		}
	}
	return ks, nil
}

// Write appends p, rotating first when p would take the file past the limit. A
// rotation failure does not lose p: it is appended to the current file and the
// rotation error is returned.
func (lf *File) Write(p []byte) (int, error) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return 0, os.ErrClosed
	}
	var rotErr error
	if lf.rotate && lf.size > 0 && lf.size+int64(len(p)) > lf.max {
		rotErr = lf.roll()
	}
	n, err := lf.f.Write(p)
	lf.size += int64(n)
	return n, errors.Join(err, rotErr)
}

func (lf *File) roll() error {
	target := lf.path + "." + strconv.Itoa(lf.next)
	if err := lf.f.Close(); err != nil {
		return errors.Join(fmt.Errorf("rotating log file: %w", err), lf.open())
	}
	if err := os.Rename(lf.path, target); err != nil {
		return errors.Join(fmt.Errorf("rotating log file: %w", err), lf.open())
	}
	lf.next++
	var errs []error
	if ks, err := lf.rolled(); err != nil {
		errs = append(errs, err)
	} else {
		for _, k := range ks {
			if k == lf.next-1 {
				continue
			}
			old := lf.path + "." + strconv.Itoa(k)
			if err := os.Remove(old); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Errorf("removing old log file: %w", err))
			}
		}
	}
	errs = append(errs, lf.open())
	return errors.Join(errs...)
}

// Close closes the file; later writes fail with os.ErrClosed.
func (lf *File) Close() error {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return nil
	}
	err := lf.f.Close()
	lf.f = nil
	return err
}
