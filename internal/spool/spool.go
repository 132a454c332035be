// Package spool keeps segments the daemon could not send on disk, within a size bound,
// so that they survive a restart or a long backend outage and are sent later.
//
// Segments are appended to the current file as length-prefixed records. A file is
// "sealed" (renamed from .open to .seg) when it reaches a size limit, on Seal, or when the
// spool is opened again after a crash; only sealed files are replayed, oldest first, and a
// replayed file is deleted once its segments are back in the memory queue.
package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	sealedExt   = ".seg"
	openExt     = ".open"
	maxFileSize = 4 << 20
	maxRecord   = 1 << 20 // larger records mean a corrupt file
)

// Spool is a directory of segment files. It is safe for concurrent use.
type Spool struct {
	dir      string
	maxBytes int64

	mu       sync.Mutex
	cur      *os.File
	w        *bufio.Writer
	curName  string
	curBytes int64
	sealed   []sealedFile // oldest first
	total    int64        // bytes on disk, sealed and open
	seq      int
	now      func() time.Time
}

type sealedFile struct {
	path  string
	bytes int64
}

// Open opens (creating) dir. Files left open by a crash are sealed; a torn last record is
// ignored when read.
func Open(dir string, maxBytes int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating spool directory: %w", err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, now: time.Now}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading spool directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasSuffix(name, openExt) {
			sealedPath := strings.TrimSuffix(path, openExt) + sealedExt
			if err := os.Rename(path, sealedPath); err != nil {
				return nil, fmt.Errorf("sealing %s: %w", path, err)
			}
			path = sealedPath
		} else if !strings.HasSuffix(name, sealedExt) {
			continue
		}
		info, err := os.Stat(path)
		if err != nil {
			continue
		}
		s.sealed = append(s.sealed, sealedFile{path: path, bytes: info.Size()})
		s.total += info.Size()
	}
	sort.Slice(s.sealed, func(i, j int) bool { return s.sealed[i].path < s.sealed[j].path })
	return s, nil
}

// Bytes is the size of the spool on disk.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Pending reports how many sealed files wait to be replayed.
func (s *Spool) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sealed)
}

// Write appends docs and returns how many were kept: it stops at the size bound.
func (s *Spool) Write(docs [][]byte) (kept int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		rec := int64(4 + len(d))
		if s.total+rec > s.maxBytes {
			return kept, nil
		}
		if s.cur == nil || s.curBytes+rec > maxFileSize && s.curBytes > 0 {
			if err := s.sealLocked(); err != nil {
				return kept, err
			}
			if err := s.openLocked(); err != nil {
				return kept, err
			}
		}
		var hdr [4]byte
		binary.LittleEndian.PutUint32(hdr[:], uint32(len(d)))
		if _, err := s.w.Write(hdr[:]); err != nil {
			return kept, fmt.Errorf("writing spool: %w", err)
		}
		if _, err := s.w.Write(d); err != nil {
			return kept, fmt.Errorf("writing spool: %w", err)
		}
		s.curBytes += rec
		s.total += rec
		kept++
	}
	return kept, nil
}

func (s *Spool) openLocked() error {
	s.seq++
	name := fmt.Sprintf("%020d-%06d", s.now().UnixNano(), s.seq)
	f, err := os.OpenFile(filepath.Join(s.dir, name+openExt), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("creating spool file: %w", err)
	}
	s.cur, s.w, s.curName, s.curBytes = f, bufio.NewWriterSize(f, 64<<10), name, 0
	return nil
}

// Seal closes the current file so that it can be replayed.
func (s *Spool) Seal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealLocked()
}

func (s *Spool) sealLocked() error {
	if s.cur == nil {
		return nil
	}
	err := s.w.Flush()
	if serr := s.cur.Sync(); err == nil {
		err = serr
	}
	if cerr := s.cur.Close(); err == nil {
		err = cerr
	}
	open := filepath.Join(s.dir, s.curName+openExt)
	sealed := filepath.Join(s.dir, s.curName+sealedExt)
	if rerr := os.Rename(open, sealed); err == nil {
		err = rerr
	}
	if err == nil {
		s.sealed = append(s.sealed, sealedFile{path: sealed, bytes: s.curBytes})
	}
	s.cur, s.w = nil, nil
	if err != nil {
		return fmt.Errorf("sealing spool file: %w", err)
	}
	return nil
}

// Oldest reads the oldest sealed file. Call Remove(path) once its documents are safe
// elsewhere. ok is false when nothing is sealed.
func (s *Spool) Oldest() (path string, docs [][]byte, ok bool, err error) {
	s.mu.Lock()
	if len(s.sealed) == 0 {
		s.mu.Unlock()
		return "", nil, false, nil
	}
	path = s.sealed[0].path
	s.mu.Unlock()
	docs, err = readFile(path)
	return path, docs, true, err
}

// Remove deletes a replayed file.
func (s *Spool) Remove(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.sealed {
		if f.path == path {
			s.sealed = append(s.sealed[:i], s.sealed[i+1:]...)
			s.total -= f.bytes
			break
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing spool file: %w", err)
	}
	return nil
}

// Close seals the current file.
func (s *Spool) Close() error { return s.Seal() }

// readFile returns every complete record; a torn tail (crash mid-write) is ignored.
func readFile(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening spool file: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var docs [][]byte
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return docs, nil
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n > maxRecord {
			return docs, fmt.Errorf("spool file %s is corrupt (record of %d bytes)", path, n)
		}
		d := make([]byte, n)
		if _, err := io.ReadFull(r, d); err != nil {
			return docs, nil
		}
		docs = append(docs, d)
	}
}
