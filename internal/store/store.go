// Package store is the local X-Ray backend's SQLite store: it ingests segment
// documents (validated and assembled by package trace), keeps one row per trace with
// its compressed documents, its summary, its filter view and its graph contributions,
// pre-aggregates the service graph per minute, and answers the X-Ray read APIs.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/xrayd/xrayd/internal/sampling"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// DBFile is the database file name inside Options.Dir.
const DBFile = "xray.db"

// bucketSec is the resolution of the pre-aggregated service graph and time series.
const bucketSec = 60

// Options configure a Store.
type Options struct {
	Dir         string           // data directory; the database is Dir/xray.db
	Retention   time.Duration    // traces older than this are deleted (0 = 30 days)
	MaxDBSizeMB int              // when the database grows past this, the oldest traces go (0 = no limit)
	Now         func() time.Time // clock (nil = time.Now)
	Logger      *slog.Logger     // nil = discard
}

// Store is the SQLite-backed trace store. Its methods are safe for concurrent use;
// writes are serialized.
type Store struct {
	db   *sql.DB
	path string
	opts Options
	log  *slog.Logger

	writeMu sync.Mutex // one writer at a time (SQLite allows one anyway)

	loopMu   sync.Mutex
	cancel   context.CancelFunc
	loopDone chan struct{}
}

const schema = `
CREATE TABLE IF NOT EXISTS traces (
	id            INTEGER PRIMARY KEY,
	trace_id      TEXT NOT NULL UNIQUE,
	id_time       REAL NOT NULL,
	start_time    REAL NOT NULL,
	first_end     REAL NOT NULL,
	end_time      REAL NOT NULL,
	response_time REAL,
	duration      REAL,
	flags         INTEGER NOT NULL,
	http_status   INTEGER,
	ndocs         INTEGER NOT NULL,
	raw_bytes     INTEGER NOT NULL,
	docs          BLOB NOT NULL, -- S2(graph contributions + raw documents)
	meta          BLOB NOT NULL  -- S2(filter view + TraceSummary JSON)
);
CREATE INDEX IF NOT EXISTS traces_id_time ON traces(id_time);
CREATE INDEX IF NOT EXISTS traces_start_time ON traces(start_time);
CREATE INDEX IF NOT EXISTS traces_end_time ON traces(end_time);
CREATE TABLE IF NOT EXISTS trace_services (
	trace   INTEGER NOT NULL,
	service TEXT NOT NULL,
	PRIMARY KEY (trace, service)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS graph (
	bucket INTEGER NOT NULL,
	key    TEXT NOT NULL,
	agg    BLOB NOT NULL,
	PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS telemetry (
	id          INTEGER PRIMARY KEY,
	received_at REAL NOT NULL,
	hostname    TEXT,
	instance_id TEXT,
	resource_arn TEXT,
	record      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
`

// Open opens (creating if needed) Dir/xray.db.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retention <= 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("store: Options.Dir is empty; set the data directory")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data directory %s: %w", opts.Dir, err)
	}
	path := filepath.Join(opts.Dir, DBFile)
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(OFF)&_pragma=cache_size(-32000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating schema in %s: %w", path, err)
	}
	return &Store{db: db, path: path, opts: opts, log: opts.Logger}, nil
}

// Close stops the retention loop if running and closes the database.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
	return s.db.Close()
}

// Path returns the database file path.
func (s *Store) Path() string { return s.path }

// SizeBytes returns the database size (main file plus WAL).
func (s *Store) SizeBytes() int64 {
	var n int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// RecordTelemetry stores one PutTelemetryRecords call.
func (s *Store) RecordTelemetry(ctx context.Context, hostname, instanceID, resourceARN string, records []json.RawMessage) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := float64(s.opts.Now().UnixMicro()) / 1e6
	for _, r := range records {
		if _, err := tx.ExecContext(ctx, `INSERT INTO telemetry(received_at, hostname, instance_id, resource_arn, record) VALUES (?,?,?,?,?)`,
			now, hostname, instanceID, resourceARN, string(r)); err != nil {
			return fmt.Errorf("storing telemetry: %w", err)
		}
	}
	return tx.Commit()
}

// TelemetryCount returns how many telemetry records are stored.
func (s *Store) TelemetryCount(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM telemetry`).Scan(&n)
	return n, err
}

const rulesKey = "sampling_rules"

// SaveRules implements sampling.Persister.
func (s *Store) SaveRules(recs []sampling.RuleRecord) error {
	b, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, err = s.db.Exec(`INSERT INTO kv(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, rulesKey, b)
	if err != nil {
		return fmt.Errorf("saving sampling rules: %w", err)
	}
	return nil
}

// LoadRules implements sampling.Persister.
func (s *Store) LoadRules() ([]sampling.RuleRecord, bool, error) {
	var b []byte
	err := s.db.QueryRow(`SELECT value FROM kv WHERE key = ?`, rulesKey).Scan(&b)
	if err == sql.ErrNoRows {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("loading sampling rules: %w", err)
	}
	var recs []sampling.RuleRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, false, fmt.Errorf("decoding stored sampling rules: %w", err)
	}
	return recs, true, nil
}

var _ sampling.Persister = (*Store)(nil)
