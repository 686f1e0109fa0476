package cli

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Input is one log file named on the command line, found in a folder, or
// a member of a .zip archive.
type Input struct {
	// Name is the path, "archive.zip/member" for archive members.
	Name string
	// Path is the file on disk (the archive for members).
	Path string
	// Size and ModTime identify the file's content for resuming.
	Size    int64
	ModTime int64
	member  *zip.File
}

// Inputs lists the files under paths (folders recursively, each member of
// a .zip separately), in a stable order.
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
			if !strings.EqualFold(filepath.Ext(p), ".zip") {
				out = append(out, Input{Name: p, Path: p, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()})
				return nil
			}
			zr, err := zip.OpenReader(p)
			if err != nil {
				return fmt.Errorf("open zip %s: %w", p, err)
			}
			defer zr.Close()
			for _, zf := range zr.File {
				if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") || strings.HasPrefix(filepath.Base(zf.Name), "._") {
					continue
				}
				out = append(out, Input{Name: p + "/" + zf.Name, Path: p, Size: int64(zf.UncompressedSize64), ModTime: fi.ModTime().UnixNano(), member: zf})
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

// Read returns the input's bytes; with gunzip a gzip file comes back
// decompressed (detected by its magic, not its name).
func (in Input) Read(gunzip bool) ([]byte, error) {
	var data []byte
	var err error
	if in.member != nil {
		zr, oerr := zip.OpenReader(in.Path)
		if oerr != nil {
			return nil, fmt.Errorf("open zip %s: %w", in.Path, oerr)
		}
		defer zr.Close()
		for _, zf := range zr.File {
			if zf.Name == in.member.Name {
				rc, oerr := zf.Open()
				if oerr != nil {
					return nil, fmt.Errorf("open %s: %w", in.Name, oerr)
				}
				data, err = io.ReadAll(rc)
				rc.Close()
				break
			}
		}
	} else {
		data, err = os.ReadFile(in.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", in.Name, err)
	}
	if gunzip && len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("read %s: gzip: %w", in.Name, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("read %s: gzip: %w", in.Name, err)
		}
	}
	return data, nil
}
