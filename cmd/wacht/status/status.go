// Package status is `wacht status`: a running node's health and numbers.
package status

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

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
			if err := json.NewDecoder(body).Decode(&st); err != nil {
				return fmt.Errorf("read status: %w", err)
			}
			fmt.Printf("wacht %s  up %s  %s\ndata %s  retention %s\n", st.Version, st.Uptime, st.Ready, st.Data, st.Retention)
			fmt.Printf("journal  %v\nstore    %v\nlisten   %v\n", st.Journal, st.Store, st.Listeners)
			return nil
		},
	}
	g.ServerFlags(cmd)
	return cmd
}
