// Package feeds turns threat intelligence as it is published — STIX 2.0 /
// 2.1 bundles, MISP events and feeds, MISP warninglists, CSV and plain
// lists (maltrail trails, FireHOL netsets, IPsum, hash lists) — into
// indicators for an intel.Import, from a file, a directory tree or a URL
// (with ETag / If-Modified-Since for scheduled pulls).
package feeds

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/misp"
)

// Format names an input format.
type Format string

// Formats.
const (
	FormatAuto        Format = ""
	FormatSTIX        Format = "stix"
	FormatMISP        Format = "misp"
	FormatWarninglist Format = "warninglist"
	FormatCSV         Format = "csv"
	FormatPlain       Format = "plain"
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatAuto, FormatSTIX, FormatMISP, FormatWarninglist, FormatCSV, FormatPlain:
		return f, nil
	case "auto":
		return FormatAuto, nil
	}
	return "", fmt.Errorf("format %q: want auto, stix, misp, warninglist, csv or plain", s)
}

// Sink receives what a reader finds; *intel.Import is one.
type Sink interface {
	Add(ctx context.Context, ind intel.Indicator) error
	AddWarninglist(ctx context.Context, wl *intel.Warninglist) error
}

// Options adjust reading.
type Options struct {
	Format Format
	// Confidence and TLP are given to indicators whose source states none.
	Confidence int
	TLP        intel.TLP
	// Tags are added to every indicator.
	Tags []string
	// MISPAllAttributes imports MISP attributes without to_ids too
	// (normally only to_ids attributes are indicators).
	MISPAllAttributes bool
}

// Detect guesses the format from a file name and its first bytes.
func Detect(name string, head []byte) Format {
	h := bytes.TrimSpace(head)
	if len(h) > 0 && (h[0] == '{' || h[0] == '[') {
		s := string(h[:min(len(h), 4096)])
		switch {
		case strings.Contains(s, `"matching_attributes"`):
			return FormatWarninglist
		case strings.Contains(s, `"Event"`) || strings.Contains(s, `"response"`) || strings.Contains(s, `"Attribute"`):
			return FormatMISP
		case strings.Contains(s, `"type"`) && (strings.Contains(s, `"bundle"`) || strings.Contains(s, `"indicator"`) || strings.Contains(s, `"spec_version"`)),
			strings.Contains(s, `"objects"`):
			return FormatSTIX
		case strings.Contains(s, `"info"`) && strings.Contains(s, `"uuid"`):
			return FormatMISP
		case filepath.Base(name) == "list.json":
			return FormatWarninglist
		}
		return FormatSTIX
	}
	if strings.HasSuffix(strings.ToLower(name), ".csv") {
		return FormatCSV
	}
	return FormatPlain
}

// MaxDocumentBytes bounds one JSON document (STIX bundle, MISP event,
// warninglist); line formats stream without a bound.
const MaxDocumentBytes = 1 << 30

// Read reads one document or list named name from r.
func Read(ctx context.Context, name string, r io.Reader, o Options, sink Sink) error {
	f := o.Format
	br := newPeekReader(r)
	if f == FormatAuto {
		f = Detect(name, br.peek(4096))
	}
	switch f {
	case FormatPlain, FormatCSV:
		return readLines(ctx, name, br, o, sink, f == FormatCSV)
	case FormatSTIX, FormatMISP, FormatWarninglist:
		data, err := io.ReadAll(io.LimitReader(br, MaxDocumentBytes+1))
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if len(data) > MaxDocumentBytes {
			return fmt.Errorf("read %s: larger than %d bytes", name, MaxDocumentBytes)
		}
		switch f {
		case FormatSTIX:
			return ReadSTIX(ctx, data, o, sink)
		case FormatMISP:
			return ReadMISP(ctx, data, o, sink)
		default:
			wl, err := intel.ParseWarninglist(data)
			if err != nil {
				return fmt.Errorf("read %s: %w", name, err)
			}
			return sink.AddWarninglist(ctx, wl)
		}
	case FormatAuto:
	}
	return fmt.Errorf("read %s: unknown format %q", name, f)
}

// ReadFile reads one file.
func ReadFile(ctx context.Context, path string, o Options, sink Sink) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if err := Read(ctx, path, f, o, sink); err != nil {
		return fmt.Errorf("import %s: %w", path, err)
	}
	return nil
}

// skipFile are files found in feed folders that hold no indicators.
func skipFile(name string) bool {
	base := strings.ToLower(filepath.Base(name))
	switch {
	case strings.HasPrefix(base, "license"), strings.HasPrefix(base, "readme"), strings.HasPrefix(base, "source"),
		strings.HasPrefix(base, "."), base == "files.txt", base == "hashes.csv", base == "schema.json",
		strings.HasSuffix(base, ".md"), strings.HasSuffix(base, ".py"), strings.HasSuffix(base, ".yml"),
		strings.HasSuffix(base, ".yaml"), strings.HasSuffix(base, ".pdf"), strings.HasSuffix(base, ".png"),
		strings.HasSuffix(base, ".gz"), strings.HasSuffix(base, ".zip"):
		return true
	}
	return false
}

// Files lists the files ReadDir would read, in order, with their sizes:
// in a folder with a MISP manifest.json only the events it lists.
func Files(root string) ([]string, int64, error) {
	var out []string
	var total int64
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			manifest := filepath.Join(path, "manifest.json")
			data, err := os.ReadFile(manifest)
			if err != nil {
				return nil
			}
			m, err := misp.DecodeManifest(data)
			if err != nil {
				return nil
			}
			ids := make([]string, 0, len(m))
			for id := range m {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				p := filepath.Join(path, id+".json")
				if st, err := os.Stat(p); err == nil {
					out = append(out, p)
					total += st.Size()
				}
			}
			return filepath.SkipDir
		}
		if skipFile(path) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, path)
		total += info.Size()
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("walk %s: %w", root, err)
	}
	return out, total, nil
}

// ReadDir reads every file of a folder tree. progress, if set, is called
// after each file with bytes done and total. A file that fails to parse is
// reported through onError and skipped (nil onError: the error ends the
// import).
func ReadDir(ctx context.Context, root string, o Options, sink Sink, progress func(done, total int64), onError func(path string, err error)) error {
	files, total, err := Files(root)
	if err != nil {
		return err
	}
	var done int64
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		fo := o
		// A file's name is its label in maltrail and ESET's layouts.
		rel, _ := filepath.Rel(root, p)
		if err := ReadFile(ctx, p, withLabel(fo, rel), sink); err != nil {
			if onError == nil {
				return err
			}
			onError(p, err)
		}
		if st, err := os.Stat(p); err == nil {
			done += st.Size()
		}
		if progress != nil {
			progress(done, total)
		}
	}
	return nil
}

// withLabel tags indicators of list files with the file's name (maltrail's
// malware family, ESET's campaign) as "list:<name>".
func withLabel(o Options, rel string) Options {
	if tag := LabelTag(rel); tag != "" {
		o.Tags = append(slices.Clip(o.Tags), tag)
	}
	return o
}

// LabelTag is the tag ReadDir gives indicators of the list file at rel
// (a path relative to the imported folder), "" for none.
func LabelTag(rel string) string {
	base := filepath.Base(rel)
	ext := filepath.Ext(base)
	switch ext {
	case ".txt", ".md5", ".sha1", ".sha256", ".netset", ".ipset", ".csv", "":
	default:
		return ""
	}
	label := strings.TrimSuffix(base, ext)
	if ext != ".txt" && ext != ".netset" && ext != ".ipset" && ext != ".csv" {
		label = filepath.Base(filepath.Dir(rel))
	}
	if label == "" || label == "." {
		return ""
	}
	return "list:" + label
}

// peekReader lets Read look at the first bytes without consuming them.
type peekReader struct {
	r    io.Reader
	head []byte
	off  int
}

func newPeekReader(r io.Reader) *peekReader { return &peekReader{r: r} }

func (p *peekReader) peek(n int) []byte {
	if len(p.head) < n {
		buf := make([]byte, n-len(p.head))
		m, _ := io.ReadFull(p.r, buf)
		p.head = append(p.head, buf[:m]...)
	}
	return p.head
}

func (p *peekReader) Read(b []byte) (int, error) {
	if p.off < len(p.head) {
		n := copy(b, p.head[p.off:])
		p.off += n
		return n, nil
	}
	return p.r.Read(b)
}
