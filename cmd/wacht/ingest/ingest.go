// Package ingest is `wacht ingest`: send log files and folders to a running
// server, which detects each file's format (or uses --format) and stores
// its events. Folders are walked recursively; .gz files are sent
// compressed, each file of a .zip or .tar(.gz) separately (the readable
// part of one cut short, with an error). Files the server accepted
// are recorded, so an interrupted run started again sends only the rest.
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
)

// NewCommand returns `wacht ingest`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var format, tenant, resume string
	var restart bool
	cmd := &cobra.Command{
		Use:   "ingest FILE|DIR...",
		Short: "Send log files (EVTX, JSON, Zeek, CEF, syslog, access logs …) to a running server",
		Long: `Send log files and folders (recursively) to a running server. Each file's
format is detected from its first bytes unless --format names a parser;
.gz files are sent compressed and each file inside a .zip, .tar, .tar.gz
or .tgz is sent on its own; of an archive cut short, the part before the
damage is sent and the run fails, naming it (so is what can be read of a
.gz the server refuses because it is cut short). Progress goes to stderr; a summary per file to stdout.

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
			s := &sender{c: c, format: format, tenant: tenant, json: g.JSON, out: cmd.OutOrStdout()}
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
				data, err := in.Read(false) // .gz goes as it is: the server decompresses
				cutShort := err != nil && len(data) > 0
				if cutShort {
					// An archive member cut short: send what is readable and
					// say so; a second run cannot read more of it.
					fmt.Fprintf(os.Stderr, "\r%v; sending the %d bytes before that\n", err, len(data))
					damaged++
					err = nil
				}
				if err == nil {
					err = s.send(cmd.Context(), in.Name, data)
					if err != nil && isGzip(data) && cmd.Context().Err() == nil {
						// The server could not take a .gz: if it is cut
						// short, send what can be read of it.
						if plain, derr := in.Read(true); derr != nil && len(plain) > 0 {
							fmt.Fprintf(os.Stderr, "\r%v; sending the %d bytes before that\n", derr, len(plain))
							damaged++
							err = s.send(cmd.Context(), in.Name, plain)
						}
					}
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

func isGzip(b []byte) bool { return len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
