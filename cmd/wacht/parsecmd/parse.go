// Package parsecmd is `wacht parse`: read log files offline through the
// same parsers and normalization the server uses and print the events as
// NDJSON — to see what a source will look like before sending it, or to
// feed other tools.
package parsecmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all" // every parser registers itself
	"github.com/wacht-soc/wacht/internal/parse/detect"
)

// NewCommand returns `wacht parse`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var format string
	var list bool
	cmd := &cobra.Command{
		Use:   "parse FILE|DIR...",
		Short: "Parse log files offline and print the normalized events as NDJSON",
		Long: `Parse log files and folders (recursively; .gz, .zip, .tar and .tar.gz are
read directly) with the server's parsers and print one JSON object per
event on stdout: event time, message, logsource, format, the entity fields
(host.name, user.name, source.ip …) and every native field. Each file's
format is detected from its first bytes unless --format names a parser
(--list shows them). Progress and a summary per file go to stderr; the exit
status is 1 when a file cannot be read, is cut short (its events before the
damage are printed) or its format cannot be told.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				for _, in := range parse.All() {
					fmt.Fprintf(cmd.OutOrStdout(), "%-12s %-4s %s\n", in.Name(), in.Version, in.Description)
				}
				return nil
			}
			if len(args) == 0 {
				return errors.New("name at least one file or folder")
			}
			if format != "auto" {
				if _, ok := parse.Lookup(format); !ok {
					return fmt.Errorf("--format %s: unknown parser (wacht parse --list)", format)
				}
			}
			inputs, err := cli.Inputs(args)
			if err != nil {
				return err
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 256<<10)
			defer out.Flush()
			var failed []string
			for _, in := range inputs {
				n, perr, err := file(in, format, out)
				if err != nil {
					failed = append(failed, err.Error())
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					continue
				}
				note := ""
				if perr > 0 {
					note = fmt.Sprintf(", %d with parse errors (see _error)", perr)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d events%s\n", in.Name, n, note)
			}
			if err := out.Flush(); err != nil {
				return err
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d of %d files could not be parsed: %s", len(failed), len(inputs), strings.Join(failed, "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "auto", "parser name, or auto to detect per file")
	cmd.Flags().BoolVar(&list, "list", false, "list the parsers and exit")
	return cmd
}

// file prints one input's events and returns how many it printed and how
// many of them carry parse errors.
func file(in cli.Input, format string, out io.Writer) (n, parseErrors int, err error) {
	data, damage := in.Read(true)
	if damage != nil && len(data) == 0 {
		return 0, 0, damage
	}
	defer func() {
		// A file cut short: print what was readable, then fail it.
		if damage != nil && err == nil {
			err = fmt.Errorf("%w (the %d events before that were printed)", damage, n)
		}
	}()
	name := format
	if name == "auto" {
		d := detect.Detect(data)
		if !d.Known() {
			return 0, 0, fmt.Errorf("%s: cannot tell the format (%s); name it with --format", in.Name, d.Reason)
		}
		name = d.Format
	}
	inst, err := parse.NewInstance(name)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", in.Name, err)
	}
	base := event.Event{Tenant: event.DefaultTenant, Source: event.Source{Listener: "file", Peer: in.Name}, IngestTime: time.Now().UTC()}
	prog := &cli.Progress{What: in.Name + " events"}
	buf := make([]byte, 0, 4096)
	err = inst.ReadAll(data, base, 0, func(ev *event.Event) error {
		n++
		if len(ev.Errors) > 0 {
			parseErrors++
		}
		if n%10000 == 0 {
			prog.Update(int64(n), 0)
		}
		buf = append(ev.AppendJSON(buf[:0]), '\n')
		_, err := out.Write(buf)
		return err
	})
	prog.Done()
	if err != nil {
		return n, parseErrors, fmt.Errorf("%s: read as %s: %w", in.Name, name, err)
	}
	return n, parseErrors, nil
}
