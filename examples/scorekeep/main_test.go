package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// segmentDoc is the part of a segment document the test looks at.
type segmentDoc struct {
	TraceID     string         `json:"trace_id"`
	ID          string         `json:"id"`
	ParentID    string         `json:"parent_id"`
	Name        string         `json:"name"`
	User        string         `json:"user"`
	Annotations map[string]any `json:"annotations"`
	HTTP        struct {
		Request struct {
			URL string `json:"url"`
		} `json:"request"`
	} `json:"http"`
	Subsegments []json.RawMessage `json:"subsegments"`
}

// fakeDaemon listens on a loopback UDP port and returns the segments it receives.
func fakeDaemon(t *testing.T) (string, <-chan segmentDoc) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	out := make(chan segmentDoc, 64)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, body, ok := bytes.Cut(buf[:n], []byte("\n"))
			if !ok {
				continue
			}
			var d segmentDoc
			if json.Unmarshal(body, &d) == nil {
				select {
				case out <- d:
				default:
				}
			}
		}
	}()
	return pc.LocalAddr().String(), out
}

func TestCreateGameTracesEveryHopInOneTrace(t *testing.T) {
	daemonAddr, segments := fakeDaemon(t)
	t.Setenv("AWS_XRAY_DAEMON_ADDRESS", daemonAddr)
	if err := configureXRay("all"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(ln.Addr().(*net.TCPAddr), "scorekeep-test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	resp, err := http.Post("http://"+ln.Addr().String()+"/api/game", "application/json", strings.NewReader(`{"user":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/game: status %d, body %s", resp.StatusCode, body)
	}

	// One request to /api/game makes four segments: game, users (from game), score, users
	// (from score). The SDK's emitter is process-wide, so a segment finished late by an
	// earlier test may arrive here too: keep the trace that has the /api/game segment.
	byTrace := map[string][]segmentDoc{}
	gameTrace := ""
	var got []segmentDoc
	deadline := time.After(5 * time.Second)
	for gameTrace == "" || len(byTrace[gameTrace]) < 4 || !hasAllHops(byTrace[gameTrace]) {
		select {
		case d := <-segments:
			byTrace[d.TraceID] = append(byTrace[d.TraceID], d)
			if strings.HasSuffix(d.HTTP.Request.URL, "/api/game") {
				gameTrace = d.TraceID
			}
		case <-deadline:
			t.Fatalf("the /api/game trace has %d segments, want 4: %+v", len(byTrace[gameTrace]), byTrace)
		}
	}
	got = byTrace[gameTrace]
	paths := map[string]int{}
	for _, d := range got {
		if d.TraceID != got[0].TraceID {
			t.Errorf("segment %s (%s) in trace %s, want %s", d.ID, d.HTTP.Request.URL, d.TraceID, got[0].TraceID)
		}
		if d.Name != "scorekeep-test" || d.User != "alice" || d.Annotations["player"] != "alice" {
			t.Errorf("segment %s: name %q user %q annotations %v", d.HTTP.Request.URL, d.Name, d.User, d.Annotations)
		}
		path := d.HTTP.Request.URL[strings.Index(d.HTTP.Request.URL[len("http://"):], "/")+len("http://"):]
		if i := strings.IndexAny(path, "?"); i >= 0 {
			path = path[:i]
		}
		if strings.HasPrefix(path, "/api/users/") {
			path = "/api/users/{id}"
		}
		paths[path]++
		if path == "/api/game" && (d.ParentID != "" || len(d.Subsegments) < 3) {
			t.Errorf("/api/game segment: parent %q, %d subsegments; want root with >= 3", d.ParentID, len(d.Subsegments))
		}
		if path != "/api/game" && d.ParentID == "" {
			t.Errorf("%s segment has no parent: the trace header was not propagated", path)
		}
	}
	// Every hop is in the trace. Under load net/http may retry an idempotent call on a
	// fresh connection, which adds a second segment for that hop: at least one each.
	if paths["/api/game"] != 1 {
		t.Errorf("segments for /api/game: %d, want 1 (all: %v)", paths["/api/game"], paths)
	}
	for _, p := range []string{"/api/users", "/api/score", "/api/users/{id}"} {
		if paths[p] < 1 {
			t.Errorf("no segment for %s (all: %v)", p, paths)
		}
	}
}

// hasAllHops reports whether a trace's segments cover game, users (POST), score and the
// user lookup.
func hasAllHops(docs []segmentDoc) bool {
	seen := map[string]bool{}
	for _, d := range docs {
		u := d.HTTP.Request.URL
		switch {
		case strings.HasSuffix(u, "/api/game"):
			seen["game"] = true
		case strings.HasSuffix(u, "/api/users"):
			seen["users"] = true
		case strings.Contains(u, "/api/users/"):
			seen["user"] = true
		case strings.Contains(u, "/api/score"):
			seen["score"] = true
		}
	}
	return len(seen) == 4
}
