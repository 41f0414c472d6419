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

	"github.com/emersion/go-smtp"
)

type backend struct{ spool *spool }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return session{b.spool}, nil }

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

// spool is a group-committed append-only file: one goroutine writes what
// every session handed over since its last fdatasync, syncs, and then
// releases all of them.
type spool struct {
	f    *os.File
	reqs chan spoolReq
}

type spoolReq struct {
	data []byte
	done chan error
}

func openSpool(path string) (*spool, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	s := &spool{f: f, reqs: make(chan spoolReq, 256)}
	go s.run()
	return s, nil
}

func (s *spool) append(data []byte) error {
	done := make(chan error, 1)
	s.reqs <- spoolReq{data, done}
	return <-done
}

func (s *spool) run() {
	var buf []byte
	for first := range s.reqs {
		batch := []spoolReq{first}
	fill:
		for {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		buf = buf[:0]
		for _, r := range batch {
			buf = append(buf, r.data...)
		}
		_, err := s.f.Write(buf)
		if err == nil {
			err = fdatasync(s.f)
		}
		for _, r := range batch {
			r.done <- err
		}
	}
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
