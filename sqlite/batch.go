package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/leaktrace/leaktrace/canary"
)

var _ canary.ContactRecorder = (*Batcher)(nil)

// ErrBatcherClosed is returned for contacts handed to a Batcher after Close.
var ErrBatcherClosed = errors.New("contact writer is closed")

// BatchOptions bound what one shared transaction holds.
type BatchOptions struct {
	MaxContacts int // contacts per transaction (default 256)
	MaxBytes    int // raw bytes per transaction (default 32 MiB)
}

// Batcher is the one place where several contacts share a transaction
// (group commit). A caller that finds no write under way becomes the
// leader: it writes every contact queued meanwhile in one transaction, and
// then, as long as others have queued more, it writes those, until its own
// contact is committed; it then hands the lead to the first caller still
// waiting. So a lone caller writes its own contact with no hand-off to
// another goroutine, and under load each commit takes every contact that
// arrived while the previous one was being made durable. The SQL is
// RecordContact's; one bad contact fails alone (see commit).
// RecordContact returns only once the transaction holding its contact has
// committed, with synchronous=FULL.
type Batcher struct {
	db   *DB
	log  *slog.Logger
	opts BatchOptions

	mu      sync.Mutex
	queue   []*batchReq
	leading bool // a caller is writing; false only when queue is empty
	closed  bool
	idle    sync.Cond // broadcast when leading turns false

	// Leaders at work, which must never be more than one; overlaps counts
	// the times it was, for the tests.
	leaders, overlaps atomic.Int32
}

type batchReq struct {
	ctx  context.Context
	key  string
	p    *preparedContact
	id   int64
	dup  bool
	err  error
	done chan struct{} // closed once committed or failed

	// Under Batcher.mu: chosen is set, and lead is sent to, when the
	// caller must take the lead; gone when it stopped waiting.
	chosen, gone bool
	lead         chan struct{}
}

// NewBatcher returns a Batcher; Close waits for the contacts already handed
// over to be committed.
func (d *DB) NewBatcher(log *slog.Logger, opts BatchOptions) *Batcher {
	if opts.MaxContacts <= 0 {
		opts.MaxContacts = 256
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 32 << 20
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Batcher{db: d, log: log, opts: opts}
	b.idle.L = &b.mu
	return b
}

// RecordContact hands the contact to the writer and waits until it is
// durably committed (or failed). When ctx ends first, the contact may still
// be committed; the caller must then treat it as not acknowledged, and a
// retry of the same bytes is recognised as a duplicate. A caller that is
// writing when ctx ends finishes the transaction first (others wait for
// it; lock waits are bounded by busy_timeout) and returns its result.
func (b *Batcher) RecordContact(ctx context.Context, c *canary.Contact, raw []byte) (int64, bool, error) {
	return b.RecordContactKeyed(ctx, "", c, raw)
}

// RecordContactKeyed is RecordContact with an idempotency key (such as
// "twilio:sms:SM…"): a contact whose key is already held is a duplicate of
// the contact recorded under it, whatever its bytes. Key and contact are
// committed together.
func (b *Batcher) RecordContactKeyed(ctx context.Context, key string, c *canary.Contact, raw []byte) (int64, bool, error) {
	// Hashing and encoding happen before the queue, so that whoever holds
	// the database's write lock only runs SQL.
	p, err := prepareContact(c, raw)
	if err != nil {
		return 0, false, err
	}
	req := &batchReq{ctx: ctx, key: key, p: p, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, false, ErrBatcherClosed
	}
	b.queue = append(b.queue, req)
	if !b.leading {
		b.leading = true
		b.mu.Unlock()
		// lead returns once req is committed or failed, and never runs
		// twice for one request: a second run would make two leaders.
		b.lead(req)
		return req.id, req.dup, req.err
	}
	b.mu.Unlock()
	select {
	case <-req.done:
	case <-req.lead:
		b.lead(req)
	case <-ctx.Done():
		b.mu.Lock()
		chosen := req.chosen
		req.gone = !chosen
		b.mu.Unlock()
		if !chosen {
			return 0, false, fmt.Errorf("wait for commit: %w", ctx.Err())
		}
		// The lead was handed over as ctx ended: the others wait for it.
		b.lead(req)
	}
	return req.id, req.dup, req.err
}

// lead writes batches until self's contact is committed and then hands the
// lead to the first caller still waiting, or gives it up when none is
// queued.
func (b *Batcher) lead(self *batchReq) {
	// Leading for a request already committed could only mean a second
	// leader next to the one that committed it.
	if b.leaders.Add(1) > 1 || isClosed(self.done) {
		b.overlaps.Add(1)
		b.log.Error("two contact writers at once: group commit is broken")
	}
	// The lead ends, under b.mu, before another caller can take it.
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			b.leaders.Add(-1)
			b.leading = false
			b.idle.Broadcast()
			b.mu.Unlock()
			return
		}
		if isClosed(self.done) {
			for _, next := range b.queue {
				if !next.gone {
					b.leaders.Add(-1)
					next.chosen = true
					next.lead <- struct{}{}
					b.mu.Unlock()
					return
				}
			}
		}
		n, size := 0, 0
		for n < len(b.queue) && n < b.opts.MaxContacts && (n == 0 || size < b.opts.MaxBytes) {
			size += len(b.queue[n].p.raw)
			n++
		}
		batch := slices.Clone(b.queue[:n])
		b.queue = slices.Delete(b.queue, 0, n)
		b.mu.Unlock()
		b.commit(batch)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Close waits for the contacts already handed over to be committed; later
// ones get ErrBatcherClosed.
func (b *Batcher) Close() error {
	b.mu.Lock()
	b.closed = true
	for b.leading {
		b.idle.Wait()
	}
	b.mu.Unlock()
	return nil
}

// commit writes one batch in one transaction. The batch is first written
// without savepoints, the common case where every contact can be stored;
// if one fails, the transaction is rolled back and the batch is written
// again with a savepoint per contact, so the bad one fails alone.
//
// The transaction does not use any caller's context: a contact whose
// caller gave up is skipped, the others must not be cut off half-way. Nor
// has it a deadline: a context that can end makes the driver watch every
// statement from another goroutine, and lock waits are already bounded by
// busy_timeout.
func (b *Batcher) commit(batch []*batchReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	start := time.Now()
	err := b.write(batch, false)
	if errors.Is(err, errContactFailed) {
		for _, r := range batch {
			r.err = nil
		}
		err = b.write(batch, true)
	}
	if err != nil {
		for _, r := range batch {
			if r.err == nil {
				// The rows were rolled back: no id of theirs holds.
				r.err, r.id, r.dup, r.p.c.ID = err, 0, false, 0
			}
		}
		b.log.Error("contact batch not committed", "contacts", len(batch), "err", err)
		return
	}
	b.log.Debug("contact batch committed", "contacts", len(batch), "elapsed", time.Since(start))
}

// errContactFailed stops a batch written without savepoints at its first
// failing contact.
var errContactFailed = errors.New("a contact of the batch failed")

func (b *Batcher) write(batch []*batchReq, savepoints bool) error {
	ctx := context.Background()
	tx, err := b.db.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = fmt.Errorf("contact abandoned before commit: %w", err)
			continue
		}
		if savepoints {
			if _, err := tx.execStmt(ctx, `SAVEPOINT contact`); err != nil {
				return fmt.Errorf("begin savepoint: %w", err)
			}
		}
		r.id, r.dup, r.err = tx.recordKeyed(ctx, r.key, r.p)
		if r.err != nil {
			r.id, r.dup, r.p.c.ID = 0, false, 0
			if !savepoints {
				return errContactFailed
			}
			tx.forgetHeads()
			if _, err := tx.execStmt(ctx, `ROLLBACK TO contact`); err != nil {
				return fmt.Errorf("roll back savepoint: %w", err)
			}
		}
		if savepoints {
			if _, err := tx.execStmt(ctx, `RELEASE contact`); err != nil {
				return fmt.Errorf("release savepoint: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit contacts: %w", err)
	}
	return nil
}

// recordKeyed records a contact unless its key is already held.
func (tx *Tx) recordKeyed(ctx context.Context, key string, p *preparedContact) (int64, bool, error) {
	c := p.c
	if key != "" {
		var id int64
		switch err := tx.QueryRowContext(ctx, `SELECT contact_id FROM contact_keys WHERE key = ?`, key).Scan(&id); {
		case err == nil:
			c.ID = id
			return id, true, nil
		case !errors.Is(err, sql.ErrNoRows):
			return 0, false, fmt.Errorf("check contact key: %w", err)
		}
	}
	id, dup, err := tx.recordContact(ctx, p)
	if err != nil || key == "" {
		return id, dup, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO contact_keys (key, contact_id, added_at) VALUES (?, ?, ?)`, key, id, fmtTime(tx.now)); err != nil {
		return 0, false, mapErr(err, "store contact key")
	}
	return id, dup, nil
}
