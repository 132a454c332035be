package memtrim

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func rssFileKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func TestReleaseDropsExecutablePagesAndTheProcessRunsOn(t *testing.T) {
	before := rssFileKB(t)
	released, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	t.Logf("RssFile %d kB -> %d kB, released %d kB", before, after, released>>10)
	if released <= 0 || after >= before {
		t.Fatalf("nothing released: RssFile %d kB -> %d kB, released %d bytes", before, after, released)
	}
	// Code and read-only data come back on use: run the collector (which walks type and
	// stack tables) and some formatting.
	runtime.GC()
	if s := strconv.FormatFloat(1.5, 'f', 2, 64) + strings.Repeat("x", 2); s != "1.50xx" {
		t.Fatal(s)
	}
	if _, err := Release(); err != nil {
		t.Fatal(err)
	}
}
