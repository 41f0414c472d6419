// Command sink is a go-smtp server that accepts every message and discards
// it: the ceiling of what an SMTP receiver in Go can take on this machine.
//
// With -spool FILE it is instead the least a durable receiver must do:
// each message is appended to FILE and answered 250 only once an fdatasync
// covering it has returned, with the messages of concurrent sessions
// sharing one write and one fdatasync (group commit). No parsing, no
// matching, no database: the ceiling of any receiver that keeps the
// promise `leaktrace serve` keeps, on this machine's disk.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/emersion/go-smtp"
)

type backend struct{ spool *spool }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return session(b), nil }

type session struct{ spool *spool }

func (session) Reset()                               {}
func (session) Logout() error                        { return nil }
func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s session) Data(r io.Reader) error {
	if s.spool == nil {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	return s.spool.append(buf.Bytes())
}

// spool is a group-committed log: a session that finds no sync under way
// writes what every session queued since the last sync, syncs, and
// releases them all (leader and followers, as databases do it), so one
// connection pays no hand-off to another goroutine. The file is written
// full of zeros first and then overwritten as a ring, as SQLite reuses its
// WAL: overwriting written blocks needs no journal commit on fdatasync,
// which an append does. Both make this ceiling as high as it can be.
type spool struct {
	f    *os.File
	size int64

	mu      sync.Mutex
	queue   []spoolReq
	syncing bool
	off     int64
	buf     []byte
}

type spoolReq struct {
	data []byte
	done chan error
}

const spoolSize = 256 << 20

func openSpool(path string) (*spool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, 1<<20)
	for range spoolSize >> 20 {
		if _, err := f.Write(zeros); err != nil {
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return &spool{f: f, size: spoolSize}, nil
}

func (s *spool) append(data []byte) error {
	done := make(chan error, 1)
	s.mu.Lock()
	s.queue = append(s.queue, spoolReq{data, done})
	if s.syncing {
		s.mu.Unlock()
		return <-done
	}
	s.syncing = true
	for len(s.queue) > 0 {
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		err := s.write(batch)
		for _, r := range batch {
			r.done <- err
		}
		s.mu.Lock()
	}
	s.syncing = false
	s.mu.Unlock()
	return <-done
}

// write is only ever run by the one leader of the moment.
func (s *spool) write(batch []spoolReq) error {
	s.buf = s.buf[:0]
	for _, r := range batch {
		s.buf = append(s.buf, r.data...)
	}
	for b := s.buf; len(b) > 0; {
		if s.off == s.size {
			s.off = 0
		}
		n := min(int64(len(b)), s.size-s.off)
		if _, err := s.f.WriteAt(b[:n], s.off); err != nil {
			return err
		}
		s.off += n
		b = b[n:]
	}
	return fdatasync(s.f)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:2527", "listen address")
	spoolPath := flag.String("spool", "", "append every message to this file, fdatasync'd before the 250 (empty: discard)")
	flag.Parse()
	var b backend
	if *spoolPath != "" {
		sp, err := openSpool(*spoolPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			os.Exit(1)
		}
		b.spool = sp
	}
	s := smtp.NewServer(b)
	s.Domain = "sink.test"
	s.MaxMessageBytes = 10 << 20
	s.MaxRecipients = 100
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
	fmt.Println("listening", l.Addr())
	if err := s.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, "sink:", err)
		os.Exit(1)
	}
}
