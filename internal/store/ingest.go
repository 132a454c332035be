package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/xrayd/xrayd/internal/trace"
)

// Unprocessed is a document that was refused, as PutTraceSegments reports it.
type Unprocessed struct {
	Id        string `json:"Id,omitempty"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
	// Index is the position in Ingest's input of the document this entry is about.
	Index int `json:"-"`
}

// flag bits of traces.flags.
const (
	flagFault = 1 << iota
	flagError
	flagThrottle
	flagPartial
	flagOK
	flagHasRoot
)

type incoming struct {
	raw []byte
	doc *trace.Doc
}

type traceWork struct {
	traceID string
	newDocs []incoming

	// loaded from the database
	rowID      int64
	exists     bool
	oldRaw     [][]byte
	oldContrib []trace.Contribution

	// computed
	row        traceRow
	services   []string
	newContrib []trace.Contribution
	err        error
}

type traceRow struct {
	idTime, startTime, firstEnd, endTime float64
	responseTime, duration               sql.NullFloat64
	flags                                int
	httpStatus                           sql.NullInt64
	ndocs, rawBytes                      int
	docs, summary, view, meta            []byte
}

// Ingest validates and stores segment documents (each one object, or an array of
// independent subsegments). Invalid documents are returned as Unprocessed; the error
// is reserved for storage failures. Documents of the same trace in one call are
// assembled together, and every touched trace is re-assembled once per call, so
// callers should batch.
func (s *Store) Ingest(ctx context.Context, docs [][]byte) ([]Unprocessed, error) {
	parsed, bad := parseAll(docs)
	if len(parsed) == 0 {
		return bad, nil
	}
	byTrace := map[string]*traceWork{}
	var works []*traceWork
	for _, in := range parsed {
		w := byTrace[in.doc.TraceID]
		if w == nil {
			w = &traceWork{traceID: in.doc.TraceID}
			byTrace[in.doc.TraceID] = w
			works = append(works, w)
		}
		w.newDocs = append(w.newDocs, in)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("starting ingest transaction: %w", err)
	}
	defer tx.Rollback()
	if err := loadExisting(ctx, tx, byTrace, works); err != nil {
		return nil, err
	}
	parallel(len(works), func(i int) { works[i].compute() })
	if err := s.writeTraces(ctx, tx, works); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing ingest transaction: %w", err)
	}
	return bad, nil
}

// parseAll splits and parses documents on all cores, keeping input order.
func parseAll(docs [][]byte) ([]incoming, []Unprocessed) {
	type result struct {
		ok  []incoming
		bad []Unprocessed
	}
	res := make([]result, len(docs))
	parallel(len(docs), func(i int) {
		parts, err := trace.Split(docs[i])
		if err != nil {
			res[i].bad = append(res[i].bad, unprocessed(err, i))
			return
		}
		for _, p := range parts {
			d, err := trace.Parse(p)
			if err != nil {
				res[i].bad = append(res[i].bad, unprocessed(err, i))
				continue
			}
			res[i].ok = append(res[i].ok, incoming{raw: p, doc: d})
		}
	})
	var ok []incoming
	var bad []Unprocessed
	for _, r := range res {
		ok = append(ok, r.ok...)
		bad = append(bad, r.bad...)
	}
	return ok, bad
}

func unprocessed(err error, index int) Unprocessed {
	var ve *trace.ValidationError
	if errors.As(err, &ve) {
		return Unprocessed{Id: ve.ID, ErrorCode: ve.Code, Message: ve.Msg, Index: index}
	}
	return Unprocessed{ErrorCode: trace.CodeInvalidJSON, Message: err.Error(), Index: index}
}

// parallel runs fn(0..n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, fn func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < 32 || workers < 2 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	const chunk = 16
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
}

// loadExisting reads the stored documents of the traces the batch touches.
func loadExisting(ctx context.Context, tx *sql.Tx, byTrace map[string]*traceWork, works []*traceWork) error {
	const chunk = 400
	for lo := 0; lo < len(works); lo += chunk {
		hi := min(lo+chunk, len(works))
		args := make([]any, 0, hi-lo)
		for _, w := range works[lo:hi] {
			args = append(args, w.traceID)
		}
		q := `SELECT id, trace_id, docs FROM traces WHERE trace_id IN (?` + strings.Repeat(",?", len(args)-1) + `)`
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("reading stored traces: %w", err)
		}
		for rows.Next() {
			var id int64
			var tid string
			var blob []byte
			if err := rows.Scan(&id, &tid, &blob); err != nil {
				rows.Close()
				return fmt.Errorf("reading stored traces: %w", err)
			}
			w := byTrace[tid]
			contrib, raws, err := unpackDocs(blob)
			if err != nil {
				rows.Close()
				return fmt.Errorf("trace %s: %w", tid, err)
			}
			w.rowID, w.exists, w.oldRaw = id, true, raws
			if err := json.Unmarshal(contrib, &w.oldContrib); err != nil {
				rows.Close()
				return fmt.Errorf("trace %s: decoding graph contributions: %w", tid, err)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// compute re-assembles the trace from its stored and new documents and derives the row.
func (w *traceWork) compute() {
	docs := make([]*trace.Doc, 0, len(w.oldRaw)+len(w.newDocs))
	raws := make([][]byte, 0, cap(docs))
	for _, r := range w.oldRaw {
		d, err := trace.Parse(r)
		if err != nil {
			continue // stored documents were valid when stored; skip if the rules changed
		}
		docs = append(docs, d)
		raws = append(raws, r)
	}
	for _, in := range w.newDocs {
		docs = append(docs, in.doc)
		raws = append(raws, in.raw)
	}
	t := trace.Assemble(w.traceID, docs)
	w.newContrib = t.Contributions()
	contrib, err := json.Marshal(w.newContrib)
	if err != nil {
		w.err = err
		return
	}
	sum := t.Summary()
	w.row.summary, err = json.Marshal(sum)
	if err != nil {
		w.err = err
		return
	}
	w.row.view, err = encodeView(t.View())
	if err != nil {
		w.err = err
		return
	}
	w.row.docs = packDocs(contrib, raws)
	w.row.meta = packMeta(w.row.view, w.row.summary)
	w.row.idTime, w.row.startTime = t.IDTime(), t.StartTime()
	w.row.firstEnd, w.row.endTime = t.FirstEnd(), t.EndTime()
	if rt, ok := t.ResponseTime(); ok {
		w.row.responseTime = sql.NullFloat64{Float64: rt, Valid: true}
	}
	if d, ok := t.Duration(); ok {
		w.row.duration = sql.NullFloat64{Float64: d, Valid: true}
	}
	fault, errf, throttle := t.Flags()
	w.row.flags = boolFlag(fault, flagFault) | boolFlag(errf, flagError) | boolFlag(throttle, flagThrottle) |
		boolFlag(sum.IsPartial, flagPartial) | boolFlag(t.Root != nil && !fault && !errf, flagOK) | boolFlag(t.Root != nil, flagHasRoot)
	if t.Root != nil && t.Root.HTTP.Status != 0 {
		w.row.httpStatus = sql.NullInt64{Int64: int64(t.Root.HTTP.Status), Valid: true}
	}
	w.row.ndocs = len(raws)
	for _, r := range raws {
		w.row.rawBytes += len(r)
	}
	w.services = t.ServiceNames()
}

func boolFlag(b bool, f int) int {
	if b {
		return f
	}
	return 0
}

func (s *Store) writeTraces(ctx context.Context, tx *sql.Tx, works []*traceWork) error {
	ins, err := tx.PrepareContext(ctx, `INSERT INTO traces(trace_id, id_time, start_time, first_end, end_time, response_time, duration,
		flags, http_status, ndocs, raw_bytes, docs, meta) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	upd, err := tx.PrepareContext(ctx, `UPDATE traces SET id_time=?, start_time=?, first_end=?, end_time=?, response_time=?, duration=?,
		flags=?, http_status=?, ndocs=?, raw_bytes=?, docs=?, meta=? WHERE id=?`)
	if err != nil {
		return err
	}
	defer upd.Close()
	delSvc, err := tx.PrepareContext(ctx, `DELETE FROM trace_services WHERE trace = ?`)
	if err != nil {
		return err
	}
	defer delSvc.Close()
	insSvc, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO trace_services(trace, service) VALUES (?, ?)`)
	if err != nil {
		return err
	}
	defer insSvc.Close()

	delta := map[trace.BucketKey]*trace.Agg{}
	for _, w := range works {
		if w.err != nil {
			return fmt.Errorf("trace %s: %w", w.traceID, w.err)
		}
		r := &w.row
		if w.exists {
			if _, err := upd.ExecContext(ctx, r.idTime, r.startTime, r.firstEnd, r.endTime, r.responseTime, r.duration,
				r.flags, r.httpStatus, r.ndocs, r.rawBytes, r.docs, r.meta, w.rowID); err != nil {
				return fmt.Errorf("updating trace %s: %w", w.traceID, err)
			}
			if _, err := delSvc.ExecContext(ctx, w.rowID); err != nil {
				return err
			}
		} else {
			res, err := ins.ExecContext(ctx, w.traceID, r.idTime, r.startTime, r.firstEnd, r.endTime, r.responseTime, r.duration,
				r.flags, r.httpStatus, r.ndocs, r.rawBytes, r.docs, r.meta)
			if err != nil {
				return fmt.Errorf("inserting trace %s: %w", w.traceID, err)
			}
			if w.rowID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		for _, svc := range w.services {
			if _, err := insSvc.ExecContext(ctx, w.rowID, svc); err != nil {
				return err
			}
		}
		trace.Aggregate(w.oldContrib, bucketSec, -1, delta)
		trace.Aggregate(w.newContrib, bucketSec, 1, delta)
	}
	return applyGraphDelta(ctx, tx, delta)
}

// applyGraphDelta merges per-minute node/edge aggregate changes into the graph table.
func applyGraphDelta(ctx context.Context, tx *sql.Tx, delta map[trace.BucketKey]*trace.Agg) error {
	sel, err := tx.PrepareContext(ctx, `SELECT agg FROM graph WHERE bucket = ? AND key = ?`)
	if err != nil {
		return err
	}
	defer sel.Close()
	put, err := tx.PrepareContext(ctx, `INSERT INTO graph(bucket, key, agg) VALUES (?,?,?) ON CONFLICT(bucket, key) DO UPDATE SET agg = excluded.agg`)
	if err != nil {
		return err
	}
	defer put.Close()
	del, err := tx.PrepareContext(ctx, `DELETE FROM graph WHERE bucket = ? AND key = ?`)
	if err != nil {
		return err
	}
	defer del.Close()
	for bk, d := range delta {
		if d.N == 0 && d.Root == 0 && d.Total() == 0 && len(d.Hist) == 0 && d.Counts == [4]int64{} {
			continue
		}
		key := aggKey(bk.Key)
		cur := &trace.Agg{}
		var blob []byte
		switch err := sel.QueryRowContext(ctx, bk.Bucket, key).Scan(&blob); {
		case err == sql.ErrNoRows:
		case err != nil:
			return fmt.Errorf("reading graph aggregate: %w", err)
		default:
			if cur, err = decodeAgg(blob, nil); err != nil {
				return err
			}
		}
		cur.Merge(d, 1)
		if cur.Empty() {
			if _, err := del.ExecContext(ctx, bk.Bucket, key); err != nil {
				return err
			}
			continue
		}
		if _, err := put.ExecContext(ctx, bk.Bucket, key, encodeAgg(cur)); err != nil {
			return fmt.Errorf("writing graph aggregate: %w", err)
		}
	}
	return nil
}
