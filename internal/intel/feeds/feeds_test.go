package feeds_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/intel/feeds"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func shared(tb testing.TB, elem ...string) string {
	tb.Helper()
	root := os.Getenv("WACHT_SHARED")
	if root == "" {
		root = filepath.Join("..", "..", "..", "..", "shared")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s not available: %v", p, err)
	}
	return p
}

// collect is a Sink that keeps what it gets, normalized like an import.
type collect struct {
	inds    []intel.Indicator
	invalid int
	lists   []*intel.Warninglist
}

func (c *collect) Add(_ context.Context, ind intel.Indicator) error {
	t, v, err := intel.Normalize(ind.Type, ind.Value)
	if err != nil {
		c.invalid++
		return nil
	}
	ind.Type, ind.Value = t, v
	c.inds = append(c.inds, ind)
	return nil
}

func (c *collect) AddWarninglist(_ context.Context, wl *intel.Warninglist) error {
	c.lists = append(c.lists, wl)
	return nil
}

func (c *collect) byType() map[intel.Type]int {
	m := map[intel.Type]int{}
	for _, ind := range c.inds {
		m[ind.Type]++
	}
	return m
}

func (c *collect) find(value string) *intel.Indicator {
	for i := range c.inds {
		if c.inds[i].Value == value {
			return &c.inds[i]
		}
	}
	return nil
}

func readFile(t *testing.T, path string, o feeds.Options) *collect {
	t.Helper()
	var c collect
	if err := feeds.ReadFile(context.Background(), path, o, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestDetect(t *testing.T) {
	f := func(name, head string, want feeds.Format) {
		t.Helper()
		if got := feeds.Detect(name, []byte(head)); got != want {
			t.Errorf("Detect(%s, %.30q) = %q, want %q", name, head, got, want)
		}
	}
	f("x.json", `{"type": "bundle", "id": "bundle--1", "objects": []}`, feeds.FormatSTIX)
	f("x.json", `{"response": [{"Event": {}}]}`, feeds.FormatMISP)
	f("x.json", `{"Event": {"info": "x"}}`, feeds.FormatMISP)
	f("list.json", `{"description": "x", "list": [], "matching_attributes": ["ip-src"], "name": "x", "type": "cidr"}`, feeds.FormatWarninglist)
	f("a.csv", "value,type\n1.2.3.4,ip\n", feeds.FormatCSV)
	f("trail.txt", "# comment\nevil.example\n", feeds.FormatPlain)
}

func TestSTIXExamples(t *testing.T) {
	dir := shared(t, "intel", "stix-examples")
	c := readFile(t, filepath.Join(dir, "cti-documentation/examples/example_json/indicator-for-malicious-url.json"), feeds.Options{})
	if len(c.inds) != 1 || c.inds[0].Type != intel.TypeURL || c.inds[0].Value != "x4z9arb.cn/4712/" || c.inds[0].STIXID == "" ||
		c.inds[0].ValidFrom.IsZero() {
		t.Errorf("malicious URL: %+v", c.inds)
	}
	c = readFile(t, filepath.Join(dir, "cti-documentation/examples/example_json/malware-indicator-for-file-hash.json"), feeds.Options{})
	if len(c.inds) != 1 || c.inds[0].Type != intel.TypeSHA256 {
		t.Errorf("file hash: %+v", c.inds)
	}
	// MISP's STIX 2.0 export: 35 indicators, simple ones become typed values,
	// compound ones stay patterns for the evaluator.
	c = readFile(t, filepath.Join(dir, "misp-stixtest/stix2_indicators_test.json"), feeds.Options{})
	bt := c.byType()
	if bt[intel.TypeIP] == 0 || bt[intel.TypeDomain] == 0 || bt[intel.TypeSHA256] == 0 || bt[intel.TypePattern] == 0 || bt[intel.TypeEmail] == 0 {
		t.Errorf("MISP STIX 2.0 types: %v", bt)
	}
	if len(c.inds) < 35 || c.invalid != 0 {
		t.Errorf("MISP STIX 2.0: %d indicators, %d invalid", len(c.inds), c.invalid)
	}
	for _, ind := range c.inds {
		// The report is marked TLP:WHITE; its indicators inherit it.
		if ind.TLP != intel.TLPClear {
			t.Errorf("%s %s: TLP %s", ind.Type, ind.Value, ind.TLP)
			break
		}
	}
	// ATT&CK ids from "indicates" relationships (the poisonivy report).
	c = readFile(t, filepath.Join(dir, "cti-stix2-json-schemas/examples/threat-reports/poisonivy.json"), feeds.Options{})
	if len(c.inds) == 0 {
		t.Fatal("poisonivy: no indicators")
	}
}

func TestMISPFeedAndEvents(t *testing.T) {
	dir := shared(t, "intel", "misp")
	var c collect
	if err := feeds.ReadDir(context.Background(), filepath.Join(dir, "infoblox-feed"), feeds.Options{}, &c, nil, nil); err != nil {
		t.Fatal(err)
	}
	// 3,831 attributes, all to_ids, mostly domains; hashes.csv is not read.
	if len(c.inds) < 3800 || c.byType()[intel.TypeDomain] < 3000 {
		t.Errorf("infoblox feed: %d indicators %v, %d invalid", len(c.inds), c.byType(), c.invalid)
	}
	ind := c.inds[0]
	if ind.TLP != intel.TLPClear || !strings.Contains(strings.Join(ind.Tags, ","), "infoblox") || ind.Confidence == 0 || ind.LastSeen.IsZero() {
		t.Errorf("infoblox indicator: %+v", ind)
	}
	// ESET exports mark few attributes to_ids; with MISPAllAttributes every
	// mappable attribute (object attributes too) is read.
	ids := readFile(t, filepath.Join(dir, "eset-events/windigo/ebury.misp.json"), feeds.Options{})
	all := readFile(t, filepath.Join(dir, "eset-events/windigo/ebury.misp.json"), feeds.Options{MISPAllAttributes: true})
	if len(all.inds) <= len(ids.inds) {
		t.Errorf("ebury: %d to_ids, %d all", len(ids.inds), len(all.inds))
	}
	for _, ind := range all.inds {
		if len(ind.Attack) == 0 {
			t.Errorf("ebury indicator without ATT&CK ids from the event's galaxies: %+v", ind)
			break
		}
	}
	// The whole folder: three layouts, no errors.
	var every collect
	var errs []string
	if err := feeds.ReadDir(context.Background(), dir, feeds.Options{}, &every, nil, func(p string, err error) { errs = append(errs, p+": "+err.Error()) }); err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		if !strings.Contains(e, "reference") {
			t.Error(e)
		}
	}
}

func TestPlainLists(t *testing.T) {
	var c collect
	in := "# header\n; other comment\n1.2.3.4\t7\n10.0.0.0/8 # bogon\nevil.example\nevil.example/gate.php\n1.2.3.5:8080\nnot a value here\n\n"
	if err := feeds.Read(context.Background(), "ipsum.txt", strings.NewReader(in), feeds.Options{Tags: []string{"t"}}, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.inds) != 5 || c.invalid != 1 {
		t.Fatalf("plain: %d indicators %d invalid: %+v", len(c.inds), c.invalid, c.inds)
	}
	if c.find("1.2.3.4").Confidence != 100 || c.find("evil.example").Confidence != 0 || c.find("10.0.0.0/8").Type != intel.TypeCIDR ||
		c.find("1.2.3.5:8080").Type != intel.TypeIPPort || c.find("evil.example/gate.php").Type != intel.TypeURL || c.find("evil.example").Tags[0] != "t" {
		t.Errorf("plain values: %+v", c.inds)
	}
	var csvc collect
	csvIn := "type,value,confidence,tlp,tags\nip,203.0.113.9,90,amber,a;b\n,evil.example,,,\n"
	if err := feeds.Read(context.Background(), "x.csv", strings.NewReader(csvIn), feeds.Options{}, &csvc); err != nil {
		t.Fatal(err)
	}
	if len(csvc.inds) != 2 || csvc.inds[0].Confidence != 90 || csvc.inds[0].TLP != intel.TLPAmber || len(csvc.inds[0].Tags) != 2 || csvc.inds[1].Type != intel.TypeDomain {
		t.Errorf("csv: %+v", csvc.inds)
	}
	// Real lists: maltrail (family label from the file name), FireHOL, IPsum.
	dir := shared(t, "intel", "feeds")
	var m collect
	if err := feeds.ReadDir(context.Background(), filepath.Join(dir, "maltrail", "malware"), feeds.Options{}, &m, nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(m.inds) < 10000 || !strings.HasPrefix(m.inds[0].Tags[0], "list:") {
		t.Errorf("maltrail malware: %d indicators, first %+v", len(m.inds), m.inds[0])
	}
	fh := readFile(t, filepath.Join(dir, "firehol", "firehol_level1.netset"), feeds.Options{})
	if fh.byType()[intel.TypeCIDR] < 1000 || fh.find("10.0.0.0/8") == nil {
		t.Errorf("firehol: %v", fh.byType())
	}
}

// TestWarninglistsNeverAlert imports the real MISP warninglists and the
// FireHOL level 1 set (which lists private and bogon ranges) and checks
// that private ranges, public resolvers and top domains are flagged.
func TestWarninglistsNeverAlert(t *testing.T) {
	wlDir := shared(t, "intel", "misp-warninglists", "lists")
	feedDir := shared(t, "intel", "feeds")
	db := storetest.Open(t, store.Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "state.db")})
	svc := intel.New(intel.Deps{DB: db, Now: func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }}, intel.Config{})
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	ctx := context.Background()
	im := svc.NewImport("default", "warninglists")
	for _, name := range []string{"rfc1918", "public-dns-v4", "tranco10k", "ti-falsepositives", "empty-hashes"} {
		if err := feeds.ReadFile(ctx, filepath.Join(wlDir, name, "list.json"), feeds.Options{}, im); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := im.Close(ctx); err != nil || st.Warninglists != 5 {
		t.Fatalf("warninglists: %+v %v", st, err)
	}
	im = svc.NewImport("default", "firehol")
	if err := feeds.ReadFile(ctx, filepath.Join(feedDir, "firehol", "firehol_level1.netset"), feeds.Options{}, im); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"8.8.8.8", "google.com", "d41d8cd98f00b204e9800998ecf8427e", "203.0.113.66"} {
		typ, val, _ := intel.Guess(v)
		_ = im.Add(ctx, intel.Indicator{Type: typ, Value: val})
	}
	st, err := im.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Warninglisted < 4 {
		t.Errorf("only %d warninglisted: %+v", st.Warninglisted, st)
	}
	f := func(value string, listed bool) {
		t.Helper()
		res, err := svc.Lookup(ctx, "default", value)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Indicators) == 0 {
			t.Fatalf("%s: not found", value)
		}
		if res.Alerting == listed {
			t.Errorf("%s: alerting %v (warninglist %q, indicator list %q)", value, res.Alerting, res.Warninglist, res.Indicators[0].Warninglist)
		}
	}
	f("10.0.0.0/8", true)
	f("10.20.30.40", true)
	f("8.8.8.8", true)
	f("google.com", true)
	f("d41d8cd98f00b204e9800998ecf8427e", true)
	f("203.0.113.66", false)
}

func TestExportRoundTrip(t *testing.T) {
	inds := []intel.Indicator{
		{ID: "1", Type: intel.TypeIP, Value: "203.0.113.7", Confidence: 80, TLP: intel.TLPAmber, Tags: []string{"c2"}, Attack: []string{"T1071"}},
		{ID: "2", Type: intel.TypeDomain, Value: "evil.example", Confidence: 60, TLP: intel.TLPGreen},
		{ID: "3", Type: intel.TypeURL, Value: "evil.example/it's", Confidence: 60},
		{ID: "4", Type: intel.TypeSHA256, Value: strings.Repeat("ab", 32), Confidence: 60},
		{ID: "5", Type: intel.TypeIPPort, Value: "192.0.2.1:4444", Confidence: 60},
		{ID: "6", Type: intel.TypeEmail, Value: "x@evil.example", Confidence: 60},
		{ID: "7", Type: intel.TypeCIDR, Value: "198.51.100.0/24", Confidence: 60},
	}
	for _, format := range []string{"stix", "misp", "csv"} {
		var buf bytes.Buffer
		w, err := feeds.NewExportWriter(&buf, format, "test")
		if err != nil {
			t.Fatal(err)
		}
		for i := range inds {
			if err := w.Write(&inds[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var c collect
		if err := feeds.Read(context.Background(), "export."+format, &buf, feeds.Options{MISPAllAttributes: true}, &c); err != nil {
			t.Fatalf("%s: %v\n%s", format, err, buf.String())
		}
		for _, want := range inds {
			got := c.find(want.Value)
			if format == "stix" && want.Type == intel.TypeIPPort {
				// Exported as a network-traffic pattern, read back as one.
				continue
			}
			if got == nil || got.Type != want.Type {
				t.Errorf("%s: %s %s lost (%+v)", format, want.Type, want.Value, got)
				continue
			}
			if format != "csv" && got.TLP != want.TLP {
				t.Errorf("%s: %s TLP %s, want %s", format, want.Value, got.TLP, want.TLP)
			}
		}
		if format == "stix" && c.find("203.0.113.7").Confidence != 80 {
			t.Errorf("stix confidence lost")
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add("x.json", []byte(`{"type":"bundle","objects":[{"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '1.2.3.4']"}]}`))
	f.Add("x.json", []byte(`{"Event":{"info":"x","Attribute":[{"type":"ip-dst|port","value":"1.2.3.4|80","to_ids":true}]}}`))
	f.Add("list.json", []byte(`{"name":"x","type":"cidr","list":["10.0.0.0/8"],"matching_attributes":["ip-src"]}`))
	f.Add("x.csv", []byte("value,type\n1.2.3.4,ip\n"))
	f.Add("x.txt", []byte("evil.example\n1.2.3.4 3\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		var c collect
		_ = feeds.Read(context.Background(), name, bytes.NewReader(data), feeds.Options{}, &c)
	})
}

func TestSTIXMarkingsAndAttack(t *testing.T) {
	bundle := `{"type":"bundle","id":"bundle--1","objects":[
	 {"type":"report","id":"report--1","object_refs":["indicator--1"],"object_marking_refs":["marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"]},
	 {"type":"indicator","id":"indicator--1","pattern":"[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.5']","valid_from":"2020-01-01T00:00:00Z","confidence":70},
	 {"type":"indicator","id":"indicator--2","pattern":"[domain-name:value = 'evil.example']","object_marking_refs":["marking-definition--red"],"valid_from":"2020-01-01T00:00:00Z"},
	 {"type":"marking-definition","id":"marking-definition--red","definition_type":"tlp","definition":{"tlp":"red"}},
	 {"type":"attack-pattern","id":"attack-pattern--1","name":"Phishing","external_references":[{"source_name":"mitre-attack","external_id":"T1566"}]},
	 {"type":"relationship","id":"relationship--1","relationship_type":"indicates","source_ref":"indicator--2","target_ref":"attack-pattern--1"},
	 {"type":"indicator","id":"indicator--3","pattern":"[file:name = 'x.exe']","revoked":true,"valid_from":"2020-01-01T00:00:00Z"},
	 {"type":"indicator","id":"indicator--4","pattern":"alert tcp any any","pattern_type":"snort","valid_from":"2020-01-01T00:00:00Z"}
	]}`
	var c collect
	if err := feeds.Read(context.Background(), "b.json", strings.NewReader(bundle), feeds.Options{}, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.inds) != 2 {
		t.Fatalf("indicators %+v", c.inds)
	}
	ip, dom := c.find("203.0.113.5"), c.find("evil.example")
	if ip == nil || ip.Type != intel.TypeIP || ip.TLP != intel.TLPAmber || ip.Confidence != 70 {
		t.Errorf("ip from report marking: %+v", ip)
	}
	if dom == nil || dom.TLP != intel.TLPRed || len(dom.Attack) != 1 || dom.Attack[0] != "T1566" {
		t.Errorf("domain with marking definition and ATT&CK: %+v", dom)
	}
}

// TestMISPDistributionAndAttributeGalaxies: without TLP tags, an
// attribute's and its object's distribution narrow the event's; an
// attribute's own galaxy clusters and galaxy tags add ATT&CK ids.
func TestMISPDistributionAndAttributeGalaxies(t *testing.T) {
	doc := `{"Event": {"uuid": "5d7c0d2e-0000-4000-8000-000000000001", "info": "phishing wave", "threat_level_id": "1",
	  "distribution": "3",
	  "Galaxy": [{"type": "mitre-attack-pattern", "GalaxyCluster": [{"value": "Spearphishing Link", "meta": {"external_id": ["T1566.002"]}}]}],
	  "Attribute": [
	    {"type": "domain", "value": "all-communities.example", "to_ids": true, "distribution": "5"},
	    {"type": "domain", "value": "org-only.example", "to_ids": true, "distribution": "0"},
	    {"type": "ip-dst|port", "value": "198.51.100.9|4444", "to_ids": true, "distribution": "1",
	     "Tag": [{"name": "misp-galaxy:mitre-attack-pattern=\"Non-Standard Port - T1571\""}]},
	    {"type": "url", "value": "http://tagged.example/x", "to_ids": true, "distribution": "0", "Tag": [{"name": "tlp:green"}],
	     "Galaxy": [{"type": "mitre-attack-pattern", "GalaxyCluster": [{"value": "Malicious Link", "tag_name": "misp-galaxy:mitre-attack-pattern=\"Malicious Link - T1204.001\""}]}]}
	  ],
	  "Object": [{"name": "domain-ip", "distribution": "4", "Attribute": [
	    {"type": "domain", "object_relation": "domain", "value": "sharing-group.example", "to_ids": true, "distribution": "5"},
	    {"type": "domain|ip", "object_relation": "domain", "value": "pair.example|203.0.113.50", "to_ids": true}
	  ]}]
	}}`
	var c collect
	if err := feeds.Read(context.Background(), "event.json", strings.NewReader(doc), feeds.Options{}, &c); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		tlp    intel.TLP
		attack []string
	}{
		"all-communities.example": {intel.TLPGreen, []string{"T1566.002"}},
		"org-only.example":        {intel.TLPAmberStrict, []string{"T1566.002"}},
		"198.51.100.9:4444":       {intel.TLPAmber, []string{"T1566.002", "T1571"}},
		"tagged.example/x":        {intel.TLPGreen, []string{"T1566.002", "T1204.001"}},
		"sharing-group.example":   {intel.TLPAmber, []string{"T1566.002"}},
		"pair.example":            {intel.TLPAmber, []string{"T1566.002"}},
		"203.0.113.50":            {intel.TLPAmber, []string{"T1566.002"}},
	}
	for v, w := range want {
		ind := c.find(v)
		if ind == nil {
			t.Errorf("%s not imported", v)
			continue
		}
		if ind.TLP != w.tlp || !slices.Equal(ind.Attack, w.attack) || ind.Confidence != 85 {
			t.Errorf("%s: TLP %s attack %v confidence %d, want %s %v 85", v, ind.TLP, ind.Attack, ind.Confidence, w.tlp, w.attack)
		}
	}
	if len(c.inds) != len(want) {
		t.Errorf("%d indicators, want %d", len(c.inds), len(want))
	}
}
