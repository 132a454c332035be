package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	plus2    = time.FixedZone("CEST", 2*3600)
	fixedNow = func() time.Time { return time.Date(2026, 11, 25, 15, 17, 14, 987654321, time.UTC) }
)

func TestTextHandlerWritesUpstreamLineFormat(t *testing.T) {
	tests := []struct {
		name string
		loc  *time.Location
		log  func(l *slog.Logger)
		want string
	}{
		{"info in UTC", time.UTC, func(l *slog.Logger) { l.Info("Using region: us-west-2") },
			"2026-11-25T15:17:14Z [Info] Using region: us-west-2\n"},
		{"offset outside UTC", plus2, func(l *slog.Logger) { l.Warn("x") },
			"2026-11-25T17:17:14+02:00 [Warn] x\n"},
		{"trace word", time.UTC, func(l *slog.Logger) { l.Log(t.Context(), LevelTrace, "t") },
			"2026-11-25T15:17:14Z [Trace] t\n"},
		{"debug word", time.UTC, func(l *slog.Logger) { l.Debug("d") }, "2026-11-25T15:17:14Z [Debug] d\n"},
		{"error word", time.UTC, func(l *slog.Logger) { l.Error("e") }, "2026-11-25T15:17:14Z [Error] e\n"},
		{"attrs appended and quoted when needed", time.UTC, func(l *slog.Logger) {
			l.Info("dropped", "count", 3, "trace_id", "1-abc", "reason", "queue full", "empty", "", "ok", true, "d", 1500*time.Millisecond)
		}, `2026-11-25T15:17:14Z [Info] dropped count=3 trace_id=1-abc reason="queue full" empty="" ok=true d=1.5s` + "\n"},
		{"newline in value stays on one line", time.UTC, func(l *slog.Logger) { l.Info("m", "err", errors.New("a\nb")) },
			`2026-11-25T15:17:14Z [Info] m err="a\nb"` + "\n"},
		{"with attrs and groups", time.UTC, func(l *slog.Logger) {
			l.With("c", "x").WithGroup("g").With("a", 1).Info("m", "b", 2, slog.Group("h", "k", "v"))
		}, "2026-11-25T15:17:14Z [Info] m c=x g.a=1 g.b=2 g.h.k=v\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h, err := NewHandler(&buf, Options{Level: LevelTrace, Now: fixedNow, Location: tt.loc})
			if err != nil {
				t.Fatal(err)
			}
			tt.log(slog.New(h))
			if got := buf.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLevelFiltersLowerLevels(t *testing.T) {
	for _, name := range []string{"dev", "debug", "info", "warn", "error", "prod"} {
		t.Run(name, func(t *testing.T) {
			lvl, ok := ParseLevel(name)
			if !ok {
				t.Fatal("not known")
			}
			var buf bytes.Buffer
			l, c, err := New(Options{Level: lvl, Stdout: &buf, Now: fixedNow, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			l.Log(t.Context(), LevelTrace, "t")
			l.Debug("d")
			l.Info("i")
			l.Warn("w")
			l.Error("e")
			var words []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				words = append(words, strings.Fields(line)[1])
			}
			want := map[string]string{
				"dev": "[Trace] [Debug] [Info] [Warn] [Error]", "debug": "[Debug] [Info] [Warn] [Error]",
				"info": "[Info] [Warn] [Error]", "prod": "[Info] [Warn] [Error]", "warn": "[Warn] [Error]", "error": "[Error]",
			}[name]
			if got := strings.Join(words, " "); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestParseLevelRejectsUnknownAndOtherCase(t *testing.T) {
	for _, name := range []string{"", "Dev", "INFO", "trace", "warning"} {
		if _, ok := ParseLevel(name); ok {
			t.Errorf("ParseLevel(%q) accepted", name)
		}
	}
}

func TestJSONFormatUsesLevelWordsAndClock(t *testing.T) {
	var buf bytes.Buffer
	l, _, err := New(Options{Format: FormatJSON, Level: LevelTrace, Stdout: &buf, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(t.Context(), LevelTrace, "hello", "n", 2)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if m["level"] != "Trace" || m["msg"] != "hello" || m["n"] != 2.0 || !strings.HasPrefix(m["time"].(string), "2026-11-25T15:17:14") {
		t.Errorf("unexpected record %v", m)
	}
}

func TestUnknownFormatIsAnError(t *testing.T) {
	if _, _, err := New(Options{Format: "xml"}); err == nil {
		t.Fatal("want error")
	}
}

func TestLineRendersConfigErrorLine(t *testing.T) {
	got := Line(fixedNow(), time.UTC, slog.LevelError, "Config Version is missing.")
	if want := "2026-11-25T15:17:14Z [Error] Config Version is missing.\n"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestFileOutputCreatesDirsAndAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "xray.log")
	for i := range 2 {
		l, c, err := New(Options{File: path, Now: fixedNow, Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		l.Info("run", "i", i)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(path)
	want := "2026-11-25T15:17:14Z [Info] run i=0\n2026-11-25T15:17:14Z [Info] run i=1\n"
	if string(got) != want {
		t.Errorf("got %q", got)
	}
}

func TestFileRotationKeepsOnlyNewestRolledFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "xray.log")
	f, err := OpenFile(path, true, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"aaaaaa\n", "bbbbbb\n", "cccccc\n", "dd\n"} {
		if _, err := f.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	assertDir(t, dir, map[string]string{"xray.log": "cccccc\ndd\n", "xray.log.2": "bbbbbb\n"})

	// Reopening continues the numbering after the highest rolled file.
	f, err = OpenFile(path, true, 10)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("eeeeee\n"))
	f.Close()
	assertDir(t, dir, map[string]string{"xray.log": "eeeeee\n", "xray.log.3": "cccccc\ndd\n"})
}

func TestFileWithoutRotationGrows(t *testing.T) {
	dir := t.TempDir()
	f, err := OpenFile(filepath.Join(dir, "x.log"), false, 4)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("123456\n"))
	f.Write([]byte("789\n"))
	f.Close()
	assertDir(t, dir, map[string]string{"x.log": "123456\n789\n"})
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
}

func TestFileRotationIgnoresUnrelatedFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"x.log.old", "x.log.1a", "y.log.7"} {
		os.WriteFile(filepath.Join(dir, n), []byte("keep"), 0o644)
	}
	f, err := OpenFile(filepath.Join(dir, "x.log"), true, 4)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("123\n"))
	f.Write([]byte("456\n"))
	f.Close()
	assertDir(t, dir, map[string]string{"x.log": "456\n", "x.log.1": "123\n",
		"x.log.old": "keep", "x.log.1a": "keep", "y.log.7": "keep"})
}

func TestFileConcurrentWritesKeepLinesWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.log")
	l, c, err := New(Options{File: path, Rotate: true, MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				l.Info("line", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	c.Close()
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("got %d lines", len(lines))
	}
	for _, line := range lines {
		if !strings.Contains(line, "[Info] line g=") {
			t.Fatalf("torn line %q", line)
		}
	}
}

func assertDir(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	got := map[string]string{}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		got[e.Name()] = string(b)
	}
	if len(got) != len(want) {
		t.Errorf("files %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
