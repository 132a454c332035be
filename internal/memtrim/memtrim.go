// Package memtrim gives back the pages of the daemon's own executable that only start-up
// needed.
//
// Starting the daemon runs the initialisation of every linked package (the AWS SDK, the
// Prometheus client, SQLite, ...) and reads their code and tables; the kernel maps each
// touched page, and 64 KiB around it, into the process. Once running, the relay uses a
// small part of that: about 13 of the 19 MB an idle daemon kept resident were such pages.
// Release asks the kernel to unmap the executable's read-only mappings; the pages stay in
// the page cache, and whatever the daemon still runs is mapped again on first use.
package memtrim

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
)

// mapping is one line of /proc/self/smaps with the fields Release needs.
type mapping struct {
	start, end uintptr
	perms      string
	path       string
	rss, anon  int64 // bytes
}

// releasable reports whether dropping the mapping's pages loses nothing: a read-only
// mapping of exe with no private (modified) pages. Text and read-only data qualify; the
// writable data segment, relocated data and pages a debugger patched do not.
func (m mapping) releasable(exe string) bool {
	return m.path == exe && len(m.perms) >= 2 && m.perms[1] == '-' && m.anon == 0 && m.rss > 0
}

// parseSmaps reads /proc/<pid>/smaps.
func parseSmaps(r io.Reader) ([]mapping, error) {
	var maps []mapping
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		fields := bytes.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if key, ok := bytes.CutSuffix(fields[0], []byte(":")); ok {
			// "Rss:   1234 kB"
			if len(maps) == 0 || len(fields) < 2 {
				continue
			}
			v, err := strconv.ParseInt(string(fields[1]), 10, 64)
			if err != nil {
				continue
			}
			switch string(key) {
			case "Rss":
				maps[len(maps)-1].rss = v << 10
			case "Anonymous":
				maps[len(maps)-1].anon = v << 10
			}
			continue
		}
		// "00400000-00cc5000 r-xp 00000000 fe:00 10272977   /path/to/exe"
		lo, hi, ok := bytes.Cut(fields[0], []byte("-"))
		if !ok || len(fields) < 5 {
			return nil, fmt.Errorf("unexpected smaps line %q", line)
		}
		start, err1 := strconv.ParseUint(string(lo), 16, 64)
		end, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || end < start {
			return nil, fmt.Errorf("unexpected smaps range %q", fields[0])
		}
		m := mapping{start: uintptr(start), end: uintptr(end), perms: string(fields[1])}
		if len(fields) >= 6 {
			// The path is the rest of the line (it may contain spaces).
			i := bytes.Index(line, fields[5])
			m.path = string(line[i:])
		}
		maps = append(maps, m)
	}
	return maps, sc.Err()
}
