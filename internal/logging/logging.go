// Package logging builds the daemon's slog.Logger: upstream's one-line text format
// (`<RFC 3339 time> [<Level>] <message>`), an optional JSON format, a log file with
// upstream's size rotation, and a rate limiter for warnings on hot paths.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// LevelTrace is upstream's most verbose level ("dev" in the config, "Trace" in lines).
const LevelTrace = slog.Level(-8)

// Format names accepted by Options.Format.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// ParseLevel maps a config level name (dev, debug, info, warn, error, prod) to a slog
// level. Names are case-sensitive, as upstream's are; ok is false for anything else.
func ParseLevel(name string) (level slog.Level, ok bool) {
	switch name {
	case "dev":
		return LevelTrace, true
	case "debug":
		return slog.LevelDebug, true
	case "info", "prod":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// LevelWord is the word printed between brackets for a level: Trace, Debug, Info,
// Warn or Error. Levels in between round down to the nearest named one.
func LevelWord(l slog.Level) string {
	switch {
	case l < slog.LevelDebug:
		return "Trace"
	case l < slog.LevelInfo:
		return "Debug"
	case l < slog.LevelWarn:
		return "Info"
	case l < slog.LevelError:
		return "Warn"
	}
	return "Error"
}

// FormatTime renders t as upstream does: RFC 3339, second precision, in loc
// (time.Local when nil), "Z" for UTC.
func FormatTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format(time.RFC3339)
}

// Line renders one complete text-format line without attributes, newline included.
// cmd/xray uses it for the config-error line it prints before any logger exists.
func Line(t time.Time, loc *time.Location, level slog.Level, msg string) string {
	return FormatTime(t, loc) + " [" + LevelWord(level) + "] " + msg + "\n"
}

// Options configures New.
type Options struct {
	// Level is the minimum level logged; nil means Info (upstream's "prod").
	Level slog.Leveler
	// Format is FormatText (default, upstream's line format) or FormatJSON.
	Format string
	// File, when set, receives the log instead of Stdout. Parent directories are
	// created; the file is opened in append mode.
	File string
	// Rotate enables size rotation of File (upstream's Logging.LogRotation).
	Rotate bool
	// MaxSize is the rotation threshold in bytes; 0 means DefaultMaxSize.
	MaxSize int64
	// Stdout is the destination when File is empty; nil means os.Stdout.
	Stdout io.Writer
	// Now replaces the record time; nil uses the time slog stamped on the record.
	Now func() time.Time
	// Location is the zone times are printed in; nil means time.Local.
	Location *time.Location
}

// New builds the logger described by opts. The returned Closer closes the log file
// (a no-op for stdout); call it last, after every component has stopped logging.
func New(opts Options) (*slog.Logger, io.Closer, error) {
	var (
		w      io.Writer = opts.Stdout
		closer io.Closer = nopCloser{}
	)
	if w == nil {
		w = os.Stdout
	}
	if opts.File != "" {
		f, err := OpenFile(opts.File, opts.Rotate, opts.MaxSize)
		if err != nil {
			return nil, nil, err
		}
		w, closer = f, f
	}
	h, err := NewHandler(w, opts)
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	return slog.New(h), closer, nil
}

// NewHandler returns the handler New would build, writing to w. Only Level, Format,
// Now and Location of opts are used.
func NewHandler(w io.Writer, opts Options) (slog.Handler, error) {
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	switch opts.Format {
	case "", FormatText:
		return &textHandler{out: &lockedWriter{w: w}, level: level, now: opts.Now, loc: opts.Location}, nil
	case FormatJSON:
		jh := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: jsonLevelWords})
		if opts.Now == nil {
			return jh, nil
		}
		return &clockHandler{next: jh, now: opts.Now}, nil
	}
	return nil, fmt.Errorf("unknown log format %q: use %s or %s", opts.Format, FormatText, FormatJSON)
}

// jsonLevelWords prints levels with the same words as the text format.
func jsonLevelWords(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok {
			a.Value = slog.StringValue(LevelWord(l))
		}
	}
	return a
}

// clockHandler stamps records with an injected clock before passing them on.
type clockHandler struct {
	next slog.Handler
	now  func() time.Time
}

func (h *clockHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *clockHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Time = h.now()
	return h.next.Handle(ctx, r)
}

func (h *clockHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &clockHandler{next: h.next.WithAttrs(as), now: h.now}
}

func (h *clockHandler) WithGroup(name string) slog.Handler {
	return &clockHandler{next: h.next.WithGroup(name), now: h.now}
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
