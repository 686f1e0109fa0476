package bench

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// vlogsModule is the standalone VictoriaLogs the end-to-end benchmark runs
// beside wacht; the version is the one wacht embeds.
const (
	vlogsPackage = "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs"
	vlogsVersion = "v1.52.1"
)

// repoRoot is the product module, one level above this module.
func repoRoot() string {
	abs, err := filepath.Abs("..")
	if err != nil {
		return ".."
	}
	return abs
}

// sharedDir is the shared read-only data: WACHT_SHARED, else ../shared beside
// the repository.
func sharedDir() string {
	if d := os.Getenv("WACHT_SHARED"); d != "" {
		return d
	}
	return filepath.Join(repoRoot(), "..", "shared")
}

// envInt reads a positive integer from the environment.
func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(strings.ReplaceAll(v, "_", "")); err == nil && n > 0 {
			return n
		}
	}
	return def
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ---------------------------------------------------------------------------
// OTRF Windows events, read straight from the archives.

// otrfWindowsArchives lists the zip and tar.gz archives of Windows events in
// the OTRF security datasets, sorted by path.
func otrfWindowsArchives() ([]string, error) {
	root := filepath.Join(sharedDir(), "datasets", "otrf-security-datasets")
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() || !strings.Contains(filepath.ToSlash(rel), "/windows/") {
			return nil
		}
		if strings.HasSuffix(p, ".zip") || strings.HasSuffix(p, ".tar.gz") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list OTRF archives under %s: %w", root, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no OTRF Windows archives under %s (set WACHT_SHARED)", root)
	}
	return out, nil
}

// eachJSONLine calls fn for every JSON object line of every member of a zip
// or tar.gz archive.
func eachJSONLine(path string, fn func(line []byte)) error {
	scan := func(r io.Reader) error {
		br := bufio.NewReaderSize(r, 1<<20)
		for {
			line, err := br.ReadBytes('\n')
			line = bytes.TrimSpace(line)
			// Some archives are truncated: keep whole JSON objects only.
			if len(line) > 0 && line[0] == '{' && json.Valid(line) {
				fn(line)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("open %s in %s: %w", f.Name, path, err)
			}
			err = scan(rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("read %s in %s: %w", f.Name, path, err)
			}
		}
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("gunzip %s: %w", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil // end, or a truncated archive
		}
		if err != nil {
			return fmt.Errorf("read tar %s: %w", path, err)
		}
		if h.Typeflag != tar.TypeReg || strings.Contains(h.Name, "/._") || strings.HasPrefix(filepath.Base(h.Name), "._") {
			continue
		}
		if err := scan(tr); err != nil {
			return fmt.Errorf("read %s in %s: %w", h.Name, path, err)
		}
	}
}

var (
	otrfOnce   sync.Once
	otrfEvents [][]byte
	otrfErr    error
)

// loadOTRF returns the OTRF Windows events (one JSON object each), at most
// max of them (0: all), in archive order.
func loadOTRF(tb testing.TB, max int) [][]byte {
	tb.Helper()
	otrfOnce.Do(func() {
		paths, err := otrfWindowsArchives()
		if err != nil {
			otrfErr = err
			return
		}
		for _, p := range paths {
			if err := eachJSONLine(p, func(line []byte) {
				otrfEvents = append(otrfEvents, bytes.Clone(line))
			}); err != nil {
				otrfErr = err
				return
			}
		}
	})
	if otrfErr != nil {
		tb.Fatalf("load OTRF events: %v", otrfErr)
	}
	if max > 0 && max < len(otrfEvents) {
		return otrfEvents[:max]
	}
	return otrfEvents
}

// ---------------------------------------------------------------------------
// Binaries.

var (
	wachtOnce sync.Once
	wachtBin  string
	wachtErr  error
)

// buildWacht builds the product binary from ../ into a temporary directory,
// once per test process; WACHT_BENCH_WACHT names a prebuilt one instead (to
// compare two builds).
func buildWacht(tb testing.TB) string {
	tb.Helper()
	wachtOnce.Do(func() {
		if bin := os.Getenv("WACHT_BENCH_WACHT"); bin != "" {
			wachtBin = bin
			return
		}
		dir, err := os.MkdirTemp("", "wacht-bench-bin-")
		if err != nil {
			wachtErr = fmt.Errorf("temp dir for wacht binary: %w", err)
			return
		}
		wachtBin = filepath.Join(dir, "wacht")
		cmd := exec.Command("go", "build", "-o", wachtBin, "./cmd/wacht")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			wachtErr = fmt.Errorf("go build ./cmd/wacht: %w\n%s", err, out)
		}
	})
	if wachtErr != nil {
		tb.Fatal(wachtErr)
	}
	return wachtBin
}

// buildVictoriaLogs returns a standalone VictoriaLogs binary: WACHT_BENCH_VLOGS
// if set, else one built with `go install` into the user cache (kept there
// between runs; the first build takes a minute or two).
func buildVictoriaLogs(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("WACHT_BENCH_VLOGS"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	gobin := filepath.Join(cache, "wacht-bench", "victoria-logs-"+vlogsVersion)
	bin := filepath.Join(gobin, "victoria-logs")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	tb.Logf("building VictoriaLogs %s with go install into %s", vlogsVersion, gobin)
	cmd := exec.Command("go", "install", vlogsPackage+"@"+vlogsVersion)
	cmd.Dir = os.TempDir() // outside any module
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go install %s@%s: %v\n%s", vlogsPackage, vlogsVersion, err, out)
	}
	return bin
}

// ---------------------------------------------------------------------------
// Processes.

// childEnv is this process's environment without the benchmark's own
// WACHT_BENCH_* settings: wacht refuses unknown WACHT_* variables.
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WACHT_BENCH_") {
			out = append(out, kv)
		}
	}
	return out
}

// freeAddr returns a free 127.0.0.1 TCP address.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// proc is a server process started by a benchmark; it is stopped on cleanup.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProc(tb testing.TB, name, logPath string, env []string, bin string, args ...string) *proc {
	tb.Helper()
	lf, err := os.Create(logPath)
	if err != nil {
		tb.Fatalf("create %s log: %v", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(childEnv(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		tb.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	tb.Cleanup(func() { _ = p.stop(10 * time.Second) })
	return p
}

// stop asks the process to shut down (SIGTERM) and kills it after timeout.
func (p *proc) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s: killed", p.name, timeout)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// waitHTTP polls url until it answers 200.
func waitHTTP(tb testing.TB, p *proc, u string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.exited() {
			tb.Fatalf("%s exited before it was ready: %v\n%s", p.name, p.err, p.tail())
		}
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("%s not ready at %s within %s\n%s", p.name, u, timeout, p.tail())
}

// httpClient keeps enough idle connections for the concurrent senders.
var httpClient = &http.Client{Transport: &http.Transport{
	MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
}}

// post sends one body and retries while the server pushes back (429/503).
func post(ctx context.Context, u, auth, ctype string, body []byte) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("request %s: %w", u, err)
		}
		req.Header.Set("Content-Type", ctype)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return fmt.Errorf("post %s: %w", u, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 2:
			return nil
		case (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) && attempt < 10000:
			wait := 100 * time.Millisecond
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 && s < 5 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			return fmt.Errorf("post %s: %s: %s", u, resp.Status, bytes.TrimSpace(msg))
		}
	}
}

// getBody fetches a URL with an optional Authorization header.
func getBody(ctx context.Context, u, auth string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("request %s: %w", u, err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// countFrom reads the first NDJSON row's field n as a number (stats count()
// answers strings in both wacht and VictoriaLogs).
func countFrom(b []byte, field string) (int, error) {
	line, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte("\n"))
	if len(line) == 0 {
		return 0, nil
	}
	var row map[string]any
	if err := json.Unmarshal(line, &row); err != nil {
		return 0, fmt.Errorf("decode %q: %w", line, err)
	}
	switch v := row[field].(type) {
	case string:
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("count %q: %w", v, err)
		}
		return n, nil
	case float64:
		return int(v), nil
	}
	return 0, fmt.Errorf("no %s in %s", field, line)
}

// ---------------------------------------------------------------------------
// wacht.

type wachtServer struct {
	p     *proc
	URL   string
	Token string
	Data  string
}

// startWacht creates an admin token offline and starts `wacht serve` on free
// loopback ports with data in dir; env adds WACHT_* settings.
func startWacht(tb testing.TB, dir string, env ...string) *wachtServer {
	tb.Helper()
	bin := buildWacht(tb)
	data := filepath.Join(dir, "wacht-data")
	tc := exec.Command(bin, "token", "create", "--data", data, "--name", "bench", "--role", "admin", "--json")
	tc.Env = childEnv()
	var stderr bytes.Buffer
	tc.Stderr = &stderr
	out, err := tc.Output()
	if err != nil {
		tb.Fatalf("wacht token create: %v\n%s", err, stderr.Bytes())
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(out, &tok); err != nil || tok.Token == "" {
		tb.Fatalf("wacht token create printed %q: %v", out, err)
	}
	httpAddr, tcpAddr := freeAddr(tb), freeAddr(tb)
	p := startProc(tb, "wacht", filepath.Join(dir, "wacht.log"), env, bin,
		"serve", "--data", data, "--http", httpAddr, "--syslog-udp", "off", "--syslog-tcp", tcpAddr)
	s := &wachtServer{p: p, URL: "http://" + httpAddr, Token: tok.Token, Data: data}
	waitHTTP(tb, p, s.URL+"/readyz", 60*time.Second)
	return s
}

// count returns how many events match q (all time).
func (s *wachtServer) count(ctx context.Context, q string) (int, error) {
	v := url.Values{"q": {q + " | stats count() n"}, "start": {"1970-01-01T00:00:00Z"}, "limit": {"0"}}
	b, err := getBody(ctx, s.URL+"/api/v1/events/search?"+v.Encode(), "Bearer "+s.Token)
	if err != nil {
		return 0, err
	}
	return countFrom(b, "n")
}

// status returns /api/v1/status.
func (s *wachtServer) status(ctx context.Context) (map[string]any, error) {
	b, err := getBody(ctx, s.URL+"/api/v1/status", "Bearer "+s.Token)
	if err != nil {
		return nil, err
	}
	var st map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // byte counts print as integers, not 2.2e+07
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("decode status: %w", err)
	}
	return st, nil
}

// ---------------------------------------------------------------------------
// VictoriaLogs.

type vlogsServer struct {
	p    *proc
	URL  string
	Data string
}

func startVictoriaLogs(tb testing.TB, dir string, args ...string) *vlogsServer {
	tb.Helper()
	bin := buildVictoriaLogs(tb)
	addr := freeAddr(tb)
	data := filepath.Join(dir, "vlogs-data")
	args = append([]string{"-httpListenAddr=" + addr, "-storageDataPath=" + data, "-loggerLevel=ERROR"}, args...)
	p := startProc(tb, "victoria-logs", filepath.Join(dir, "vlogs.log"), nil, bin, args...)
	s := &vlogsServer{p: p, URL: "http://" + addr, Data: data}
	waitHTTP(tb, p, s.URL+"/health", 60*time.Second)
	return s
}

func (s *vlogsServer) count(ctx context.Context, q string) (int, error) {
	v := url.Values{"query": {q + " | stats count() n"}}
	b, err := getBody(ctx, s.URL+"/select/logsql/query?"+v.Encode(), "")
	if err != nil {
		return 0, err
	}
	return countFrom(b, "n")
}

// ---------------------------------------------------------------------------
// Disk.

// diskUsage is what du reports: allocated blocks of every file under dir.
func diskUsage(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("du %s: %w", dir, err)
	}
	return total, nil
}

// waitDiskSettled polls du of dir until it has not changed for quiet, at most
// max: background merges have finished.
func waitDiskSettled(dir string, quiet, max time.Duration) (int64, error) {
	deadline := time.Now().Add(max)
	last, err := diskUsage(dir)
	if err != nil {
		return 0, err
	}
	since := time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		n, err := diskUsage(dir)
		if err != nil {
			return 0, err
		}
		if n != last {
			last, since = n, time.Now()
			continue
		}
		if time.Since(since) >= quiet {
			break
		}
	}
	return last, nil
}
