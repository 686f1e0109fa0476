// Package sim is `wacht sim`: the seeded behaviour simulator. It writes
// an organisation's events as NDJSON (the same flat JSON `wacht hunt
// --json` prints and `wacht ingest` reads) and, on request, the injected
// scenarios and the detections the simulated SOC raised.
package sim

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/event"
	usim "github.com/wacht-soc/wacht/internal/ueba/sim"
)

// Truth is what --truth writes: the scenarios and the detections.
type Truth struct {
	Config     usim.Config      `json:"config"`
	Scenarios  []usim.Scenario  `json:"scenarios"`
	Detections []usim.Detection `json:"detections"`
}

// ConfigFlags adds the simulation's flags to cmd; call the returned
// function in RunE to load the recorded traces --traces names.
func ConfigFlags(cmd *cobra.Command, c *usim.Config) (loadTraces func() error) {
	f := cmd.Flags()
	f.Uint64Var(&c.Seed, "seed", 1, "random seed (the same seed gives the same events)")
	f.IntVar(&c.Users, "users", 1000, "users (each with a workstation)")
	f.IntVar(&c.Departments, "departments", 8, "departments (peer groups, two servers each)")
	f.IntVar(&c.Days, "days", 28, "days simulated")
	f.IntVar(&c.LearnDays, "learn-days", 10, "days before the first attack")
	f.IntVar(&c.Attacks, "attacks", 2, "attacks per scenario kind")
	f.BoolVar(&c.NoAttacks, "no-attacks", false, "benign activity only")
	f.StringVar(&c.Tenant, "tenant", "sim", "tenant of the events")
	var traces string
	f.StringVar(&traces, "traces", "", "replay recorded attacks from this data sets folder (the OTRF Windows recordings under it) in the rare-process scenarios; \"shared\": $WACHT_SHARED/datasets")
	return func() error {
		if traces == "" {
			return nil
		}
		dir := traces
		if dir == "shared" {
			if dir = usim.SharedDatasets(); dir == "" {
				return fmt.Errorf("--traces shared: no shared data sets (set WACHT_SHARED)")
			}
		}
		tr, err := usim.LoadTraces(dir)
		if err != nil {
			return err
		}
		if len(tr) == 0 {
			return fmt.Errorf("--traces %s: no OTRF Windows recordings under it", traces)
		}
		c.Traces = tr
		return nil
	}
}

// NewCommand returns `wacht sim`.
func NewCommand(_ *cli.Globals) *cobra.Command {
	var c usim.Config
	var out, truth string
	var loadTraces func() error
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate an organisation's events with injected attacks, as NDJSON",
		Long: "Simulate departments of users and hosts with daily and weekly rhythms, benign change (travel, new hires,\n" +
			"a software rollout, a log source going quiet, background detections) and injected attacks (credential misuse,\n" +
			"lateral fan-out, rare process, process rare among peers, exfiltration, privilege change, low-and-slow).\n" +
			"Events go to --out (default stdout) as NDJSON; --truth writes the scenarios and detections as JSON.\n" +
			"`wacht sim | wacht ueba replay -` runs the detectors over them; `wacht ueba eval` measures them.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loadTraces(); err != nil {
				return err
			}
			var w io.Writer = os.Stdout
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return fmt.Errorf("create %s: %w", out, err)
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriterSize(w, 1<<20)
			s := usim.New(c)
			tr := Truth{Config: s.Config(), Scenarios: s.Scenarios()}
			var buf []byte
			n := 0
			err := s.Run(func(_ time.Time, evs []*event.Event, dets []usim.Detection) error {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				for _, e := range evs {
					buf = append(e.AppendJSON(buf[:0]), '\n')
					if _, err := bw.Write(buf); err != nil {
						return fmt.Errorf("write events: %w", err)
					}
				}
				n += len(evs)
				tr.Detections = append(tr.Detections, dets...)
				return nil
			})
			if err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return fmt.Errorf("write events: %w", err)
			}
			if truth != "" {
				b, err := json.MarshalIndent(tr, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(truth, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("write %s: %w", truth, err)
				}
			}
			fmt.Fprintf(os.Stderr, "%d events, %d scenarios, %d detections\n", n, len(tr.Scenarios), len(tr.Detections))
			return nil
		},
	}
	loadTraces = ConfigFlags(cmd, &c)
	cmd.Flags().StringVar(&out, "out", "", "write the events here (default stdout)")
	cmd.Flags().StringVar(&truth, "truth", "", "write the scenarios and detections as JSON here")
	return cmd
}
