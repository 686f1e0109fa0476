// Package status is `wacht status`: a running node's health and numbers.
package status

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
)

// NewCommand returns `wacht status`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running server's listeners, journal and store",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			body, err := c.Get(cmd.Context(), "/api/v1/status")
			if err != nil {
				return err
			}
			defer body.Close()
			if g.JSON {
				_, err := io.Copy(os.Stdout, body)
				return err
			}
			var st struct {
				Version, Uptime, Data, Retention, Ready string
				Listeners                               map[string]any
				Journal                                 map[string]any
				Store                                   map[string]any
			}
			dec := json.NewDecoder(body)
			dec.UseNumber() // keep 22476814 from becoming 2.2476814e+07
			if err := dec.Decode(&st); err != nil {
				return fmt.Errorf("read status: %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "wacht %s  up %s  %s\ndata %s  retention %s\n", st.Version, st.Uptime, st.Ready, st.Data, st.Retention)
			section(out, "listen", st.Listeners)
			section(out, "journal", st.Journal)
			section(out, "store", st.Store)
			return nil
		},
	}
	g.ServerFlags(cmd)
	return cmd
}

// section prints one part of the status as sorted "key value" lines, sizes
// in bytes also in a readable unit.
func section(w io.Writer, title string, m map[string]any) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	keys := make([]string, 0, len(m))
	width := 0
	for k := range m {
		keys = append(keys, k)
		width = max(width, len(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fmt.Sprint(m[k])
		if n, ok := m[k].(json.Number); ok && strings.Contains(k, "bytes") {
			if b, err := n.Int64(); err == nil && b >= 1000 {
				v += " (" + humanBytes(b) + ")"
			}
		}
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, k, v)
	}
}

func humanBytes(b int64) string {
	const unit = 1000
	f, i := float64(b), 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + [...]string{"B", "kB", "MB", "GB", "TB"}[i]
}
