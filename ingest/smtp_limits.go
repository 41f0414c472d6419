package ingest

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener refuses connections over the total and per-address limits
// with a 421 reply.
type limitListener struct {
	net.Listener
	max, perIP int
	log        *slog.Logger

	srv *SMTP

	mu    sync.Mutex
	total int
	per   map[string]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := c.RemoteAddr().String()
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		l.mu.Lock()
		if l.total >= l.max || l.per[ip] >= l.perIP {
			l.mu.Unlock()
			l.log.Warn("connection refused: too many connections", "peer", ip)
			go refuse(c)
			continue
		}
		l.total++
		l.per[ip]++
		l.mu.Unlock()
		lc := &limitConn{Conn: c}
		lc.release = func() {
			l.mu.Lock()
			l.total--
			if l.per[ip]--; l.per[ip] <= 0 {
				delete(l.per, ip)
			}
			l.mu.Unlock()
			l.srv.mu.Lock()
			delete(l.srv.conns, lc)
			l.srv.mu.Unlock()
		}
		l.srv.mu.Lock()
		l.srv.conns[lc] = struct{}{}
		l.srv.mu.Unlock()
		if l.srv.draining.Load() {
			lc.Close()
			continue
		}
		return lc, nil
	}
}

func refuse(c net.Conn) {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "421 4.7.0 Too many connections, try again later\r\n")
	c.Close()
}

type limitConn struct {
	net.Conn
	busy    atomic.Bool // inside a mail transaction
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	if c.Conn == nil {
		return nil
	}
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
