// Package scan is `wacht scan`: hunt offline over log files (EVTX, JSON and
// every format wacht parses) with Sigma rules, like chainsaw or hayabusa.
package scan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/event"
	"github.com/wacht-soc/wacht/internal/detect"
	"github.com/wacht-soc/wacht/internal/parse"
	_ "github.com/wacht-soc/wacht/internal/parse/all" // every format
	pdetect "github.com/wacht-soc/wacht/internal/parse/detect"
	"github.com/wacht-soc/wacht/sigma"
)

// NewCommand returns `wacht scan`.
func NewCommand(g *cli.Globals) *cobra.Command {
	var rulePaths []string
	var minLevel, format, placeholders, unknown string
	var starter bool
	cmd := &cobra.Command{
		Use:   "scan --rules PATH[,PATH] FILE|DIR...",
		Short: "Hunt offline over log files (EVTX, JSON, syslog…) with Sigma rules",
		Long: `Scan log files offline with Sigma rules. Each file's format is detected from
its first bytes (EVTX, Winlogbeat/NXLog JSON, CloudTrail, syslog, access
logs, CEF…) unless --format names it; gzip files and the members of .zip
and .tar(.gz) archives are read too, and a file cut short is scanned up to
the damage. Folders are walked. A table of hits by level, rule and host is printed; --json prints one
line per match (rule id, title, level, author, tags, ATT&CK ids, event time,
entities, the selections of the rule that matched and the event). Progress goes to stderr.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			min := detect.LevelUnknown
			if minLevel != "" {
				if err := min.UnmarshalText([]byte(minLevel)); err != nil {
					return fmt.Errorf("--min-level: %w", err)
				}
			}
			opts := sigma.Options{}
			switch unknown {
			case "reject":
			case "wildcard":
				opts.UnknownPlaceholder = sigma.PlaceholderWildcard
			case "nomatch":
				opts.UnknownPlaceholder = sigma.PlaceholderNoMatch
			default:
				return fmt.Errorf("--unknown-placeholder %q: want reject, wildcard or nomatch", unknown)
			}
			if placeholders != "" {
				data, err := os.ReadFile(placeholders)
				if err != nil {
					return fmt.Errorf("read placeholders: %w", err)
				}
				if err := yaml.Unmarshal(data, &opts.Placeholders); err != nil {
					return fmt.Errorf("read placeholders %s: %w", placeholders, err)
				}
			}
			if len(rulePaths) == 0 && !starter {
				return errors.New("give --rules PATH (a Sigma rules folder) or --starter")
			}
			rs, err := detect.Load(detect.LoadOptions{Paths: rulePaths, Starter: starter, Sigma: opts}, time.Now())
			if err != nil {
				return err
			}
			total, ok, unsup, invalid := rs.Counts()
			fmt.Fprintf(os.Stderr, "%d rules: %d ok, %d unsupported, %d invalid (loaded in %v)\n", total, ok, unsup, invalid, rs.Took.Round(time.Millisecond))
			s := &scanner{rs: rs, min: min, json: g.JSON, out: bufio.NewWriter(cmd.OutOrStdout()), format: format,
				summary: map[string]*hitRow{}, progress: &cli.Progress{What: "events scanned"}}
			defer s.out.Flush()
			files, err := cli.Inputs(args)
			if err != nil {
				return err
			}
			start := time.Now()
			for _, in := range files {
				data, damage := in.Read(true)
				if damage != nil {
					fmt.Fprintf(os.Stderr, "\r%v\n", damage)
					if len(data) == 0 {
						s.skipped++
						continue
					}
				}
				if err := s.file(in.Name, data); err != nil {
					fmt.Fprintf(os.Stderr, "\rskip %s: %v\n", in.Name, err)
					s.skipped++
				}
			}
			rs.Engine.Flush(time.Time{}, s.match)
			s.progress.Done()
			took := time.Since(start)
			if !g.JSON {
				s.table()
			}
			s.out.Flush()
			rate := float64(s.events) / max(took.Seconds(), 1e-9)
			fmt.Fprintf(os.Stderr, "%d files, %d events, %d parse errors, %d hits in %v (%.0f events/s)\n",
				len(files)-s.skipped, s.events, s.parseErrors, s.hits, took.Round(time.Millisecond), rate)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&rulePaths, "rules", nil, "Sigma rule folders or files (comma-separated or repeated)")
	cmd.Flags().BoolVar(&starter, "starter", false, "also run wacht's embedded starter rules")
	cmd.Flags().StringVar(&minLevel, "min-level", "", "only report rules of at least this level (informational, low, medium, high, critical)")
	cmd.Flags().StringVar(&format, "format", "", "parser for every file (default: detected per file)")
	cmd.Flags().StringVar(&placeholders, "placeholders", "", "YAML file of expand placeholder values (name: [values])")
	cmd.Flags().StringVar(&unknown, "unknown-placeholder", "reject", "a placeholder without values: reject, wildcard or nomatch")
	return cmd
}

type hitRow struct {
	level       detect.Level
	title, id   string
	count       int
	hosts       map[string]int
	first, last time.Time
}

type scanner struct {
	rs       *detect.Ruleset
	min      detect.Level
	json     bool
	out      *bufio.Writer
	format   string
	progress *cli.Progress

	events, parseErrors, hits int
	skipped                   int
	summary                   map[string]*hitRow
}

func (s *scanner) file(path string, data []byte) error {
	format := s.format
	if format == "" {
		d := pdetect.Detect(data)
		if !d.Known() {
			return fmt.Errorf("unknown format (%s); name it with --format", d.Reason)
		}
		format = d.Format
	}
	inst, err := parse.NewInstance(format)
	if err != nil {
		return err
	}
	base := event.Event{Tenant: event.DefaultTenant, Source: event.Source{Listener: "scan", Peer: path}, IngestTime: time.Now().UTC()}
	if mp, ok := inst.Parser.(parse.MultiParser); ok {
		return mp.ParseAll(data, base, func(ev *event.Event) error {
			e := *ev
			e.Format = inst.Info.Format()
			s.event(&e)
			return nil
		})
	}
	inst.Reset()
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off
		}
		line := bytes.TrimRight(data[off:end], "\r")
		off = end + 1
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ev := base
		if err := inst.Record(line, &ev); errors.Is(err, parse.ErrNoEvent) {
			continue
		}
		s.event(&ev)
	}
	return nil
}

func (s *scanner) event(ev *event.Event) {
	s.events++
	if len(ev.Errors) > 0 {
		s.parseErrors++
	}
	if ls, ok := detect.RouteLogSource(ev); ok {
		ev.LogSource = ls
	}
	s.rs.Engine.Match(ev, s.match)
	if s.events%4096 == 0 {
		s.progress.Update(int64(s.events), 0)
	}
}

func (s *scanner) match(m sigma.Match) {
	d := detect.FromMatch(m, s.rs.Source(m.Rule))
	if d.Level < s.min {
		return
	}
	s.hits++
	if s.json {
		line := struct {
			RuleID   string            `json:"rule_id"`
			Title    string            `json:"title"`
			Level    detect.Level      `json:"level"`
			Author   string            `json:"author,omitempty"`
			Tags     []string          `json:"tags,omitempty"`
			Attack   []string          `json:"attack,omitempty"`
			Time     time.Time         `json:"time"`
			Entities map[string]string `json:"entities,omitempty"`
			// Selections are the rule's search identifiers that matched.
			Selections []string        `json:"selections,omitempty"`
			File       string          `json:"file"`
			Rule       string          `json:"rule_file"`
			Event      json.RawMessage `json:"event,omitempty"`
			Corr       any             `json:"correlation,omitempty"`
		}{d.RuleID, d.Title, d.Level, d.Author, d.Tags, d.Attack, d.Time, d.Entities, d.Selections, "", m.Rule.File, nil, nil}
		if m.Event != nil {
			line.File = m.Event.Source.Peer
		}
		if d.Correlation != nil {
			line.Corr = d.Correlation
		} else if len(d.Events) == 1 {
			line.Event = d.Events[0].AppendJSON(nil)
		}
		b, _ := json.Marshal(line)
		s.out.Write(b)
		s.out.WriteByte('\n')
		return
	}
	r := s.summary[d.RuleID]
	if r == nil {
		r = &hitRow{level: d.Level, title: d.Title, id: d.RuleID, hosts: map[string]int{}, first: d.Time}
		s.summary[d.RuleID] = r
	}
	r.count++
	if h := d.Entities["host.name"]; h != "" {
		r.hosts[h]++
	}
	if d.Time.Before(r.first) {
		r.first = d.Time
	}
	if d.Time.After(r.last) {
		r.last = d.Time
	}
}

// table prints hits by level (most severe first), then count.
func (s *scanner) table() {
	rows := make([]*hitRow, 0, len(s.summary))
	for _, r := range s.summary {
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].level != rows[j].level {
			return rows[i].level > rows[j].level
		}
		if rows[i].count != rows[j].count {
			return rows[i].count > rows[j].count
		}
		return rows[i].title < rows[j].title
	})
	tw := tabwriter.NewWriter(s.out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tHITS\tRULE\tHOSTS\tFIRST\tLAST")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.level, r.count, r.title, hosts(r.hosts),
			r.first.UTC().Format(time.RFC3339), r.last.UTC().Format(time.RFC3339))
	}
	_ = tw.Flush()
}

func hosts(m map[string]int) string {
	type hc struct {
		h string
		n int
	}
	list := make([]hc, 0, len(m))
	for h, n := range m {
		list = append(list, hc{h, n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n > list[j].n || list[i].n == list[j].n && list[i].h < list[j].h })
	parts := make([]string, 0, 3)
	for i, x := range list {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("+%d", len(list)-3))
			break
		}
		parts = append(parts, x.h)
	}
	return strings.Join(parts, ",")
}
