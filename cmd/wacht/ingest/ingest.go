// Package ingest is `wacht ingest`: send log files and folders to a running
// server, which detects each file's format (or uses --format) and stores
// its events. Folders are walked recursively; .gz files are sent
// compressed, each file of a .zip separately.
package ingest

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
)

// NewCommand returns `wacht ingest`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var format, tenant string
	cmd := &cobra.Command{
		Use:   "ingest FILE|DIR...",
		Short: "Send log files (EVTX, JSON, Zeek, CEF, syslog, access logs …) to a running server",
		Long: `Send log files and folders (recursively) to a running server. Each file's
format is detected from its first bytes unless --format names a parser;
.gz files are sent compressed and each file inside a .zip is sent on its
own. Progress goes to stderr; a summary per file to stdout.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			s := &sender{c: c, format: format, tenant: tenant, json: g.JSON, out: cmd.OutOrStdout()}
			var files []string
			for _, a := range args {
				err := filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
					if err != nil {
						return err
					}
					if d.Type().IsRegular() {
						files = append(files, p)
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("read %s: %w", a, err)
				}
			}
			if len(files) == 0 {
				return errors.New("no files found")
			}
			prog := &cli.Progress{What: "files"}
			failed := 0
			for i, f := range files {
				prog.Update(int64(i), int64(len(files)))
				if err := s.file(cmd.Context(), f); err != nil {
					failed++
					fmt.Fprintf(os.Stderr, "\r%s: %v\n", f, err)
				}
			}
			prog.Update(int64(len(files)), int64(len(files)))
			prog.Done()
			fmt.Fprintf(os.Stderr, "%d files, %d events accepted, %d parse errors, %d files failed\n", len(files), s.accepted, s.parseErrors, failed)
			if failed > 0 {
				return fmt.Errorf("%d of %d files were not ingested", failed, len(files))
			}
			return nil
		},
	}
	g.ServerFlags(cmd)
	cmd.Flags().StringVar(&format, "format", "auto", "parser name, or auto to detect per file (see the server's parser list)")
	cmd.Flags().StringVar(&tenant, "tenant", "", "expected tenant: the server refuses the files if the token writes to another one (default: the token's tenant)")
	return cmd
}

// result is the server's answer for one file.
type result struct {
	Name        string   `json:"name"`
	Format      string   `json:"format"`
	DetectedBy  string   `json:"detected_by"`
	Accepted    int      `json:"accepted"`
	ParseErrors int      `json:"parse_errors"`
	Errors      []string `json:"errors"`
}

type sender struct {
	c                     *cli.Client
	format, tenant        string
	json                  bool
	out                   io.Writer
	accepted, parseErrors int
}

// file sends one file, or each member of a zip archive.
func (s *sender) file(ctx context.Context, path string) error {
	if strings.EqualFold(filepath.Ext(path), ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return fmt.Errorf("open zip: %w", err)
		}
		defer zr.Close()
		var errs []error
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() || strings.HasPrefix(zf.Name, "__MACOSX/") || strings.HasPrefix(filepath.Base(zf.Name), "._") {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", zf.Name, err))
				continue
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", zf.Name, err))
				continue
			}
			if err := s.send(ctx, path+"/"+zf.Name, data); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", zf.Name, err))
			}
		}
		return errors.Join(errs...)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	// .gz files go as they are: the server decompresses gzip bodies.
	return s.send(ctx, path, data)
}

func (s *sender) send(ctx context.Context, name string, data []byte) error {
	q := url.Values{"name": {name}, "format": {s.format}}
	if s.tenant != "" {
		q.Set("tenant", s.tenant)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.c.Base+"/api/v1/ingest/file?"+q.Encode(), bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.c.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := s.c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("contact server %s: %w", s.c.Base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var r result
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("read server answer: %w", err)
	}
	s.accepted += r.Accepted
	s.parseErrors += r.ParseErrors
	if s.json {
		_, err = fmt.Fprintf(s.out, "%s\n", bytes.TrimSpace(body))
		return err
	}
	line := fmt.Sprintf("%s\t%s\t%d events", name, r.Format, r.Accepted)
	if r.ParseErrors > 0 {
		line += fmt.Sprintf(", %d with parse errors (first: %s)", r.ParseErrors, first(r.Errors))
	}
	_, err = fmt.Fprintln(s.out, line)
	return err
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
