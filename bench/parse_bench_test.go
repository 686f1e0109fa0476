package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all" // registers every parser
)

// One benchmark operation is one pass over a fixed corpus, so that the
// numbers mean something under `-benchtime 1x` (make bench) as well as under
// the default benchtime. MB/s comes from b.SetBytes (corpus bytes per pass);
// events/s is reported beside it.

// syslogCorpus generates n realistic syslog lines in RFC 5424 (rfc5424 true)
// or RFC 3164 form: sshd logins and failures, sudo, cron, kernel firewall and
// systemd lines with the hosts, ports and pids a small site produces.
func syslogCorpus(n int, rfc5424 bool) [][]byte {
	users := []string{"root", "admin", "alice", "bob", "deploy", "oracle", "postgres", "ubuntu"}
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		ts := base.Add(time.Duration(i) * 137 * time.Millisecond)
		host := fmt.Sprintf("srv-%02d.corp.example.org", i%37)
		user := users[i%len(users)]
		ip := fmt.Sprintf("%d.%d.%d.%d", 10+i%200, (i/7)%256, (i/13)%256, 1+i%254)
		pid := 1000 + (i*7919)%60000
		var app, msg, sd string
		switch i % 6 {
		case 0:
			app, msg = "sshd", fmt.Sprintf("Failed password for invalid user %s from %s port %d ssh2", user, ip, 1024+i%60000)
			sd = fmt.Sprintf(`[origin ip="%s" software="OpenSSH" swVersion="9.2p1"]`, ip)
		case 1:
			app, msg = "sshd", fmt.Sprintf("Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:Vf3Pz8Tq0%07dkq2L", user, ip, 1024+i%60000, i)
			sd = "-"
		case 2:
			app, msg = "sudo", fmt.Sprintf("%s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx.service", user, i%8, user)
			sd = fmt.Sprintf(`[meta sequenceId="%d"][exampleSDID@32473 iut="3" eventSource="Application" eventID="%d"]`, i, 1000+i%50)
		case 3:
			app, msg = "CRON", fmt.Sprintf("(%s) CMD (/usr/local/bin/backup.sh --target s3://backups/%s >/dev/null 2>&1)", user, host)
			sd = "-"
		case 4:
			app, msg = "kernel", fmt.Sprintf("[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=%s DST=10.0.0.%d LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=%d DF PROTO=TCP SPT=%d DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0", ip, i%254, i%65535, 1024+i%60000)
			sd = "-"
		default:
			app, msg = "systemd", fmt.Sprintf("Started Session %d of User %s.", i, user)
			sd = "-"
		}
		pri := 8*(4+i%2) + (3 + i%5) // auth / authpriv facilities, err..notice
		var line string
		if rfc5424 {
			line = fmt.Sprintf("<%d>1 %s %s %s %d - %s %s", pri, ts.Format("2006-01-02T15:04:05.000000Z07:00"), host, app, pid, sd, msg)
		} else {
			line = fmt.Sprintf("<%d>%s %s %s[%d]: %s", pri, ts.Format(time.Stamp), host, app, pid, msg)
		}
		out = append(out, []byte(line))
	}
	return out
}

func corpusBytes(c [][]byte) int64 {
	var n int64
	for _, l := range c {
		n += int64(len(l))
	}
	return n
}

// benchParser runs one registered parser over the corpus per operation.
func benchParser(b *testing.B, name string, corpus [][]byte) {
	inst, err := parse.NewInstance(name)
	if err != nil {
		b.Fatalf("parser %s: %v", name, err)
	}
	now := time.Now().UTC()
	var ev event.Event
	errs := 0
	b.SetBytes(corpusBytes(corpus))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, rec := range corpus {
			ev = event.Event{Tenant: "default", IngestTime: now, Source: event.Source{Listener: "bench"}, Fields: ev.Fields[:0]}
			if err := inst.Record(rec, &ev); err != nil && !errors.Is(err, parse.ErrNoEvent) {
				errs++
			}
		}
	}
	b.StopTimer()
	reportEventsPerSec(b, len(corpus))
	// Real corpora hold a few records their parser rightly rejects (the
	// jc CEF fixtures test malformed headers); they are counted, and a
	// parser that fails most records fails the benchmark.
	if errs*2 > b.N*len(corpus) {
		b.Fatalf("parser %s: %d parse errors over %d records", name, errs, b.N*len(corpus))
	}
	b.ReportMetric(float64(errs)/float64(b.N), "errors/op")
}

func reportEventsPerSec(b *testing.B, perOp int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*perOp)/s, "events/s")
	}
	b.ReportMetric(float64(perOp), "events/op")
}

// BenchmarkParse measures wacht's parsers through the registry on realistic
// inputs, beside encoding/json.Unmarshal into map[string]any on the same
// JSON. WACHT_BENCH_PARSE_EVENTS sets the corpus size (default 50,000).
func BenchmarkParse(b *testing.B) {
	n := envInt("WACHT_BENCH_PARSE_EVENTS", 50000)
	b.Run("rfc5424", func(b *testing.B) { benchParser(b, "rfc5424", syslogCorpus(n, true)) })
	b.Run("rfc3164", func(b *testing.B) { benchParser(b, "rfc3164", syslogCorpus(n, false)) })
	b.Run("syslog-autodetect", func(b *testing.B) { benchParser(b, "syslog", syslogCorpus(n, true)) })
	otrf := func(b *testing.B) [][]byte { return loadOTRF(b, n) }
	b.Run("json-otrf", func(b *testing.B) { benchParser(b, "json", otrf(b)) })
	b.Run("winlog-otrf", func(b *testing.B) { benchParser(b, "winlog", otrf(b)) })
	b.Run("encoding-json-otrf", func(b *testing.B) {
		corpus := otrf(b)
		b.SetBytes(corpusBytes(corpus))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, rec := range corpus {
				var m map[string]any
				if err := json.Unmarshal(rec, &m); err != nil {
					b.Fatalf("encoding/json: %v", err)
				}
			}
		}
		b.StopTimer()
		reportEventsPerSec(b, len(corpus))
	})
}
