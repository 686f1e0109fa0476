package attack

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// The compact format: gzip of UTF-8 lines, tab-separated.
//
//	#wacht-attack 1	<version>
//	#notice	<MITRE's copyright designation>
//	<kind>	<id>	<name>	<short name>	<tactics,…>	<parent>	<platforms,…>	<aliases|…>	<extra>
//
// Tactics come first, in matrix order.
const compactMagic = "#wacht-attack 1"

//go:embed catalog.tsv.gz
var embedded []byte

var (
	embeddedOnce sync.Once
	embeddedCat  *Catalog
	embeddedErr  error
)

// Embedded returns the catalog built into the binary.
func Embedded() (*Catalog, error) {
	embeddedOnce.Do(func() { embeddedCat, embeddedErr = ReadCompact(bytes.NewReader(embedded)) })
	return embeddedCat, embeddedErr
}

// FileName is where a data directory keeps an imported catalog.
const FileName = "attack-catalog.tsv.gz"

// Load returns the catalog saved in dataDir by Save, or the embedded one
// when there is none.
func Load(dataDir string) (*Catalog, error) {
	if dataDir != "" {
		f, err := os.Open(filepath.Join(dataDir, FileName))
		if err == nil {
			defer f.Close()
			return ReadCompact(f)
		}
		if !os.IsNotExist(err) {
			return nil, fmt.Errorf("open attack catalog: %w", err)
		}
	}
	return Embedded()
}

// Save writes c into dataDir (atomically) for Load.
func Save(dataDir string, c *Catalog) error {
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return fmt.Errorf("save attack catalog: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, FileName+".*")
	if err != nil {
		return fmt.Errorf("save attack catalog: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := WriteCompact(tmp, c); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save attack catalog: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dataDir, FileName)); err != nil {
		return fmt.Errorf("save attack catalog: %w", err)
	}
	return nil
}

// WriteCompact writes c in the compact format.
func WriteCompact(w io.Writer, c *Catalog) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(zw)
	fmt.Fprintf(bw, "%s\t%s\n#notice\t%s\n", compactMagic, c.Version, c.Notice)
	for _, e := range c.entries {
		fields := []string{e.Kind.String(), e.ID, e.Name, e.ShortName, strings.Join(e.Tactics, ","), e.Parent,
			strings.Join(e.Platforms, ","), strings.Join(e.Aliases, "|"), e.Extra}
		for i, f := range fields {
			fields[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(f)
		}
		bw.WriteString(strings.Join(fields, "\t"))
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write attack catalog: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write attack catalog: %w", err)
	}
	return nil
}

func split(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}

// ReadCompact reads the compact format.
func ReadCompact(r io.Reader) (*Catalog, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("read attack catalog: %w", err)
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var version, notice string
	var entries []Entry
	line := 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), "\t")
		switch {
		case line == 1:
			if f[0] != compactMagic || len(f) < 2 {
				return nil, fmt.Errorf("read attack catalog: not a wacht ATT&CK catalog")
			}
			version = f[1]
			continue
		case f[0] == "#notice" && len(f) == 2:
			notice = f[1]
			continue
		case strings.HasPrefix(f[0], "#"):
			continue
		}
		if len(f) != 9 {
			return nil, fmt.Errorf("read attack catalog line %d: %d fields, want 9", line, len(f))
		}
		k, ok := parseKind(f[0])
		if !ok || f[1] == "" {
			return nil, fmt.Errorf("read attack catalog line %d: bad kind or id", line)
		}
		entries = append(entries, Entry{Kind: k, ID: f[1], Name: f[2], ShortName: f[3], Tactics: split(f[4], ","), Parent: f[5],
			Platforms: split(f[6], ","), Aliases: split(f[7], "|"), Extra: f[8]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read attack catalog: %w", err)
	}
	if line == 0 {
		return nil, fmt.Errorf("read attack catalog: empty")
	}
	return newCatalog(version, notice, entries), nil
}
