package cli

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// MaxInputBytes bounds one input after decompression.
const MaxInputBytes = 4 << 30

// Input is one log file named on the command line, found in a folder, or
// a member of a .zip or .tar (.tar.gz, .tgz) archive.
type Input struct {
	// Name is the path, "archive.zip/member" for archive members.
	Name string
	// Path is the file on disk (the archive for members).
	Path string
	// Size and ModTime identify the file's content for resuming.
	Size    int64
	ModTime int64
	// zipName is the name of a zip member.
	zipName string
	// tarIndex is the position of a tar member (from 1); 0 for others.
	// The members of one archive share tar, which reads them in order
	// without decompressing the archive again for each.
	tarIndex int
	tar      *tarCursor
	// broken is why an archive could not be listed (further), reported by
	// the last member listed, or by the archive itself if none was.
	broken error
}

// Inputs lists the files under paths (folders recursively, each member of
// a .zip or tar archive separately), in a stable order. An archive that
// cannot be read to its end is listed as far as it can be; reading its
// last listed member reports why.
func Inputs(paths []string) ([]Input, error) {
	var out []Input
	for _, a := range paths {
		err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			file := Input{Name: p, Path: p, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
			switch {
			case strings.EqualFold(filepath.Ext(p), ".zip"):
				members, err := zipMembers(file)
				if err != nil {
					return err
				}
				out = append(out, members...)
			case isTar(p):
				out = append(out, tarMembers(file)...)
			default:
				out = append(out, file)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", a, err)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no files found")
	}
	return out, nil
}

func isTar(p string) bool {
	l := strings.ToLower(p)
	return strings.HasSuffix(l, ".tar") || strings.HasSuffix(l, ".tar.gz") || strings.HasSuffix(l, ".tgz")
}

// skipMember tells archive entries that are no logs: folders' metadata
// that macOS adds.
func skipMember(name string) bool {
	return strings.HasPrefix(name, "__MACOSX/") || strings.HasPrefix(filepath.Base(name), "._")
}

func zipMembers(file Input) ([]Input, error) {
	zr, err := zip.OpenReader(file.Path)
	if err != nil {
		return nil, fmt.Errorf("open zip %s: %w", file.Path, err)
	}
	defer zr.Close()
	var out []Input
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || skipMember(zf.Name) {
			continue
		}
		out = append(out, Input{Name: file.Path + "/" + zf.Name, Path: file.Path, Size: int64(zf.UncompressedSize64), ModTime: file.ModTime, zipName: zf.Name})
	}
	return out, nil
}

// tarMembers lists the regular files of a tar archive, gzip-compressed or
// not. An archive cut short is listed up to the damage.
func tarMembers(file Input) []Input {
	var out []Input
	list := &tarCursor{path: file.Path}
	defer list.close()
	shared := &tarCursor{path: file.Path}
	for {
		h, err := list.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(out) == 0 {
				file.broken = err
				return []Input{file}
			}
			out[len(out)-1].broken = err
			break
		}
		out = append(out, Input{Name: file.Path + "/" + h.Name, Path: file.Path, Size: h.Size, ModTime: file.ModTime, tarIndex: list.at, tar: shared})
	}
	shared.last = len(out)
	return out
}

// tarCursor reads the regular files of a tar archive (gzip-compressed or
// not) in order; at is the position of the last one returned (from 1),
// last the position of the archive's last one, after which it closes.
type tarCursor struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	tr       *tar.Reader
	at, last int
}

// next moves to the next regular file of the archive.
func (c *tarCursor) next() (*tar.Header, error) {
	if c.tr == nil {
		f, err := os.Open(c.path)
		if err != nil {
			return nil, err
		}
		br := bufio.NewReader(f)
		var r io.Reader = br
		if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
			zr, err := gzip.NewReader(br)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("gzip: %w", err)
			}
			r = zr
		}
		c.f, c.tr, c.at = f, tar.NewReader(r), 0
	}
	for {
		h, err := c.tr.Next()
		if err == io.EOF {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		if h.Typeflag == tar.TypeReg && !skipMember(h.Name) {
			c.at++
			return h, nil
		}
	}
}

// read returns the body of the i-th regular file, reading on from where
// the cursor stands (or from the start again for an earlier one).
func (c *tarCursor) read(i int, name string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tr != nil && i <= c.at {
		c.close()
	}
	for c.tr == nil || c.at < i {
		if _, err := c.next(); err != nil {
			c.close()
			if err == io.EOF {
				return nil, fmt.Errorf("read %s: no longer in the archive", name)
			}
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	data, err := readBounded(name, c.tr)
	if err != nil || i == c.last {
		c.close()
	}
	return data, err
}

func (c *tarCursor) close() {
	if c.f != nil {
		c.f.Close()
	}
	c.f, c.tr, c.at = nil, nil, 0
}

// Read returns the input's bytes; archive members come back out of their
// archive, and with gunzip a gzip file (on disk or inside an archive, told
// by its magic, not its name) comes back decompressed. An input that is cut short or damaged
// part-way (a truncated .gz or .tar.gz, say) comes back with what could be
// read before the damage and an error saying where it stopped.
func (in Input) Read(gunzip bool) ([]byte, error) {
	data, err := in.raw()
	if err != nil || !gunzip || len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return data, err
	}
	// A gzip file, on disk or inside an archive.
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read %s: gzip: %w", in.Name, err)
	}
	return readBounded(in.Name, zr)
}

// raw returns the input's bytes as stored: an archive member decompressed
// from its archive, a file as it is on disk.
func (in Input) raw() ([]byte, error) {
	switch {
	case in.broken != nil && in.tar == nil:
		return nil, fmt.Errorf("read %s: %w", in.Name, in.broken)
	case in.zipName != "":
		zr, err := zip.OpenReader(in.Path)
		if err != nil {
			return nil, fmt.Errorf("open zip %s: %w", in.Path, err)
		}
		defer zr.Close()
		for _, zf := range zr.File {
			if zf.Name == in.zipName {
				rc, err := zf.Open()
				if err != nil {
					return nil, fmt.Errorf("open %s: %w", in.Name, err)
				}
				defer rc.Close()
				return readBounded(in.Name, rc)
			}
		}
		return nil, fmt.Errorf("read %s: no longer in the archive", in.Name)
	case in.tar != nil:
		data, err := in.tar.read(in.tarIndex, in.Name)
		if err == nil && in.broken != nil {
			in.tar.close()
			err = fmt.Errorf("read %s: the archive ends here: %w", in.Path, in.broken)
		}
		return data, err
	}
	data, err := os.ReadFile(in.Path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", in.Name, err)
	}
	return data, nil
}

// readBounded reads r to its end, at most MaxInputBytes. On an error it
// returns what was read before it.
func readBounded(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputBytes+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return data, fmt.Errorf("read %s: cut short after %d bytes: %w", name, len(data), err)
		}
		return data, fmt.Errorf("read %s after %d bytes: %w", name, len(data), err)
	}
	if len(data) > MaxInputBytes {
		return nil, fmt.Errorf("read %s: larger than %d bytes decompressed", name, MaxInputBytes)
	}
	return data, nil
}
