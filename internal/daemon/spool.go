package daemon

import (
	"context"
	"time"

	"github.com/xrayd/xrayd/internal/counters"
	"github.com/xrayd/xrayd/internal/queue"
	"github.com/xrayd/xrayd/internal/spool"
)

// spill writes items the daemon would otherwise drop to the on-disk spool and returns
// how many it kept. It may run under the queue's lock (budget eviction).
func (d *Daemon) spill(items []*queue.Item, reason counters.DropReason) int {
	if d.spool == nil || len(items) == 0 {
		return 0
	}
	docs := make([][]byte, len(items))
	for i, it := range items {
		docs[i] = it.Data
	}
	kept, err := d.spool.Write(docs)
	if err != nil {
		d.log.Error("Writing to the spool failed", "dir", d.cfg.SpoolDir, "error", err)
	}
	if kept < len(items) {
		if ok, suppressed := d.dropLog.Allow("spool-full"); ok {
			d.log.Warn("Spool is full; segments dropped", "dir", d.cfg.SpoolDir, "max_mb", d.cfg.SpoolMaxMB, "dropped", len(items)-kept, "earlier_warnings_suppressed", suppressed)
		}
	}
	if kept > 0 {
		if ok, suppressed := d.dropLog.Allow("spooled-" + reason.String()); ok {
			d.log.Warn("Segments written to the on-disk spool; they will be sent when the backend accepts them", "count", kept, "reason", reason.String(), "spool_bytes", d.spool.Bytes(), "earlier_warnings_suppressed", suppressed)
		}
	}
	return kept
}

// replaySpool moves spooled segments back into the queue while the queue has room and
// the backend is healthy; it seals the file being written when the spool would otherwise
// sit idle, so nothing waits for a restart.
func (d *Daemon) replaySpool(ctx context.Context) {
	if n := d.spool.Pending(); n > 0 {
		d.log.Info("Spooled segments found; sending them", "files", n, "bytes", d.spool.Bytes(), "dir", d.cfg.SpoolDir)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for d.replayOne() {
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// replayOne moves one spool file into the queue; false when there was nothing to do.
func (d *Daemon) replayOne() bool {
	if since, _ := d.exporter.Health(); !since.IsZero() {
		return false // the backend is failing: keep the data on disk
	}
	if d.queue.Bytes() > d.queue.Budget()/2 {
		return false
	}
	if d.spool.Pending() == 0 {
		if d.spool.Bytes() == 0 {
			return false
		}
		if err := d.spool.Seal(); err != nil {
			d.log.Error("Sealing the spool file failed", "error", err)
			return false
		}
	}
	path, docs, ok, err := d.spool.Oldest()
	if err != nil {
		d.log.Error("Reading the spool", "file", path, "error", err)
	}
	if !ok {
		return false
	}
	now := time.Now()
	items := make([]*queue.Item, 0, len(docs))
	for _, doc := range docs {
		it := d.pool.Item(doc)
		it.Enqueued = now
		items = append(items, it)
	}
	if len(items) > 0 {
		d.queue.Push(items...)
	}
	if err := d.spool.Remove(path); err != nil {
		d.log.Error("Removing a replayed spool file", "file", path, "error", err)
	}
	d.log.Info("Replayed segments from the spool", "count", len(items), "left_bytes", d.spool.Bytes())
	return true
}

func openSpool(d *Daemon) error {
	if d.cfg.SpoolDir == "" {
		return nil
	}
	sp, err := spool.Open(d.cfg.SpoolDir, int64(d.cfg.SpoolMaxMB)<<20)
	if err != nil {
		return err
	}
	d.spool = sp
	return nil
}
