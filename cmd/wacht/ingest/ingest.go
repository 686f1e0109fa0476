// Package ingest is `wacht ingest`: send log files and folders to a running
// server, which detects each file's format (or uses --format) and stores
// its events. Folders are walked recursively; .gz files are sent
// compressed, each file of a .zip or .tar(.gz) separately (the readable
// part of one cut short, with an error), and large files in parts cut at
// line ends. Files and parts the server accepted are recorded, so an
// interrupted run started again sends only the rest.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/parse/detect"
)

// NewCommand returns `wacht ingest`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var format, tenant, resume string
	var restart bool
	var partBytes int
	cmd := &cobra.Command{
		Use:   "ingest FILE|DIR...",
		Short: "Send log files (EVTX, JSON, Zeek, CEF, syslog, access logs …) to a running server",
		Long: `Send log files and folders (recursively) to a running server. Each file's
format is detected from its first bytes unless --format names a parser;
.gz files are sent compressed and each file inside a .zip, .tar, .tar.gz
or .tgz is sent on its own; of an archive cut short, the part before the
damage is sent and the run fails, naming it (so is what can be read of a
.gz the server refuses because it is cut short). Progress goes to stderr; a summary per file to stdout.

A file larger than --part-bytes (decompressed) goes in parts cut at line
ends, each a request of its own: Zeek and W3C headers are repeated in each
part and auditd events are not cut; an EVTX file is cut between its 64 KiB
chunks, each part with the file header; a JSON document over many lines
goes whole. Each part the server accepted is recorded, so an
interrupted run goes on after the last one.

Each file the server accepted is recorded (--resume-file); when a run is
interrupted or some files fail, running the same command again sends only
the files not yet accepted. A file whose size or modification time changed
is sent again. The record is removed when every file went through.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			if partBytes < 64<<10 {
				return fmt.Errorf("--part-bytes %d: at least 65536", partBytes)
			}
			s := &sender{c: c, format: format, tenant: tenant, json: g.JSON, out: cmd.OutOrStdout(), part: partBytes}
			inputs, err := cli.Inputs(args)
			if err != nil {
				return err
			}
			done, err := openResume(resume, c.Base, tenant, format, args, restart)
			if err != nil {
				return err
			}
			skipped := 0
			prog := &cli.Progress{What: "files"}
			failed, damaged := 0, 0
			for i, in := range inputs {
				prog.Update(int64(i), int64(len(inputs)))
				if done.has(in) {
					skipped++
					continue
				}
				cut, err := s.file(cmd.Context(), in, done)
				if cut {
					damaged++
				}
				if err != nil {
					failed++
					fmt.Fprintf(os.Stderr, "\r%s: %v\n", in.Name, err)
					if cmd.Context().Err() != nil {
						break
					}
					continue
				}
				if err := done.add(in); err != nil {
					return err
				}
			}
			prog.Update(int64(len(inputs)), int64(len(inputs)))
			prog.Done()
			if skipped > 0 {
				fmt.Fprintf(os.Stderr, "resumed: %d files sent by an earlier run were skipped (--restart sends them again)\n", skipped)
			}
			fmt.Fprintf(os.Stderr, "%d files, %d events accepted, %d parse errors, %d files failed\n", len(inputs), s.accepted, s.parseErrors, failed)
			if failed > 0 {
				return fmt.Errorf("%d of %d files were not ingested; run the same command again to send only those", failed, len(inputs))
			}
			if damaged > 0 {
				return fmt.Errorf("%d of %d files are cut short or damaged: the part before the damage was sent (see above)", damaged, len(inputs))
			}
			return done.finish()
		},
	}
	g.ServerFlags(cmd)
	cmd.Flags().StringVar(&format, "format", "auto", "parser name, or auto to detect per file (see the server's parser list)")
	cmd.Flags().StringVar(&resume, "resume-file", "", "where to record the files already sent, so that an interrupted run resumes (default: a file per command line under the user cache directory)")
	cmd.Flags().BoolVar(&restart, "restart", false, "forget an interrupted run and send every file again")
	cmd.Flags().IntVar(&partBytes, "part-bytes", 8<<20, "files larger than this (decompressed) go in parts of at most this size, cut at line ends; keep it under the server's ingest.max_request_bytes")
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
	part                  int
	format, tenant        string
	json                  bool
	out                   io.Writer
	accepted, parseErrors int
}

// file sends one input: whole when it fits one request (a .gz as it is,
// the server decompresses), else in parts, recording each accepted part so
// that a new run goes on after it. cut says the input was cut short or
// damaged and only its readable part was sent.
func (s *sender) file(ctx context.Context, in cli.Input, done *resumeState) (cut bool, err error) {
	data, err := in.Read(false)
	if err != nil && len(data) > 0 {
		// An archive member cut short: send what is readable and say so;
		// a second run cannot read more of it.
		fmt.Fprintf(os.Stderr, "\r%v; sending the %d bytes before that\n", err, len(data))
		cut, err = true, nil
	}
	if err != nil {
		return false, err
	}
	plain := data
	if isGzip(data) {
		var derr error
		if plain, derr = in.Read(true); derr != nil {
			if len(plain) == 0 {
				return false, derr
			}
			// A .gz cut short: send what can be read of it.
			fmt.Fprintf(os.Stderr, "\r%v; sending the %d bytes before that\n", derr, len(plain))
			cut, data = true, plain
		}
	}
	from := done.offset(in)
	if from == 0 && len(plain) <= s.part {
		return cut, s.send(ctx, in.Name, s.format, data)
	}
	return cut, s.sendParts(ctx, in, plain, int(from), done)
}

// sendParts sends data from offset from in parts of at most s.part bytes.
func (s *sender) sendParts(ctx context.Context, in cli.Input, data []byte, from int, done *resumeState) error {
	format := s.format
	if format == "" || format == "auto" {
		d := detect.Detect(data)
		if !d.Known() {
			return fmt.Errorf("cannot tell the format (%s); name it with --format", d.Reason)
		}
		format = d.Format
	}
	if ok, why := splittable(format, data); !ok {
		if err := s.send(ctx, in.Name, format, data); err != nil {
			return fmt.Errorf("%w (%d bytes in one request: %s; the server's ingest.max_request_bytes must hold it)", err, len(data), why)
		}
		return nil
	}
	if from > len(data) {
		from = 0 // the file changed under the record: start again
	}
	hdrs := &headers{format: format, data: data}
	prog := &cli.Progress{What: in.Name + " bytes"}
	defer prog.Done()
	for start := from; start < len(data); {
		prog.Update(int64(start), int64(len(data)))
		end := nextCut(format, data, start, s.part)
		part := data[start:end]
		if h := hdrs.at(start); h != nil {
			part = append(append(make([]byte, 0, len(h)+len(part)), h...), part...)
		}
		if err := s.send(ctx, in.Name, format, part); err != nil {
			return fmt.Errorf("part at byte %d: %w", start, err)
		}
		if end < len(data) {
			if err := done.progress(in, int64(end)); err != nil {
				return err
			}
		}
		start = end
	}
	return nil
}

func (s *sender) send(ctx context.Context, name, format string, data []byte) error {
	q := url.Values{"name": {name}, "format": {format}}
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

func isGzip(b []byte) bool { return len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
