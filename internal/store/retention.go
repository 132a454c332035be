package store

import (
	"context"
	"fmt"
	"time"
)

// RetentionInterval is how often the retention loop runs.
const RetentionInterval = time.Minute

// Start launches the retention loop: every RetentionInterval it deletes traces older
// than Options.Retention and, past Options.MaxDBSizeMB, the oldest traces until the
// data fits. Shutdown stops it.
func (s *Store) Start(ctx context.Context) error {
	s.loopMu.Lock()
	defer s.loopMu.Unlock()
	if s.cancel != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.loopDone = make(chan struct{})
	go func() {
		defer close(s.loopDone)
		t := time.NewTicker(RetentionInterval)
		defer t.Stop()
		for {
			if err := s.Prune(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("pruning the trace store failed", "error", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Shutdown stops the retention loop and waits for it within ctx's deadline.
func (s *Store) Shutdown(ctx context.Context) error {
	s.loopMu.Lock()
	cancel, done := s.cancel, s.loopDone
	s.cancel = nil
	s.loopMu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Prune runs retention once.
func (s *Store) Prune(ctx context.Context) error {
	cutoff := float64(s.opts.Now().Add(-s.opts.Retention).Unix())
	n, err := s.deleteTraces(ctx, `SELECT id FROM traces WHERE end_time < ? LIMIT 5000`, cutoff)
	if err != nil {
		return err
	}
	if err := s.deleteGraphBefore(ctx, cutoff); err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("deleted traces past retention", "traces", n, "retention", s.opts.Retention)
	}
	if s.opts.MaxDBSizeMB <= 0 {
		return nil
	}
	limit := int64(s.opts.MaxDBSizeMB) << 20
	total := 0
	for {
		used, err := s.usedBytes(ctx)
		if err != nil {
			return err
		}
		if used <= limit {
			break
		}
		var oldestEnd float64
		if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(end_time), 0) FROM (SELECT end_time FROM traces ORDER BY id_time LIMIT 200)`).Scan(&oldestEnd); err != nil {
			return err
		}
		n, err := s.deleteTraces(ctx, `SELECT id FROM traces ORDER BY id_time LIMIT 200`)
		if err != nil {
			return err
		}
		if err := s.deleteGraphBefore(ctx, oldestEnd); err != nil {
			return err
		}
		total += n
		if n == 0 {
			break
		}
	}
	if total > 0 {
		s.log.Warn("deleted oldest traces to stay under the database size limit", "traces", total, "max_db_size_mb", s.opts.MaxDBSizeMB)
		_, _ = s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	return nil
}

// usedBytes is the database's size without free pages (SQLite reuses them).
func (s *Store) usedBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	if err := s.db.QueryRowContext(ctx, `SELECT page_count, freelist_count, page_size FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()`).Scan(&pages, &free, &size); err != nil {
		return 0, fmt.Errorf("reading database size: %w", err)
	}
	return (pages - free) * size, nil
}

// deleteTraces deletes the traces whose ids the query selects, with their service rows.
func (s *Store) deleteTraces(ctx context.Context, sel string, args ...any) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM trace_services WHERE trace IN (`+sel+`)`, args...); err != nil {
		return 0, fmt.Errorf("deleting trace services: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM traces WHERE id IN (`+sel+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("deleting traces: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), tx.Commit()
}

func (s *Store) deleteGraphBefore(ctx context.Context, t float64) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, err := s.db.ExecContext(ctx, `DELETE FROM graph WHERE bucket + ? <= ?`, bucketSec, t)
	return err
}
