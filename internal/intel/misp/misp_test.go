package misp

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sharedDir(tb testing.TB, elem ...string) string {
	tb.Helper()
	root := os.Getenv("WACHT_SHARED")
	if root == "" {
		root = filepath.Join("..", "..", "..", "..", "shared")
	}
	p := filepath.Join(append([]string{root}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s not available", p)
	}
	return p
}

// TestDecodeShared reads every MISP event of the shared data in all three
// layouts and checks the totals SOURCE.md gives.
func TestDecodeShared(t *testing.T) {
	dir := sharedDir(t, "intel", "misp")
	events, attrs, objects := 0, 0, 0
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".json") || strings.Contains(path, "reference") || filepath.Base(path) == "manifest.json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		evs, err := Decode(data)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		for _, ev := range evs {
			if ev.UUID == "" || ev.Info == "" {
				t.Errorf("%s: event without uuid or info", path)
			}
			events++
			attrs += len(ev.Attribute)
			objects += len(ev.Object)
			for _, o := range ev.Object {
				attrs += len(o.Attribute)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 57 ESET + 14 CIRCL + 29 Infoblox events; 9,171 attributes; 541 objects.
	if events != 100 || attrs != 9171 || objects != 541 {
		t.Errorf("read %d events, %d attributes, %d objects; want 100, 9171, 541", events, attrs, objects)
	}
}

func TestManifestAndGalaxies(t *testing.T) {
	dir := sharedDir(t, "intel", "misp")
	data, err := os.ReadFile(filepath.Join(dir, "infoblox-feed", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeManifest(data)
	if err != nil || len(m) != 29 {
		t.Fatalf("manifest: %d entries, %v", len(m), err)
	}
	// Every event of this feed is marked TLP:WHITE or its TLP 2.0 name,
	// TLP:CLEAR (the manifest is a map: check all, in any order).
	for id, e := range m {
		if tlp := TLP(e.Tag); tlp != "white" && tlp != "clear" {
			t.Errorf("manifest event %s: TLP %q", id, tlp)
		}
	}
	data, err = os.ReadFile(filepath.Join(dir, "eset-events", "windigo", "ebury.misp.json"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := Decode(data)
	if err != nil || len(evs) != 1 {
		t.Fatalf("ebury event: %v", err)
	}
	// ESET tags its events with mitre-attack-pattern galaxies.
	ids := evs[0].AttackIDs()
	if len(ids) < 3 || ids[0][0] != 'T' {
		t.Errorf("ATT&CK ids from galaxies: %v", ids)
	}
}

func TestAttackIDsAndFlex(t *testing.T) {
	ev := &Event{Galaxy: []Galaxy{{Type: "mitre-attack-pattern", GalaxyCluster: []GalaxyCluster{{TagName: `misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001"`}}},
		{Type: "threat-actor", GalaxyCluster: []GalaxyCluster{{TagName: `misp-galaxy:threat-actor="Sofacy - T9999"`}}}},
		Tag: []Tag{{Name: `misp-galaxy:mitre-intrusion-set="APT28 - G0007"`}, {Name: "tlp:amber"}}}
	got := strings.Join(ev.AttackIDs(), ",")
	if got != "T1566.001,G0007" {
		t.Errorf("AttackIDs = %s", got)
	}
	evs, err := Decode([]byte(`{"Event":{"uuid":"u","info":"i","threat_level_id":2,"Attribute":[{"type":"ip-dst","value":"1.2.3.4","to_ids":"1","timestamp":1700000000}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	a := evs[0].Attribute[0]
	if !a.ToIDS.Bool() || Time(a.Timestamp).Unix() != 1700000000 || evs[0].ThreatLevelID.Int() != 2 {
		t.Errorf("flex values: %+v", a)
	}
	if _, err := Decode([]byte(`{"nothing":1}`)); err == nil {
		t.Error("document without an event accepted")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"response":[{"Event":{"uuid":"u","info":"x","Attribute":[{"type":"domain","value":"a.b","to_ids":true}]}}]}`))
	f.Add([]byte(`{"Event":{"info":"x","Object":[{"Attribute":[{"type":"md5","value":"x"}]}],"Galaxy":[{"type":"mitre-x","GalaxyCluster":[{"tag_name":"T1000"}]}]}}`))
	f.Add([]byte(`[{"Event":{"info":"a"}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := Decode(data)
		if err != nil {
			return
		}
		for _, ev := range evs {
			_ = ev.AttackIDs()
			_ = TLP(ev.Tag)
			for _, a := range ev.Attribute {
				_ = Time(a.Timestamp)
			}
		}
	})
}
