// Package journal is wacht's durable event log: NATS JetStream, embedded in
// the process by default (file storage in the data directory, no network
// port unless one is configured) or an external NATS cluster.
//
// Listeners append batches of encoded events and answer their sources
// "accepted" only after Append returned, that is after JetStream stored the
// batch. Consumers read by sequence and purge what they have made durable
// elsewhere.
//
// Durability: JetStream writes each message to the operating system before
// acknowledging it, so a killed process loses nothing acknowledged; it
// fsyncs on an interval (Config.SyncInterval), so a power cut can lose up to
// that interval. SyncAlways fsyncs every append (slow: batch events).
package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config configures the journal.
type Config struct {
	// Dir holds JetStream's files (embedded mode).
	Dir string
	// URL of an external NATS server or cluster; empty runs NATS embedded.
	URL string
	// Listen optionally exposes the embedded server on host:port.
	Listen string
	// SyncInterval is how often JetStream fsyncs (embedded mode).
	SyncInterval time.Duration
	// SyncAlways fsyncs before every acknowledgement.
	SyncAlways bool
	// MaxBytes bounds the journal on disk; appends fail once it is full
	// (the consumer purges what it has indexed).
	MaxBytes int64
	// MaxMessageBytes is the largest batch one append may carry.
	MaxMessageBytes int32
	// Stream and Subject name the JetStream stream (defaults "WACHT_EVENTS",
	// "wacht.events").
	Stream  string
	Subject string
	// Replicas for a clustered stream.
	Replicas int
}

// Journal is an open journal.
type Journal struct {
	cfg    Config
	log    *slog.Logger
	ns     *server.Server
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
}

// ErrFull is returned by Append when the journal has no room.
var ErrFull = errors.New("journal full")

// Open starts (or connects to) NATS and makes sure the stream exists.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Journal, error) {
	if cfg.Stream == "" {
		cfg.Stream = "WACHT_EVENTS"
	}
	if cfg.Subject == "" {
		cfg.Subject = "wacht.events"
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 8 << 20
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 4 << 30
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = time.Second
	}
	j := &Journal{cfg: cfg, log: log}
	var err error
	if cfg.URL == "" {
		if err := j.startEmbedded(); err != nil {
			return nil, err
		}
		j.nc, err = nats.Connect("", nats.InProcessServer(j.ns), nats.Name("wacht"))
	} else {
		j.nc, err = nats.Connect(cfg.URL, nats.Name("wacht"), nats.MaxReconnects(-1))
	}
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("connect to journal: %w", err)
	}
	j.js, err = jetstream.New(j.nc)
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("open jetstream: %w", err)
	}
	replicas := max(cfg.Replicas, 1)
	j.stream, err = j.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       cfg.Stream,
		Subjects:   []string{cfg.Subject},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardNew,
		MaxBytes:   cfg.MaxBytes,
		MaxMsgSize: cfg.MaxMessageBytes,
		Replicas:   replicas,
	})
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("create journal stream %s: %w", cfg.Stream, err)
	}
	return j, nil
}

func (j *Journal) startEmbedded() error {
	opts := &server.Options{
		ServerName:         "wacht",
		JetStream:          true,
		StoreDir:           filepath.Clean(j.cfg.Dir),
		DontListen:         j.cfg.Listen == "",
		NoSigs:             true,
		NoLog:              true,
		MaxPayload:         j.cfg.MaxMessageBytes,
		SyncInterval:       j.cfg.SyncInterval,
		SyncAlways:         j.cfg.SyncAlways,
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  j.cfg.MaxBytes + 64<<20,
	}
	if j.cfg.Listen != "" {
		host, port, err := splitHostPort(j.cfg.Listen)
		if err != nil {
			return fmt.Errorf("journal listen address %q: %w", j.cfg.Listen, err)
		}
		opts.Host, opts.Port = host, port
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("start embedded NATS: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return errors.New("start embedded NATS: not ready after 30s")
	}
	j.ns = ns
	return nil
}

// Append stores one message and returns its sequence once JetStream has
// acknowledged it.
func (j *Journal) Append(ctx context.Context, data []byte) (uint64, error) {
	ack, err := j.js.Publish(ctx, j.cfg.Subject, data)
	if err != nil {
		var apiErr *jetstream.APIError
		// 10077 is JetStream's "stream store failed", which a stream with
		// DiscardNew answers when it reached MaxBytes.
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == 10077 || strings.Contains(apiErr.Description, "maximum")) {
			return 0, fmt.Errorf("%w: %v", ErrFull, err)
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return 0, fmt.Errorf("append to journal: batch of %d bytes is larger than %d: %w", len(data), j.cfg.MaxMessageBytes, err)
		}
		return 0, fmt.Errorf("append to journal: %w", err)
	}
	return ack.Sequence, nil
}

// Message is one stored message.
type Message struct {
	Seq  uint64
	Data []byte
}

// Read returns up to max messages starting at sequence from, waiting up to
// wait for the first one. It returns no messages and no error when there is
// nothing new.
func (j *Journal) Read(ctx context.Context, from uint64, max int, wait time.Duration) ([]Message, error) {
	cons, err := j.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
	})
	if err != nil {
		return nil, fmt.Errorf("read journal from %d: %w", from, err)
	}
	batch, err := cons.Fetch(max, jetstream.FetchMaxWait(wait))
	if err != nil {
		return nil, fmt.Errorf("read journal from %d: %w", from, err)
	}
	var out []Message
	for m := range batch.Messages() {
		md, err := m.Metadata()
		if err != nil {
			return out, fmt.Errorf("read journal metadata: %w", err)
		}
		out = append(out, Message{Seq: md.Sequence.Stream, Data: m.Data()})
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		return out, fmt.Errorf("read journal from %d: %w", from, err)
	}
	return out, nil
}

// Consumer returns a long-lived ordered consumer starting at from; the
// indexer uses it to stream messages without re-creating a consumer per
// read.
func (j *Journal) Consumer(ctx context.Context, from uint64) (jetstream.Consumer, error) {
	c, err := j.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   max(from, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("open journal consumer at %d: %w", from, err)
	}
	return c, nil
}

// Purge drops every message below seq.
func (j *Journal) Purge(ctx context.Context, seq uint64) error {
	if err := j.stream.Purge(ctx, jetstream.WithPurgeSequence(seq)); err != nil {
		return fmt.Errorf("purge journal below %d: %w", seq, err)
	}
	return nil
}

// State is the journal's current extent.
type State struct {
	FirstSeq, LastSeq uint64
	Messages, Bytes   uint64
}

// State reports the stream's extent.
func (j *Journal) State(ctx context.Context) (State, error) {
	info, err := j.stream.Info(ctx)
	if err != nil {
		return State{}, fmt.Errorf("journal state: %w", err)
	}
	return State{FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq, Messages: info.State.Msgs, Bytes: info.State.Bytes}, nil
}

// MaxMessageBytes is the largest payload one Append takes.
func (j *Journal) MaxMessageBytes() int { return int(j.cfg.MaxMessageBytes) }

// Close disconnects and stops the embedded server, flushing its files.
func (j *Journal) Close() {
	if j.nc != nil {
		j.nc.Close()
	}
	if j.ns != nil {
		j.ns.Shutdown()
		j.ns.WaitForShutdown()
	}
}
