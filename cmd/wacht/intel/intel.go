// Package intel is `wacht intel`: import threat intelligence (a file, a
// folder of feeds, a URL) into a running server, list and look up
// indicators, list warninglists and export. Every command talks to the
// server's API, so its match indexes change with the import.
package intel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
)

// ErrNotFound makes `wacht intel lookup` exit 1 without an error message
// beyond "not found".
var ErrNotFound = errors.New("not found")

// NewCommand returns `wacht intel`.
func NewCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "intel", Short: "Threat intelligence: import, look up, list and export indicators"}
	cmd.AddCommand(importCmd(g), lookupCmd(g), listCmd(g), exportCmd(g), warninglistsCmd(g), feedsCmd(g), statsCmd(g))
	return cmd
}

func importCmd(g *cli.Globals) *cobra.Command {
	var format, source, tlp string
	var confidence int
	var mispAll bool
	c := &cobra.Command{
		Use:   "import FILE|DIR|URL",
		Short: "Import STIX, MISP, warninglists, CSV or plain lists (a folder is read recursively)",
		Long: `Import threat intelligence into the server.

FILE is a STIX 2.0/2.1 bundle, a MISP event export, a MISP warninglist
(list.json), a CSV with a "value" column, or a plain list (one value per
line: addresses, networks, address:port, domains, URLs, hashes, e-mail
addresses; '#' comments; maltrail trails, FireHOL netsets, IPsum).
DIR is read recursively (a folder with a MISP manifest.json is read as a
MISP feed). URL is downloaded by this command and sent on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := feeds.ParseFormat(format); err != nil {
				return err
			}
			if tlp != "" {
				if _, err := intel.ParseTLP(tlp); err != nil {
					return err
				}
			}
			c, err := g.Client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if format != "" && format != "auto" {
				q.Set("format", format)
			}
			if confidence > 0 {
				q.Set("confidence", strconv.Itoa(confidence))
			}
			if tlp != "" {
				q.Set("tlp", tlp)
			}
			if mispAll {
				q.Set("misp_all", "1")
			}
			src := args[0]
			if source == "" {
				source = filepath.Base(strings.TrimRight(src, "/"))
			}
			q.Set("source", source)
			total, err := runImport(cmd.Context(), c, src, q)
			if err != nil {
				return err
			}
			return printStats(g, total)
		},
	}
	c.Flags().StringVar(&format, "format", "auto", "auto, stix, misp, warninglist, csv or plain")
	c.Flags().StringVar(&source, "source", "", "feed name recorded on the indicators (default: the file or folder name)")
	c.Flags().IntVar(&confidence, "confidence", 0, "confidence 1-100 for indicators that state none (default 50)")
	c.Flags().StringVar(&tlp, "tlp", "", "TLP for indicators that carry none: clear, green, amber, amber+strict, red")
	c.Flags().BoolVar(&mispAll, "misp-all-attributes", false, "also import MISP attributes without to_ids")
	g.ServerFlags(c)
	return c
}

func runImport(ctx context.Context, c *cli.Client, src string, q url.Values) (intel.ImportStats, error) {
	total := intel.ImportStats{ByType: map[string]int{}}
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return total, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return total, fmt.Errorf("download %s: %w", src, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return total, fmt.Errorf("download %s: %s", src, resp.Status)
		}
		p := &cli.Progress{What: "import " + src}
		q.Set("name", filepath.Base(resp.Request.URL.Path))
		st, err := upload(ctx, c, q, &progressReader{r: resp.Body, total: resp.ContentLength, p: p})
		p.Done()
		add(&total, st)
		return total, err
	}
	info, err := os.Stat(src)
	if err != nil {
		return total, err
	}
	if !info.IsDir() {
		f, err := os.Open(src)
		if err != nil {
			return total, err
		}
		defer f.Close()
		p := &cli.Progress{What: "import " + filepath.Base(src)}
		q.Set("name", filepath.Base(src))
		st, err := upload(ctx, c, q, &progressReader{r: f, total: info.Size(), p: p})
		p.Done()
		add(&total, st)
		return total, err
	}
	files, size, err := feeds.Files(src)
	if err != nil {
		return total, err
	}
	p := &cli.Progress{What: fmt.Sprintf("import %d files", len(files))}
	var done int64
	for i, path := range files {
		rel, _ := filepath.Rel(src, path)
		fq := url.Values{}
		for k, v := range q {
			fq[k] = v
		}
		fq.Set("name", rel)
		if tag := feeds.LabelTag(rel); tag != "" {
			fq.Set("tag", tag)
		}
		if i < len(files)-1 {
			fq.Set("defer_rebuild", "1")
		}
		f, err := os.Open(path)
		if err != nil {
			return total, err
		}
		st, err := upload(ctx, c, fq, f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "\n%s: %v\n", rel, err)
		}
		add(&total, st)
		if fi, err := os.Stat(path); err == nil {
			done += fi.Size()
		}
		p.Update(done, size)
	}
	p.Done()
	return total, nil
}

func add(total *intel.ImportStats, st intel.ImportStats) {
	total.Read += st.Read
	total.Stored += st.Stored
	total.Invalid += st.Invalid
	total.Warninglisted += st.Warninglisted
	total.Warninglists += st.Warninglists
	total.Retro += st.Retro
	for k, v := range st.ByType {
		total.ByType[k] += v
	}
	for _, e := range st.Errors {
		if len(total.Errors) < 20 {
			total.Errors = append(total.Errors, e)
		}
	}
}

type progressReader struct {
	r     io.Reader
	n     int64
	total int64
	p     *cli.Progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.n += int64(n)
	pr.p.Update(pr.n, max(pr.total, 0))
	return n, err
}

func upload(ctx context.Context, c *cli.Client, q url.Values, body io.Reader) (intel.ImportStats, error) {
	var st intel.ImportStats
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/api/v1/intel/import?"+q.Encode(), body)
	if err != nil {
		return st, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return st, fmt.Errorf("contact server %s: %w", c.Base, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return st, fmt.Errorf("server answered %s: %s", resp.Status, e.Error)
		}
		return st, fmt.Errorf("server answered %s", resp.Status)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("decode import result: %w", err)
	}
	return st, nil
}

func printStats(g *cli.Globals, st intel.ImportStats) error {
	if g.JSON {
		return json.NewEncoder(os.Stdout).Encode(st)
	}
	fmt.Printf("read %d, stored %d, invalid %d, warninglisted %d, warninglists %d, retro-sightings %d\n",
		st.Read, st.Stored, st.Invalid, st.Warninglisted, st.Warninglists, st.Retro)
	for _, t := range intel.Types() {
		if n := st.ByType[t.String()]; n > 0 {
			fmt.Printf("  %-12s %d\n", t, n)
		}
	}
	for _, e := range st.Errors {
		fmt.Fprintln(os.Stderr, "  rejected:", e)
	}
	return nil
}

func getJSON(ctx context.Context, g *cli.Globals, path string, v any) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	body, err := c.Get(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	return json.NewDecoder(body).Decode(v)
}

func lookupCmd(g *cli.Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "lookup VALUE",
		Short: "Look a value up (exit 0: known indicator, 1: not found)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var out struct {
				Found  bool               `json:"found"`
				Result intel.LookupResult `json:"result"`
			}
			if err := getJSON(cmd.Context(), g, "/api/v1/intel/lookup?value="+url.QueryEscape(args[0]), &out); err != nil {
				return err
			}
			if g.JSON {
				if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
					return err
				}
			} else {
				r := out.Result
				fmt.Printf("%s %s", r.Type, r.Value)
				if r.Warninglist != "" {
					fmt.Printf("  (on warninglist %q: never alerts)", r.Warninglist)
				}
				fmt.Println()
				tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
				for _, ind := range r.Indicators {
					fmt.Fprintf(tw, "  %s\t%s\tconfidence %d\tTLP:%s\t%s\tsightings %d\t%s\n", ind.Type, ind.Value, ind.Confidence,
						strings.ToUpper(ind.TLP.String()), ind.Source, ind.Sightings, strings.Join(append(ind.Tags, ind.Attack...), ","))
				}
				_ = tw.Flush()
				if out.Found {
					fmt.Printf("alerting: %v\n", r.Alerting)
				}
			}
			if !out.Found {
				cmd.SilenceErrors = true
				return ErrNotFound
			}
			return nil
		},
	}
	g.ServerFlags(c)
	return c
}

func listCmd(g *cli.Globals) *cobra.Command {
	var typ, source, prefix, after string
	var limit int
	c := &cobra.Command{
		Use:   "list",
		Short: "List indicators",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"type": typ, "source": source, "prefix": prefix, "after": after} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", strconv.Itoa(limit))
			var out struct {
				Indicators []intel.Indicator `json:"indicators"`
				Next       string            `json:"next"`
			}
			if err := getJSON(cmd.Context(), g, "/api/v1/intel/indicators?"+q.Encode(), &out); err != nil {
				return err
			}
			if g.JSON {
				return json.NewEncoder(os.Stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tVALUE\tCONF\tTLP\tSOURCE\tSIGHTINGS\tWARNINGLIST")
			for _, ind := range out.Indicators {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", ind.ID, ind.Type, ind.Value, ind.Confidence, ind.TLP, ind.Source, ind.Sightings, ind.Warninglist)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if out.Next != "" {
				fmt.Fprintf(os.Stderr, "more: --after %s\n", out.Next)
			}
			return nil
		},
	}
	c.Flags().StringVar(&typ, "type", "", "only this type (ip, cidr, ip-port, domain, url, md5, sha1, sha256, sha512, email, stix-pattern)")
	c.Flags().StringVar(&source, "source", "", "only from this source")
	c.Flags().StringVar(&prefix, "prefix", "", "values starting with this")
	c.Flags().StringVar(&after, "after", "", "continue after this id")
	c.Flags().IntVar(&limit, "limit", 100, "at most this many (1-10000)")
	g.ServerFlags(c)
	return c
}

func exportCmd(g *cli.Globals) *cobra.Command {
	var format, maxTLP string
	c := &cobra.Command{
		Use:   "export",
		Short: "Export indicators as a STIX 2.1 bundle, a MISP event or CSV (stdout)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			body, err := c.Get(cmd.Context(), "/api/v1/intel/export?format="+url.QueryEscape(format)+"&max_tlp="+url.QueryEscape(maxTLP))
			if err != nil {
				return err
			}
			defer body.Close()
			_, err = io.Copy(os.Stdout, body)
			return err
		},
	}
	c.Flags().StringVar(&format, "format", "stix", "stix, misp or csv")
	c.Flags().StringVar(&maxTLP, "max-tlp", "amber", "leave out indicators marked above this TLP")
	g.ServerFlags(c)
	return c
}

func warninglistsCmd(g *cli.Globals) *cobra.Command {
	var del string
	c := &cobra.Command{
		Use:   "warninglists",
		Short: "List the MISP warninglists in use (values on them never alert)",
		Long: `List the MISP warninglists in use. Values on them never alert.

Import lists with "wacht intel import DIR" (list.json files). The full MISP
set also lists cloud, VPN and hosting address space, where attackers live
too: remove the lists you do not want with --delete NAME.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if del != "" {
				return send(cmd.Context(), g, http.MethodDelete, "/api/v1/intel/warninglists/"+url.PathEscape(del), nil, nil)
			}
			var out struct {
				Warninglists []intel.Warninglist `json:"warninglists"`
			}
			if err := getJSON(cmd.Context(), g, "/api/v1/intel/warninglists", &out); err != nil {
				return err
			}
			if g.JSON {
				return json.NewEncoder(os.Stdout).Encode(out)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tTYPE\tVERSION\tATTRIBUTES")
			for _, wl := range out.Warninglists {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", wl.Name, wl.Type, wl.Version, strings.Join(wl.MatchingAttributes, ","))
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&del, "delete", "", "stop applying the warninglist with this name")
	g.ServerFlags(c)
	return c
}

func statsCmd(g *cli.Globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "stats",
		Short: "Show the match index and matcher counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out map[string]any
			if err := getJSON(cmd.Context(), g, "/api/v1/intel/stats", &out); err != nil {
				return err
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	g.ServerFlags(c)
	return c
}
