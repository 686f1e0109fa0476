package bench

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

// BenchmarkParseFormats runs the text parsers the parsers issue names (CEF,
// LEEF, auditd, Zeek, CloudTrail, plus W3C and access logs) over real
// records from ../shared where it has them, repeated to about 8 MB per
// operation; MB/s is per core (the loop is single-threaded).
//
//	cd bench && go test -run '^$' -bench ParseFormats -benchtime 5x .
func BenchmarkParseFormats(b *testing.B) {
	root := sharedDir()
	read := func(rel string) []byte {
		data, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			b.Skipf("shared data %s: %v", rel, err)
		}
		if strings.HasSuffix(rel, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				b.Fatal(err)
			}
		}
		return data
	}
	lines := func(data []byte) [][]byte { return parsetest.Lines(data) }
	b.Run("cef-jc", func(b *testing.B) {
		benchParser(b, "cef", grow(lines(read("datasets/jc-cef-syslog-fixtures/cef.out"))))
	})
	b.Run("leef", func(b *testing.B) {
		benchParser(b, "leef", grow(parsetest.Repeat(1000,
			"LEEF:1.0|Microsoft|MSExchange|4.0 SP1|15345|src=10.50.1.1\tdst=2.10.20.20\tspt=1200\tusrName=bob%d\tsev=5\tdevTime=Jan 02 2024 03:04:05",
			"LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^srcPort=81^dstPort=21%d^proto=tcp")))
	})
	b.Run("auditd-libaudit", func(b *testing.B) {
		var all [][]byte
		for _, f := range []string{"audit-rhel6.log", "audit-rhel7.log", "audit-ubuntu14.log", "audit-ubuntu16.log", "audit-ubuntu17.log"} {
			all = append(all, lines(read("datasets/auditd-go-libaudit/auparse/testdata/"+f))...)
		}
		benchParser(b, "auditd", grow(all))
	})
	b.Run("zeek-dns-wrccdc", func(b *testing.B) {
		benchParser(b, "zeek", lines(read("datasets/zeek-wrccdc-2018/zeek-default/dns.log.gz")))
	})
	b.Run("cloudtrail-panther", func(b *testing.B) {
		benchParser(b, "cloudtrail", grow(parsetest.PantherLogs(b, "AWS_CloudTrail.jsonl")))
	})
	b.Run("w3c-iis", func(b *testing.B) {
		recs := [][]byte{[]byte("#Software: Microsoft Internet Information Services 10.0"),
			[]byte("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken")}
		recs = append(recs, parsetest.Repeat(20000, "2024-01-02 03:04:05 10.0.0.1 GET /owa/auth/logon.aspx id=%d 443 - 192.0.2.7 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15")...)
		benchParser(b, "w3c", recs)
	})
	b.Run("accesslog-combined", func(b *testing.B) {
		benchParser(b, "accesslog", grow(parsetest.Repeat(1000,
			`192.0.2.%d - alice [11/Jul/2018:08:41:28 +0300] "GET /wp-login.php?id=%d HTTP/1.1" 200 11444 "-" "Mozilla/5.0 (X11; Linux x86_64)"`)))
	})
}

// grow repeats a small sample until it is about 8 MB, so that one
// operation is long enough to measure.
func grow(recs [][]byte) [][]byte {
	size := 0
	for _, r := range recs {
		size += len(r) + 1
	}
	if size == 0 {
		return recs
	}
	out := recs
	for n := size; n < 8<<20; n += size {
		out = append(out, recs...)
	}
	return out
}
