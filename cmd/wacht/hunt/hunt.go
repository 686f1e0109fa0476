// Package hunt is `wacht hunt`: search stored events with LogsQL.
package hunt

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/cmd/wacht/rules"
)

// NewCommand returns `wacht hunt`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var since, until string
	var limit int
	var sigmaRules []string
	cmd := &cobra.Command{
		Use:   "hunt 'QUERY' | hunt --sigma RULE.yml",
		Short: "Search events with LogsQL (e.g. 'user.name:admin | stats by (host.name) count()')",
		Long: `Search events with LogsQL. A bare word searches the message; use field:value
or *:value to search fields. Pipes work: 'error | stats by (host.name) count()'.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(sigmaRules) > 0 {
				// Retro-hunt: the server prefilters with LogsQL, then
				// evaluates the rules exactly over stored events.
				rh := rules.HuntCommand(g)
				rargs := append(append([]string(nil), sigmaRules...), "--since", since)
				if until != "" {
					rargs = append(rargs, "--until", until)
				}
				rh.SetArgs(rargs)
				rh.SetOut(cmd.OutOrStdout())
				rh.SetErr(cmd.ErrOrStderr())
				return rh.ExecuteContext(cmd.Context())
			}
			if len(args) != 1 {
				return fmt.Errorf("give a LogsQL query, or --sigma RULE.yml")
			}
			c, err := g.Client()
			if err != nil {
				return err
			}
			v := url.Values{"q": {args[0]}, "limit": {strconv.Itoa(limit)}}
			if since != "" {
				v.Set("start", since)
			}
			if until != "" {
				v.Set("end", until)
			}
			body, err := c.Get(cmd.Context(), "/api/v1/events/search?"+v.Encode())
			if err != nil {
				return err
			}
			defer body.Close()
			if g.JSON {
				_, err = io.Copy(os.Stdout, body)
				return err
			}
			return render(os.Stdout, body)
		},
	}
	g.ServerFlags(cmd)
	cmd.Flags().StringVar(&since, "since", "24h", "start: a duration ago (24h, 7d), RFC 3339 or Unix seconds")
	cmd.Flags().StringVar(&until, "until", "", "end (default now)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many rows (0: all)")
	cmd.Flags().StringSliceVar(&sigmaRules, "sigma", nil, "run Sigma rule files over stored events instead of a query (retro-hunt)")
	return cmd
}

// render prints events as "time  message  key=value…" and stats rows as
// key=value lines.
func render(w io.Writer, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	n := 0
	for sc.Scan() {
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			return fmt.Errorf("read result row %d: %w", n+1, err)
		}
		if e, ok := row["_error"]; ok && len(row) == 1 {
			return fmt.Errorf("search ended early: %s", e)
		}
		n++
		_, isEvent := row["_time"]
		keys := make([]string, 0, len(row))
		for k := range row {
			if !isEvent {
				keys = append(keys, k)
				continue
			}
			switch k {
			case "_time", "_msg", "_stream", "_stream_id", "event.id", "event.ingested", "tenant", "source.listener", "source.peer", "event.format":
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		if t, ok := row["_time"]; ok {
			parts = append(parts, t)
		}
		if m, ok := row["_msg"]; ok && m != "" {
			parts = append(parts, strings.Join(strings.Fields(m), " "))
		}
		for _, k := range keys {
			if len(parts) > 12 {
				parts = append(parts, "…")
				break
			}
			parts = append(parts, k+"="+quote(row[k]))
		}
		fmt.Fprintln(bw, strings.Join(parts, "  "))
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d rows\n", n)
	return nil
}

func quote(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return strconv.Quote(s)
	}
	return s
}
