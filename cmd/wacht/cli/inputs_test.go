package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/parse/parsetest"
)

// lines returns n JSON lines of about 100 bytes each.
func lines(tag string, n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.WriteString(`{"tag":"` + tag + `","i":` + strconv.Itoa(i) + `,"pad":"` + strings.Repeat("x", 60+i%7) + "\"}\n")
	}
	return b.Bytes()
}

func tarGz(t *testing.T, members map[string][]byte, order ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Name: "logs/", Typeflag: tar.TypeDir, Mode: 0o755})
	for _, name := range order {
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(members[name]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(members[name])
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestTarMembers(t *testing.T) {
	dir := t.TempDir()
	a, b := lines("a", 500), lines("b", 800)
	archive := tarGz(t, map[string][]byte{"logs/a.json": a, "logs/b.json": b, "._a.json": []byte("mac")}, "logs/a.json", "._a.json", "logs/b.json")
	for _, name := range []string{"x.tar.gz", "x.tgz"} {
		os.WriteFile(filepath.Join(dir, name), archive, 0o600)
	}
	ins, err := Inputs([]string{filepath.Join(dir, "x.tar.gz"), filepath.Join(dir, "x.tgz")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 4 || ins[0].Name != filepath.Join(dir, "x.tar.gz")+"/logs/a.json" || ins[1].Size != int64(len(b)) {
		t.Fatalf("inputs %+v", ins)
	}
	// In order (one pass over each archive), then out of order.
	for _, order := range [][]int{{0, 1, 2, 3}, {1, 0, 1, 3, 2, 3}} {
		for _, i := range order {
			want := [][]byte{a, b, a, b}[i]
			got, err := ins[i].Read(false)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: %d bytes, %v", ins[i].Name, len(got), err)
			}
		}
	}
	if ins[1].tar.f != nil || ins[3].tar.f != nil {
		t.Fatal("an archive stays open after its last member was read")
	}
}

// TestGzipInsideAnArchive reads a rotated log kept gzip-compressed in a
// tar archive: decompressed with gunzip, as stored without.
func TestGzipInsideAnArchive(t *testing.T) {
	a := lines("rotated", 300)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(a)
	zw.Close()
	path := filepath.Join(t.TempDir(), "logs.tar")
	os.WriteFile(path, tarGz(t, map[string][]byte{"messages.1.gz": gz.Bytes()}, "messages.1.gz"), 0o600)
	ins, err := Inputs([]string{path})
	if err != nil || len(ins) != 1 {
		t.Fatalf("%v %v", ins, err)
	}
	if got, err := ins[0].Read(true); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("gunzip: %d bytes, %v", len(got), err)
	}
	if got, err := ins[0].Read(false); err != nil || !bytes.Equal(got, gz.Bytes()) {
		t.Fatalf("as stored: %d bytes, %v", len(got), err)
	}
}

// TestCutShortInputs reads archives and gzip files cut in the middle: what
// comes before the cut is returned with an error that says so.
func TestCutShortInputs(t *testing.T) {
	dir := t.TempDir()
	a, b := lines("a", 2000), lines("b", 2000)
	archive := tarGz(t, map[string][]byte{"a.json": a, "b.json": b}, "a.json", "b.json")
	cut := filepath.Join(dir, "cut.tar.gz")
	os.WriteFile(cut, archive[:len(archive)*3/4], 0o600)
	ins, err := Inputs([]string{cut})
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 2 {
		t.Fatalf("%d members listed, want both: %+v", len(ins), ins)
	}
	if got, err := ins[0].Read(false); err != nil || !bytes.Equal(got, a) {
		t.Fatalf("first member: %d bytes, %v", len(got), err)
	}
	got, err := ins[1].Read(false)
	if err == nil || !strings.Contains(err.Error(), "cut short after") || !strings.Contains(err.Error(), "b.json") {
		t.Fatalf("second member: err %v", err)
	}
	if len(got) == 0 || len(got) >= len(b) || !bytes.Equal(got, b[:len(got)]) {
		t.Fatalf("second member: %d bytes before the cut, not a prefix of %d", len(got), len(b))
	}

	// Cut inside the first member's header: the archive itself reports.
	head := filepath.Join(dir, "head.tar.gz")
	os.WriteFile(head, archive[:20], 0o600)
	ins, err = Inputs([]string{head})
	if err != nil || len(ins) != 1 || ins[0].Name != head {
		t.Fatalf("inputs %+v, %v", ins, err)
	}
	if _, err := ins[0].Read(false); err == nil || !strings.Contains(err.Error(), head) {
		t.Fatalf("err %v", err)
	}

	// A plain gzip file: decompressed up to the cut; sent as it is.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(a)
	zw.Close()
	plain := filepath.Join(dir, "a.json.gz")
	os.WriteFile(plain, gz.Bytes()[:gz.Len()/2], 0o600)
	ins, _ = Inputs([]string{plain})
	got, err = ins[0].Read(true)
	if err == nil || !strings.Contains(err.Error(), "a.json.gz: cut short") || len(got) == 0 || !bytes.Equal(got, a[:len(got)]) {
		t.Fatalf("gzip cut short: %d bytes, %v", len(got), err)
	}
	if raw, err := ins[0].Read(false); err != nil || len(raw) != gz.Len()/2 {
		t.Fatalf("raw: %d bytes, %v", len(raw), err)
	}
}

// TestOTRFTarArchives reads the OTRF data sets shipped as .tar.gz (their
// gzip streams end early, after the tar archive's end): each reads without
// error, and those labels.csv lists give the event count it names.
func TestOTRFTarArchives(t *testing.T) {
	root := filepath.Join(parsetest.Shared(t), "datasets", "otrf-security-datasets")
	f, err := os.Open(filepath.Join(root, "labels.csv"))
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, r := range rows[1:] {
		if len(r) >= 6 && strings.HasSuffix(r[4], ".tar.gz") {
			want[filepath.Join(root, r[4])], _ = strconv.Atoi(r[5])
		}
	}
	archives, _ := filepath.Glob(filepath.Join(root, "atomic", "windows", "*", "host", "*.tar.gz"))
	if len(archives) < 6 || len(want) < 2 {
		t.Fatalf("%d .tar.gz data sets, %d of them in labels.csv", len(archives), len(want))
	}
	for _, a := range archives {
		ins, err := Inputs([]string{a})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, in := range ins {
			data, err := in.Read(true)
			if err != nil {
				t.Fatalf("%s: %v", in.Name, err)
			}
			got += bytes.Count(data, []byte("\n"))
		}
		if n, listed := want[a]; got == 0 || listed && got != n {
			t.Errorf("%s: %d lines, labels.csv says %d events", a, got, n)
		}
	}
}
