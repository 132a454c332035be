package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestSpoolKeepsSegmentsAcrossReopenAndReplaysOldestFirst(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := s.Write([][]byte{[]byte("a"), []byte("bb")}); n != 2 || err != nil {
		t.Fatalf("kept %d, %v", n, err)
	}
	s.Seal()
	s.Write([][]byte{[]byte("ccc")})
	// A crash: the current file is left .open; reopening seals it.
	s.w.Flush()
	s2, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Pending() != 2 {
		t.Fatalf("pending %d, want 2", s2.Pending())
	}
	var got []string
	for {
		path, docs, ok, err := s2.Oldest()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		for _, d := range docs {
			got = append(got, string(d))
		}
		s2.Remove(path)
	}
	if fmt.Sprint(got) != "[a bb ccc]" || s2.Bytes() != 0 {
		t.Fatalf("replayed %v, %d bytes left", got, s2.Bytes())
	}
}

func TestSpoolRefusesBeyondItsBound(t *testing.T) {
	s, err := Open(t.TempDir(), 20)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := s.Write([][]byte{[]byte("0123456789"), []byte("0123456789")})
	if n != 1 {
		t.Fatalf("kept %d, want 1 (20-byte bound, 14 bytes a record)", n)
	}
}

func TestSpoolIgnoresTornTail(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 1<<20)
	s.Write([][]byte{[]byte("whole")})
	s.Seal()
	path := s.sealed[0].path
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{9, 0, 0, 0, 'x'}) // a record cut short
	f.Close()
	docs, err := readFile(path)
	if err != nil || len(docs) != 1 || string(docs[0]) != "whole" {
		t.Fatalf("docs %q err %v", docs, err)
	}
	if _, err := Open(filepath.Join(dir, "sub"), 1); err != nil {
		t.Fatal(err)
	}
}

func FuzzReadFile(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 'a'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "x.seg")
		os.WriteFile(p, b, 0o600)
		readFile(p)
	})
}
