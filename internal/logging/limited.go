package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limited lets at most one line per key through per interval, for warnings that can
// fire once per datagram under overload. The next line let through for a key carries
// `suppressed=N`, the number of lines dropped for that key since the last one.
// Safe for concurrent use.
type Limited struct {
	logger   *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*limit
}

type limit struct {
	last       time.Time // when the last line went through
	suppressed int
}

// maxIdleKeys bounds the key map: above it, keys idle for a whole interval are pruned.
const maxIdleKeys = 1024

// NewLimited wraps logger. now may be nil (time.Now).
func NewLimited(logger *slog.Logger, interval time.Duration, now func() time.Time) *Limited {
	if now == nil {
		now = time.Now
	}
	return &Limited{logger: logger, interval: interval, now: now, keys: make(map[string]*limit)}
}

// Allow reports whether a line for key may go through now and, if so, how many were
// suppressed since the previous one. Use it directly to avoid building the line's
// arguments when it would be dropped.
func (l *Limited) Allow(key string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.keys[key]
	if st == nil {
		if len(l.keys) >= maxIdleKeys {
			l.prune(now)
		}
		l.keys[key] = &limit{last: now}
		return true, 0
	}
	if now.Sub(st.last) < l.interval {
		st.suppressed++
		return false, 0
	}
	suppressed = st.suppressed
	st.last, st.suppressed = now, 0
	return true, suppressed
}

// prune drops keys whose last line is older than the interval and that have nothing
// suppressed to report.
func (l *Limited) prune(now time.Time) {
	for k, st := range l.keys {
		if st.suppressed == 0 && now.Sub(st.last) >= l.interval {
			delete(l.keys, k)
		}
	}
}

// Log logs msg at level unless key already had a line this interval.
func (l *Limited) Log(ctx context.Context, level slog.Level, key, msg string, args ...any) {
	if !l.logger.Enabled(ctx, level) {
		return
	}
	ok, n := l.Allow(key)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args[:len(args):len(args)], slog.Int("suppressed", n))
	}
	l.logger.Log(ctx, level, msg, args...)
}

// Warn is Log at Warn level with a background context.
func (l *Limited) Warn(key, msg string, args ...any) {
	l.Log(context.Background(), slog.LevelWarn, key, msg, args...)
}
