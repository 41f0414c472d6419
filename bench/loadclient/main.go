// Command loadclient sends N unique messages of a given size over C
// concurrent SMTP connections and prints the rate. It is the load side of
// bench/run.sh; loopback only.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2525", "SMTP server")
	n := flag.Int("n", 1000, "messages in total")
	size := flag.Int("size", 2048, "message size in bytes")
	conns := flag.Int("conns", 8, "concurrent connections")
	to := flag.String("to", "load.test@canary.example", "recipient")
	flag.Parse()
	if err := run(*addr, *n, *size, *conns, *to); err != nil {
		fmt.Fprintln(os.Stderr, "loadclient:", err)
		os.Exit(1)
	}
}

// message builds a unique message of about size bytes: a run id and its
// index make every message's SHA-256 different.
func message(run string, i, size int, to string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: Shop Support <support@sender.example>\r\nTo: %s\r\nSubject: Your order %s-%d\r\n", to, run, i)
	fmt.Fprintf(&b, "Message-ID: <%s.%d@sender.example>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0700\r\nMIME-Version: 1.0\r\n", run, i)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n")
	line := "Chi Linh oi, don hang cua chi bi loi thanh toan, vui long goi lai de duoc hoan tien ngay.\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String())
}

func run(addr string, n, size, conns int, to string) error {
	id := make([]byte, 6)
	rand.Read(id)
	runID := hex.EncodeToString(id)
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = message(runID, i, size, to)
	}
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, conns)
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errc <- err
				return
			}
			c := smtp.NewClient(nc)
			defer c.Close()
			if err := c.Hello("loadclient.test"); err != nil {
				errc <- err
				return
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					c.Quit()
					return
				}
				if err := c.SendMail("bounce@sender.example", []string{to}, strings.NewReader(string(msgs[i]))); err != nil {
					failed.Add(1)
					errc <- fmt.Errorf("message %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errc)
	for err := range errc {
		return err
	}
	fmt.Printf("msgs=%d size=%d conns=%d seconds=%.3f msgs_per_s=%.1f\n", n, size, conns, elapsed.Seconds(), float64(n)/elapsed.Seconds())
	return nil
}
