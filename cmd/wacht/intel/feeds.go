package intel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/intel"
)

// send performs an authenticated request with a JSON body and decodes a
// JSON answer into out (nil: ignore it).
func send(ctx context.Context, g *cli.Globals, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	b, err := g.Do(ctx, method, path, "application/json", rd)
	if err != nil {
		return err
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

func feedsCmd(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feeds",
		Short: "List the feeds pulled on a schedule (add, rm and pull manage them)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out struct {
				Feeds []intel.Feed `json:"feeds"`
			}
			if err := send(cmd.Context(), g, http.MethodGet, "/api/v1/intel/feeds", nil, &out); err != nil {
				return err
			}
			if g.JSON {
				return json.NewEncoder(os.Stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tFORMAT\tEVERY\tENABLED\tLAST PULLED\tCOUNT\tERROR\tURL")
			for _, f := range out.Feeds {
				last := "-"
				if !f.LastPulled.IsZero() {
					last = f.LastPulled.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%d\t%s\t%s\n", f.Name, f.Format, f.Interval, f.Enabled, last, f.LastCount, f.LastError, f.URL)
			}
			return tw.Flush()
		},
	}
	g.ServerFlags(cmd)

	var format, every, tlp string
	var confidence int
	var disabled bool
	add := &cobra.Command{
		Use:   "add NAME URL",
		Short: "Add or change a feed (format auto, plain, csv, stix, misp, warninglist or taxii)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			enabled := !disabled
			var f intel.Feed
			spec := map[string]any{"url": args[1], "format": format, "interval": every, "confidence": confidence, "tlp": tlp, "enabled": enabled}
			if err := send(cmd.Context(), g, http.MethodPut, "/api/v1/intel/feeds/"+url.PathEscape(args[0]), spec, &f); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "feed %s: %s every %s, next pull %s\n", f.Name, f.URL, f.Interval, f.NextPull.UTC().Format(time.RFC3339))
			return nil
		},
	}
	add.Flags().StringVar(&format, "format", "auto", "auto, plain, csv, stix, misp, warninglist or taxii (a TAXII 2.1 collection URL)")
	add.Flags().StringVar(&every, "every", "1h", "pull interval")
	add.Flags().StringVar(&tlp, "tlp", "", "TLP for indicators that carry none")
	add.Flags().IntVar(&confidence, "confidence", 0, "confidence for indicators that state none")
	add.Flags().BoolVar(&disabled, "disabled", false, "keep the feed but do not pull it")
	g.ServerFlags(add)

	rm := &cobra.Command{
		Use:   "rm NAME",
		Short: "Remove a feed (its indicators stay)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return send(cmd.Context(), g, http.MethodDelete, "/api/v1/intel/feeds/"+url.PathEscape(args[0]), nil, nil)
		},
	}
	g.ServerFlags(rm)

	pullNow := &cobra.Command{
		Use:   "pull NAME",
		Short: "Pull a feed now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res struct {
				NotChanged bool              `json:"not_changed"`
				Stats      intel.ImportStats `json:"stats"`
			}
			if err := send(cmd.Context(), g, http.MethodPost, "/api/v1/intel/feeds/"+url.PathEscape(args[0])+"/pull", nil, &res); err != nil {
				return err
			}
			if res.NotChanged {
				fmt.Println("not changed since the last pull")
				return nil
			}
			if res.Stats.ByType == nil {
				res.Stats.ByType = map[string]int{}
			}
			return printStats(g, res.Stats)
		},
	}
	g.ServerFlags(pullNow)
	cmd.AddCommand(add, rm, pullNow)
	return cmd
}
