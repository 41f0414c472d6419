// Command loadclient sends N unique messages of a given size over C
// concurrent SMTP connections and prints the rate. It is the load side of
// bench/run.sh; loopback only.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"mime"
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
	to := flag.String("to", "load.test@canary.example", "recipient (without -targets)")
	targets := flag.String("targets", "", "TSV of canary identities to write to: email, name, price, item, order number")
	flag.Parse()
	var ts []target
	if *targets != "" {
		var err error
		if ts, err = readTargets(*targets); err != nil {
			fmt.Fprintln(os.Stderr, "loadclient:", err)
			os.Exit(1)
		}
	}
	if err := run(*addr, *n, *size, *conns, *to, ts); err != nil {
		fmt.Fprintln(os.Stderr, "loadclient:", err)
		os.Exit(1)
	}
}

// target is one order's canary identities, as a scam mail would quote them.
type target struct{ email, name, price, item, orderNo string }

func readTargets(path string) ([]target, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []target
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("%s line %d: want 5 tab-separated fields, got %d", path, i+1, len(f))
		}
		out = append(out, target{f[0], f[1], f[2], f[3], f[4]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no targets", path)
	}
	return out, nil
}

// scamMessage is what a fake customer service writes: the canary address,
// the shipping name, the order's item, price and number, a number to call,
// then filler up to size bytes. Every message differs by its run id and
// index.
func scamMessage(run string, i, size int, t target) []byte {
	var b strings.Builder
	subject := mime.QEncoding.Encode("utf-8", "Đơn hàng "+t.orderNo+" của bạn chưa thanh toán thành công")
	fmt.Fprintf(&b, "From: =?utf-8?q?Ch=C4=83m_s=C3=B3c_kh=C3=A1ch_h=C3=A0ng?= <cskh@sender.example>\r\nTo: %s\r\nSubject: %s\r\n", t.email, subject)
	fmt.Fprintf(&b, "Message-ID: <%s.%d@sender.example>\r\nDate: Mon, 02 Nov 2026 10:00:00 +0700\r\nMIME-Version: 1.0\r\n", run, i)
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	fmt.Fprintf(&b, "Kính gửi %s,\r\nĐơn hàng %s giá %s của bạn chưa thanh toán thành công. Vui lòng gọi 0987 654 321 để được hoàn tiền.\r\n", t.name, t.item, t.price)
	line := "Chúng tôi xin lỗi vì sự bất tiện này. Nếu không xác nhận trong hôm nay, đơn hàng sẽ bị hủy và tiền sẽ không được hoàn lại.\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String())
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

func run(addr string, n, size, conns int, to string, targets []target) error {
	id := make([]byte, 6)
	rand.Read(id)
	runID := hex.EncodeToString(id)
	msgs := make([][]byte, n)
	rcpts := make([]string, n)
	for i := range msgs {
		if len(targets) > 0 {
			t := targets[i%len(targets)]
			msgs[i], rcpts[i] = scamMessage(runID, i, size, t), t.email
		} else {
			msgs[i], rcpts[i] = message(runID, i, size, to), to
		}
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
				if err := c.SendMail("bounce@sender.example", []string{rcpts[i]}, strings.NewReader(string(msgs[i]))); err != nil {
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
