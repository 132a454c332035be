package memtrim

import (
	"strings"
	"testing"
)

const smapsSample = `00400000-00cc5000 r-xp 00000000 fe:00 10272977                           /usr/bin/xray
Size:               9000 kB
Rss:                6492 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
00cc5000-015b7000 r--p 008c5000 fe:00 10272977                           /usr/bin/xray
Rss:                6368 kB
Anonymous:             0 kB
015b7000-01656000 rw-p 011b7000 fe:00 10272977                           /usr/bin/xray
Rss:                 432 kB
Anonymous:           300 kB
01656000-036a4000 rw-p 00000000 00:00 0 
Rss:                 152 kB
Anonymous:           152 kB
7f29fb234000-7f29fb38a000 r-xp 00028000 fe:00 123                        /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 816 kB
Anonymous:             0 kB
7f0000000000-7f0000001000 r-xp 00000000 fe:00 77                         /usr/bin/xray
Rss:                   4 kB
Anonymous:             4 kB
7f0000002000-7f0000003000 r--p 00000000 fe:00 78                         /opt/my dir/xray
Rss:                   4 kB
Anonymous:             0 kB
`

func TestParseSmapsAndChooseReleasable(t *testing.T) {
	maps, err := parseSmaps(strings.NewReader(smapsSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 7 {
		t.Fatalf("%d mappings, want 7: %+v", len(maps), maps)
	}
	if maps[0].start != 0x400000 || maps[0].end != 0xcc5000 || maps[0].rss != 6492<<10 || maps[0].path != "/usr/bin/xray" {
		t.Fatalf("first mapping %+v", maps[0])
	}
	if maps[6].path != "/opt/my dir/xray" {
		t.Fatalf("path with a space: %q", maps[6].path)
	}
	tests := []struct {
		i    int
		exe  string
		want bool
	}{
		{0, "/usr/bin/xray", true},    // text
		{1, "/usr/bin/xray", true},    // read-only data
		{2, "/usr/bin/xray", false},   // writable data
		{3, "/usr/bin/xray", false},   // bss / heap
		{4, "/usr/bin/xray", false},   // another file
		{5, "/usr/bin/xray", false},   // modified (a debugger's breakpoint): would be lost
		{6, "/opt/my dir/xray", true}, // path with a space
		{0, "/usr/bin/other", false},  // not our executable
	}
	for _, tt := range tests {
		if got := maps[tt.i].releasable(tt.exe); got != tt.want {
			t.Errorf("mapping %d (%+v) releasable for %s = %v, want %v", tt.i, maps[tt.i], tt.exe, got, tt.want)
		}
	}
}

func TestParseSmapsRejectsGarbage(t *testing.T) {
	if _, err := parseSmaps(strings.NewReader("not a mapping line\n")); err == nil {
		t.Fatal("garbage accepted")
	}
}
