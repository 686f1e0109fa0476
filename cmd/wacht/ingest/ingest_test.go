package ingest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/api"
	ingestsrv "github.com/wacht-soc/wacht/internal/ingest"
	_ "github.com/wacht-soc/wacht/internal/parse/all"
)

type oneToken struct{}

func (oneToken) Authenticate(_ context.Context, tok string) (api.Identity, error) {
	if tok == "secret" {
		return api.Identity{Subject: "ian", Tenant: "default", Role: api.RoleIngest, Method: api.AuthToken}, nil
	}
	return api.Identity{}, api.ErrDenied
}

// journal counts the events per source file name, each message, and the
// events with parse errors.
type journal struct {
	mu        sync.Mutex
	byPeer    map[string]int
	byMessage map[string]int
	errors    int
}

func (j *journal) Append(_ context.Context, data []byte) (uint64, error) {
	evs, err := event.DecodeBatch(data)
	if err != nil {
		return 0, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ev := range evs {
		j.byPeer[filepath.Base(ev.Source.Peer)]++
		j.byMessage[ev.Message]++
		if len(ev.Errors) > 0 {
			j.errors++
		}
	}
	return 1, nil
}

func (j *journal) counts() map[string]int {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]int{}
	for k, v := range j.byPeer {
		out[k] = v
	}
	return out
}

// newServer serves the ingest API over a journal that counts events per
// source file; requests may be up to maxRequest bytes. wrap, if given,
// stands in front of the API.
func newServer(t *testing.T, maxRequest int64, wrap ...func(http.Handler) http.Handler) (*journal, *httptest.Server) {
	j := &journal{byPeer: map[string]int{}, byMessage: map[string]int{}}
	acc := ingestsrv.NewAccepter(j, ingestsrv.Limits{MaxEventBytes: 1 << 20, MaxRequestBytes: maxRequest}, func() uint64 { return 1 << 62 }, metrics.NewSet(), slog.New(slog.DiscardHandler))
	var h http.Handler = api.New(api.Deps{Auth: oneToken{}, Log: slog.New(slog.DiscardHandler), Ingest: ingestsrv.NewHTTP(acc, api.TenantOf, slog.New(slog.DiscardHandler))})
	for _, w := range wrap {
		h = w(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return j, ts
}

// ingest runs `wacht ingest args…` against the server at url.
func ingest(url string, args ...string) error {
	g := &cli.Globals{Server: url, Token: "secret"}
	root := &cobra.Command{Use: "wacht", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(NewCommand(g))
	root.SetOut(&strings.Builder{})
	root.SetArgs(append([]string{"ingest"}, args...))
	return root.Execute()
}

// An interrupted or partly failed run, started again, sends only the files
// the server has not accepted; a finished run leaves no record behind.
func TestIngestResumes(t *testing.T) {
	j, ts := newServer(t, 1<<20)

	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.log", "<34>Oct 11 22:14:15 gw sshd[42]: Failed password for root from 192.0.2.9 port 2222 ssh2\n")
	write("b.log", "hello there\nsecond line\n") // no format the server can tell
	write("c.log", "CEF:0|Acme|FW|1.0|100|Blocked|5|src=192.0.2.9\nCEF:0|Acme|FW|1.0|100|Blocked|5|src=192.0.2.10\n")
	resume := filepath.Join(t.TempDir(), "resume.json")

	run := func() error { return ingest(ts.URL, "--resume-file", resume, dir) }
	if err := run(); err == nil || !strings.Contains(err.Error(), "1 of 3 files were not ingested") {
		t.Fatalf("first run: %v", err)
	}
	if got := j.counts(); got["a.log"] != 1 || got["c.log"] != 2 || got["b.log"] != 0 {
		t.Fatalf("after first run: %v", got)
	}
	if _, err := os.Stat(resume); err != nil {
		t.Fatalf("no resume record after a failed run: %v", err)
	}
	// The operator fixes b.log (new size and time) and runs the command again.
	write("b.log", "<34>Oct 11 22:14:15 gw sshd[42]: Accepted password for bob from 192.0.2.7 port 22 ssh2\n")
	future := time.Now().Add(time.Minute)
	os.Chtimes(filepath.Join(dir, "b.log"), future, future)
	if err := run(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if got := j.counts(); got["a.log"] != 1 || got["c.log"] != 2 || got["b.log"] != 1 {
		t.Fatalf("second run sent more than the missing file: %v", got)
	}
	if _, err := os.Stat(resume); !os.IsNotExist(err) {
		t.Fatalf("resume record kept after a complete run: %v", err)
	}
	// With no record left, a new run sends everything again.
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if got := j.counts(); got["a.log"] != 2 || got["c.log"] != 4 || got["b.log"] != 2 {
		t.Fatalf("third run: %v", got)
	}
}

// A file cut short (an archive member, or a .gz the server refuses) is
// sent as far as it can be read, and the run says so and fails; complete
// files go as they are.
func TestIngestSendsTheReadablePartOfACutFile(t *testing.T) {
	var b bytes.Buffer
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "<34>Oct 11 22:14:15 gw sshd[%d]: Failed password for root from 192.0.2.9 port %d ssh2\n", i, 1000+i)
	}
	var tgz, gz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"first.log", "second.log"} {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(b.Len())})
		tw.Write(b.Bytes())
	}
	tw.Close()
	zw.Close()
	zw = gzip.NewWriter(&gz)
	zw.Write(b.Bytes())
	zw.Close()
	for _, c := range []struct {
		file     string
		data     []byte
		want     string
		complete string // a file sent whole, if any
		cut      string
	}{
		{"host.tgz", tgz.Bytes()[:tgz.Len()*3/4], "1 of 2 files are cut short", "first.log", "second.log"},
		{"auth.log.gz", gz.Bytes()[:gz.Len()/2], "1 of 1 files are cut short", "", "auth.log.gz"},
	} {
		t.Run(c.file, func(t *testing.T) {
			j, ts := newServer(t, 8<<20)
			dir := t.TempDir()
			path := filepath.Join(dir, c.file)
			os.WriteFile(path, c.data, 0o600)
			err := ingest(ts.URL, "--resume-file", filepath.Join(dir, "resume.json"), path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v", err)
			}
			got := j.counts()
			if c.complete != "" && got[c.complete] != 3000 || got[c.cut] == 0 || got[c.cut] >= 3000 {
				t.Fatalf("sent %v", got)
			}
		})
	}
}
