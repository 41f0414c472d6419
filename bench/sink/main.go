// Command sink is a go-smtp server that accepts every message and discards
// it: the ceiling of what an SMTP receiver in Go can take on this machine.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/emersion/go-smtp"
)

type backend struct{}

func (backend) NewSession(*smtp.Conn) (smtp.Session, error) { return session{}, nil }

type session struct{}

func (session) Reset()                               {}
func (session) Logout() error                        { return nil }
func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (session) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

func main() {
	addr := flag.String("addr", "127.0.0.1:2527", "listen address")
	flag.Parse()
	s := smtp.NewServer(backend{})
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
