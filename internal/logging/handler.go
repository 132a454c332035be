package logging

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode"
)

// textHandler writes upstream's line format, `<time> [<Level>] <message>`, followed by
// ` key=value` for each attribute. Values containing spaces, quotes, '=' or control
// characters are quoted Go-style, so one event is always one line. Safe for concurrent
// use; each line reaches the writer in a single Write.
type textHandler struct {
	out    *lockedWriter
	level  slog.Leveler
	now    func() time.Time
	loc    *time.Location
	prefix string // group prefix for attributes added later, "a.b."
	pre    []byte // attributes fixed by WithAttrs, already rendered
}

// Enabled reports whether l is at or above the handler's level.
func (h *textHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// Handle renders r as one line.
func (h *textHandler) Handle(_ context.Context, r slog.Record) error {
	t := r.Time
	if h.now != nil {
		t = h.now()
	}
	buf := make([]byte, 0, 128+len(r.Message)+len(h.pre))
	if t.IsZero() {
		t = time.Now()
	}
	buf = append(buf, FormatTime(t, h.loc)...)
	buf = append(buf, " ["...)
	buf = append(buf, LevelWord(r.Level)...)
	buf = append(buf, "] "...)
	buf = append(buf, r.Message...)
	buf = append(buf, h.pre...)
	r.Attrs(func(a slog.Attr) bool {
		buf = appendAttr(buf, h.prefix, a)
		return true
	})
	buf = append(buf, '\n')
	_, err := h.out.Write(buf)
	return err
}

// WithAttrs returns a handler that appends as to every line.
func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	h2 := *h
	h2.pre = append([]byte(nil), h.pre...)
	for _, a := range as {
		h2.pre = appendAttr(h2.pre, h.prefix, a)
	}
	return &h2
}

// WithGroup returns a handler that prefixes later attribute keys with name and a dot.
func (h *textHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.prefix = h.prefix + name + "."
	return &h2
}

func appendAttr(buf []byte, prefix string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return buf
	}
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			buf = appendAttr(buf, p, g)
		}
		return buf
	}
	buf = append(buf, ' ')
	buf = append(buf, prefix...)
	buf = append(buf, a.Key...)
	buf = append(buf, '=')
	return appendValue(buf, v)
}

func appendValue(buf []byte, v slog.Value) []byte {
	var s string
	switch v.Kind() {
	case slog.KindString:
		s = v.String()
	case slog.KindInt64:
		return strconv.AppendInt(buf, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(buf, v.Uint64(), 10)
	case slog.KindBool:
		return strconv.AppendBool(buf, v.Bool())
	case slog.KindTime:
		s = v.Time().Format(time.RFC3339Nano)
	default:
		s = v.String() // durations, floats, errors (via fmt), any
	}
	if needsQuote(s) {
		return strconv.AppendQuote(buf, s)
	}
	return append(buf, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}

// lockedWriter serialises writes from every handler derived from one New call.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
