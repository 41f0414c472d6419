// Package sqlite stores leaktrace's data in one SQLite file, through
// modernc.org/sqlite (pure Go). All SQL lives here.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/leaktrace/leaktrace/canary"
)

//go:embed migration/*.sql
var migrations embed.FS

// DB is the leaktrace database.
type DB struct {
	db   *sql.DB
	path string
	log  *slog.Logger

	// Now and Rand are replaceable so tests and the demo can be repeatable.
	Now  func() time.Time
	Rand io.Reader

	mu       sync.Mutex
	prepared map[string]*sql.Stmt

	tokenChains sync.Map // token ID → audit chain (see Tx.tokenChain)
}

// Open opens (creating with mode 0600 if needed) the database at path and
// brings its schema up to date.
func Open(ctx context.Context, path string, log *slog.Logger) (*DB, error) {
	if path == "" {
		return nil, canary.Invalidf("database path is empty: pass --db PATH or set LEAKTRACE_DB")
	}
	// The file holds the advocate's address and data about other people:
	// create it private before SQLite opens it with the process umask.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	// _pragma parameters reach every pooled connection; a one-off PRAGMA would not.
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	// Acknowledged evidence must survive power loss, not only a crash.
	q.Add("_pragma", "synchronous(FULL)")
	// 16 MiB of pages per connection (SQLite's default is 2 MiB): the
	// indexes by hash take inserts at random places, and re-reading their
	// pages from the file cost the writer a system call each.
	q.Add("_pragma", "cache_size(-16384)")
	q.Set("_txlock", "immediate")
	// In a file: URI '?' starts the query, '#' the fragment and '%' an
	// escape: escape them, or SQLite opens (and creates, with the umask's
	// mode) another file than the one made private above.
	uriPath := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+uriPath+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	d := &DB{db: db, path: path, log: log, Now: time.Now, Rand: rand.Reader}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	d.mu.Lock()
	for _, st := range d.prepared {
		st.Close()
	}
	d.prepared = nil
	d.mu.Unlock()
	return d.db.Close()
}

// stmt returns query prepared for tx. The statements every contact runs
// are prepared once per connection and kept: SQLite's parser was an eighth
// of the cost of receiving a message when each one was prepared anew.
func (tx *Tx) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	d := tx.db
	d.mu.Lock()
	st, ok := d.prepared[query]
	if !ok {
		var err error
		if st, err = d.db.PrepareContext(ctx, query); err != nil {
			d.mu.Unlock()
			return nil, fmt.Errorf("prepare statement: %w", err)
		}
		if d.prepared == nil {
			d.prepared = map[string]*sql.Stmt{}
		}
		d.prepared[query] = st
	}
	d.mu.Unlock()
	return tx.StmtContext(ctx, st), nil
}

// execStmt runs a kept statement in tx.
func (tx *Tx) execStmt(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRowStmt runs a kept single-row query in tx.
func (tx *Tx) queryRowStmt(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	st, err := tx.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

// Path is the database file's path.
func (d *DB) Path() string { return d.path }

func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migration/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migration/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		if err := d.applyMigration(ctx, version, base, name); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) applyMigration(ctx context.Context, version int, base, name string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration %s: %w", base, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return fmt.Errorf("check migration %s: %w", base, err)
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return fmt.Errorf("read migration %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("apply migration %s: %w", base, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		version, base, fmtTime(d.Now())); err != nil {
		return fmt.Errorf("record migration %s: %w", base, err)
	}
	return tx.Commit()
}

// Tx is a write transaction with the clock it was opened at.
type Tx struct {
	*sql.Tx
	db  *DB
	now time.Time

	// heads caches each chain's last (seq, hash) written or read in this
	// transaction, which holds the write lock, so a batch of contacts does
	// not re-read it for every entry. forgetHeads drops it when a savepoint
	// is rolled back.
	heads map[string]chainHead
}

type chainHead struct {
	seq  int64
	hash string
}

// forgetHeads must be called after ROLLBACK TO a savepoint: entries the
// cache remembers may be gone.
func (tx *Tx) forgetHeads() { tx.heads = nil }

func (d *DB) begin(ctx context.Context) (*Tx, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	return &Tx{Tx: tx, db: d, now: d.Now().UTC()}, nil
}

// timeLayout sorts lexically in time order, which the queries rely on.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s sql.NullString) time.Time {
	if !s.Valid || s.String == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, s.String)
	if err != nil {
		t, _ = time.Parse(time.RFC3339Nano, s.String)
	}
	return t
}

// mapErr turns driver errors into canary sentinels by numeric code.
func mapErr(err error, what string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w", what, canary.ErrConflict)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, canary.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isConflict(err error) bool { return errors.Is(err, canary.ErrConflict) }

func isNotFound(err error) bool { return errors.Is(err, canary.ErrNotFound) }
