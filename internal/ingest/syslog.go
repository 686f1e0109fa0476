package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wacht-soc/wacht/event"
)

// SyslogConfig configures the syslog listeners.
type SyslogConfig struct {
	// Tenant stamped on received events.
	Tenant string
	// Parser by name (default "syslog": RFC 5424 or 3164 per message).
	Parser string
	// IdleTimeout closes TCP connections that send nothing for this long.
	IdleTimeout time.Duration
	// MaxConns bounds concurrent TCP connections per listener.
	MaxConns int
	// TenantFromCert, when set on a TLS listener, names the tenant of each
	// connection from its verified client certificate ("" refuses it).
	TenantFromCert func(tls.ConnectionState) string
}

func (c *SyslogConfig) defaults() {
	if c.Parser == "" {
		c.Parser = "syslog"
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 1000
	}
}

// StreamListener serves syslog over TCP or TLS.
type StreamListener struct {
	name string
	ln   net.Listener
	cfg  SyslogConfig
	acc  *Accepter
	log  *slog.Logger
	c    *Counters

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing atomic.Bool
	wg      sync.WaitGroup
	sem     chan struct{}
}

// ListenSyslogTCP listens on addr; with tlsCfg it serves TLS.
func ListenSyslogTCP(addr string, tlsCfg *tls.Config, cfg SyslogConfig, acc *Accepter, log *slog.Logger) (*StreamListener, error) {
	cfg.defaults()
	name := "syslog-tcp"
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		name = "syslog-tls"
		ln = tls.NewListener(ln, tlsCfg)
	}
	return &StreamListener{
		name: name, ln: ln, cfg: cfg, acc: acc, log: log, c: acc.Counters(name),
		conns: map[net.Conn]struct{}{}, sem: make(chan struct{}, cfg.MaxConns),
	}, nil
}

// Addr is the bound address.
func (l *StreamListener) Addr() net.Addr { return l.ln.Addr() }

// Serve accepts connections until Close.
func (l *StreamListener) Serve(ctx context.Context) {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.log.Warn("syslog_accept_failed", "listener", l.name, "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		select {
		case l.sem <- struct{}{}:
		default:
			l.c.Rejected("too_many_connections", 1)
			conn.Close()
			continue
		}
		l.mu.Lock()
		l.conns[conn] = struct{}{}
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer func() {
				l.mu.Lock()
				delete(l.conns, conn)
				l.mu.Unlock()
				conn.Close()
				<-l.sem
				l.wg.Done()
			}()
			l.serveConn(ctx, conn)
		}()
	}
}

func (l *StreamListener) serveConn(ctx context.Context, conn net.Conn) {
	limits := l.acc.Limits()
	tenant := l.cfg.Tenant
	if tc, ok := conn.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(ctx); err != nil {
			l.c.Rejected("tls_handshake", 1)
			l.log.Warn("syslog_tls_handshake_failed", "listener", l.name, "peer", conn.RemoteAddr().String(), "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
		if l.cfg.TenantFromCert != nil {
			if tenant = l.cfg.TenantFromCert(tc.ConnectionState()); tenant == "" {
				l.c.Rejected("client_cert_without_tenant", 1)
				return
			}
		}
	}
	dec, err := NewDecoder(l.cfg.Parser, tenant, event.Source{Listener: l.name, Peer: conn.RemoteAddr().String()}, time.Now())
	if err != nil {
		l.log.Error("syslog_parser_missing", "listener", l.name, "err", err)
		return
	}
	fr := newFrameReader(conn, limits.MaxEventBytes)
	var batch []*event.Event
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		// Backpressure: stop reading while the journal is behind. The
		// kernel's buffers fill and the sender slows down; what was read
		// waits here rather than being dropped.
		waitUntil := time.Time{}
		for {
			err := l.acc.Accept(ctx, batch)
			if err == nil {
				break
			}
			if l.closing.Load() && waitUntil.IsZero() {
				waitUntil = time.Now().Add(10 * time.Second) // shutting down: wait, but not forever
			}
			if errors.Is(err, ErrBackpressure) && ctx.Err() == nil && (waitUntil.IsZero() || time.Now().Before(waitUntil)) {
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
				continue
			}
			// The batch was read from the socket and is lost with this
			// connection: count it and close, so the sender reconnects.
			l.c.Dropped("journal_error", len(batch))
			l.log.Error("syslog_append_failed", "listener", l.name, "events", len(batch), "err", err)
			return false
		}
		l.c.Accepted(dec.Format(), len(batch))
		batch = batch[:0]
		return true
	}
	for {
		if !fr.buffered() {
			// Nothing more to read without blocking: store what we have.
			if !flush() {
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(l.cfg.IdleTimeout))
		}
		msg, size, err := fr.next()
		if err != nil {
			flush()
			var fe *errFrame
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
			case errors.As(err, &fe):
				l.c.Rejected("bad_frame", 1)
				l.log.Warn("syslog_bad_frame", "listener", l.name, "peer", conn.RemoteAddr().String(), "err", err)
			case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, os.ErrDeadlineExceeded):
				l.c.Rejected("idle_timeout", 1)
			default:
				l.log.Debug("syslog_read_failed", "listener", l.name, "err", err)
			}
			return
		}
		dec.base.IngestTime = time.Now().UTC()
		errsBefore := dec.Errors
		var ev *event.Event
		if size > limits.MaxEventBytes {
			l.c.Rejected("event_too_large_truncated", 1)
			if msg == nil {
				msg = []byte{}
			}
			ev = dec.DecodeTruncated(msg, size, limits.MaxEventBytes)
		} else {
			ev = dec.Decode(msg)
		}
		if ev == nil {
			continue // a header line, kept as parser state
		}
		l.c.Received(dec.Format(), 1)
		if dec.Errors > errsBefore {
			l.c.ParseErrors(dec.Format(), 1)
		}
		batch = append(batch, ev)
		if len(batch) >= 1000 {
			if !flush() {
				return
			}
		}
	}
}

// Close stops accepting and closes open connections after they stored
// what they read.
func (l *StreamListener) Close() error {
	l.closing.Store(true)
	err := l.ln.Close()
	l.mu.Lock()
	for c := range l.conns {
		// Unblock readers; each stores its pending batch before returning.
		_ = c.SetReadDeadline(time.Now())
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// PacketListener serves syslog over UDP.
type PacketListener struct {
	pc   net.PacketConn
	cfg  SyslogConfig
	acc  *Accepter
	log  *slog.Logger
	c    *Counters
	q    chan packet
	done chan struct{}
}

type packet struct {
	data []byte
	peer string
	at   time.Time
}

// ListenSyslogUDP listens on addr.
func ListenSyslogUDP(addr string, cfg SyslogConfig, acc *Accepter, log *slog.Logger) (*PacketListener, error) {
	cfg.defaults()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(8 << 20)
	}
	return &PacketListener{pc: pc, cfg: cfg, acc: acc, log: log, c: acc.Counters("syslog-udp"),
		q: make(chan packet, 50000), done: make(chan struct{})}, nil
}

// Addr is the bound address.
func (l *PacketListener) Addr() net.Addr { return l.pc.LocalAddr() }

// Serve reads datagrams until Close. A datagram that cannot be queued
// (the journal is behind and the queue is full) is dropped and counted:
// UDP has no way to push back.
func (l *PacketListener) Serve(ctx context.Context) {
	go l.batch(ctx)
	buf := make([]byte, 64<<10)
	for {
		n, addr, err := l.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				close(l.q)
				return
			}
			continue
		}
		p := packet{data: append([]byte(nil), buf[:n]...), peer: addr.String(), at: time.Now().UTC()}
		select {
		case l.q <- p:
		default:
			l.c.Dropped("queue_full", 1)
		}
	}
}

func (l *PacketListener) batch(ctx context.Context) {
	defer close(l.done)
	decs := map[string]*Decoder{}
	var batch []*event.Event
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	store := func() {
		if len(batch) == 0 {
			return
		}
		for attempt := 0; ; attempt++ {
			err := l.acc.Accept(ctx, batch)
			if err == nil {
				l.c.Accepted("syslog", len(batch))
				break
			}
			if errors.Is(err, ErrBackpressure) && attempt < 50 && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			l.c.Dropped("journal_error", len(batch))
			l.log.Error("syslog_append_failed", "listener", "syslog-udp", "events", len(batch), "err", err)
			break
		}
		batch = batch[:0]
		clear(decs)
	}
	for {
		select {
		case p, ok := <-l.q:
			if !ok {
				store()
				return
			}
			dec := decs[p.peer]
			if dec == nil {
				var err error
				dec, err = NewDecoder(l.cfg.Parser, l.cfg.Tenant, event.Source{Listener: "syslog-udp", Peer: p.peer}, p.at)
				if err != nil {
					l.c.Dropped("no_parser", 1)
					continue
				}
				decs[p.peer] = dec
			}
			dec.base.IngestTime = p.at
			before := dec.Errors
			ev := dec.Decode(p.data)
			if ev == nil {
				continue
			}
			batch = append(batch, ev)
			l.c.Received(dec.Format(), 1)
			if dec.Errors > before {
				l.c.ParseErrors(dec.Format(), 1)
			}
			if len(batch) >= 1000 {
				store()
			}
		case <-tick.C:
			store()
		}
	}
}

// Close stops reading and stores what was queued.
func (l *PacketListener) Close() error {
	err := l.pc.Close()
	<-l.done
	return err
}
