package ingest

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/sync/semaphore"
)

// dataBlock is the unit in which message data is read and counted.
const dataBlock = 64 << 10

// errBusy defers a message when the bytes of all messages in transfer
// would pass the server's bound: the sender retries later, as it would
// for a full disk.
var errBusy = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Too much mail in transfer, try again later"}

// dataBuffers reads messages into reused blocks and bounds the bytes all
// sessions hold at once, so many large messages arriving together cannot
// exhaust memory: a session waits for room, and defers its message (452)
// if none is made before the wait ends.
type dataBuffers struct {
	pool   sync.Pool
	budget *semaphore.Weighted
	wait   time.Duration
	held   atomic.Int64 // what the budget has given out
}

func newDataBuffers(maxBytes int64, wait time.Duration) *dataBuffers {
	return &dataBuffers{
		pool:   sync.Pool{New: func() any { return new([dataBlock]byte) }},
		budget: semaphore.NewWeighted(maxBytes),
		wait:   wait,
	}
}

// heldMessage is a message's bytes and the share of the budget they hold
// until release.
type heldMessage struct {
	raw  []byte
	held int64
	from *dataBuffers
}

func (h *heldMessage) release() {
	if h.held > 0 {
		h.from.held.Add(-h.held)
		h.from.budget.Release(h.held)
		h.held = 0
	}
}

// read takes the message into memory within the size limit, resetting the
// read deadline per block and bounding the whole transfer. Blocks come
// from a pool and are copied once, at the end, into a slice of the exact
// size: a 2 KB message costs 2 KB of new memory, a 10 MiB one its size
// plus the blocks in use.
func (ss *session) read(r io.Reader) (*heldMessage, error) {
	cfg := ss.srv.cfg
	bufs := ss.srv.data
	start := time.Now()
	defer ss.netConn.SetReadDeadline(time.Time{})
	var blocks []*[dataBlock]byte
	defer func() {
		for _, b := range blocks {
			bufs.pool.Put(b)
		}
	}()
	h := &heldMessage{from: bufs}
	fail := func(err error) (*heldMessage, error) {
		h.release()
		return nil, err
	}
	total, inBlock := 0, dataBlock
	for {
		if inBlock == dataBlock {
			if err := bufs.take(h); err != nil {
				return fail(err)
			}
			blocks = append(blocks, bufs.pool.Get().(*[dataBlock]byte))
			inBlock = 0
		}
		dl := time.Now().Add(cfg.DataBlock)
		if end := start.Add(cfg.DataTimeout); end.Before(dl) {
			dl = end
		}
		ss.netConn.SetReadDeadline(dl)
		n, err := r.Read(blocks[len(blocks)-1][inBlock:])
		inBlock += n
		total += n
		if err == io.EOF {
			h.raw = make([]byte, 0, total)
			for i, b := range blocks {
				if i == len(blocks)-1 {
					h.raw = append(h.raw, b[:inBlock]...)
				} else {
					h.raw = append(h.raw, b[:]...)
				}
			}
			return h, nil
		}
		if err != nil {
			return fail(err)
		}
	}
}

// take adds one block to what h holds, waiting a while for room.
func (d *dataBuffers) take(h *heldMessage) error {
	if !d.budget.TryAcquire(dataBlock) {
		ctx, cancel := context.WithTimeout(context.Background(), d.wait)
		defer cancel()
		if err := d.budget.Acquire(ctx, dataBlock); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return errBusy
			}
			return err
		}
	}
	h.held += dataBlock
	d.held.Add(dataBlock)
	return nil
}

// BytesInFlight is the message data the sessions hold now, counted in
// whole blocks.
func (s *SMTP) BytesInFlight() int64 { return s.data.held.Load() }
