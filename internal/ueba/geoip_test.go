package ueba

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/wacht-soc/wacht/event"
)

// writeMMDB builds a small MaxMind database: networks → record.
func writeMMDB(t testing.TB, dbType string, nets map[string]mmdbtype.Map) []byte {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func country(cc string) mmdbtype.Map {
	return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)}}
}

func asn(n uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(n), "autonomous_system_organization": mmdbtype.String(org)}
}

// testGeo writes a country and an ASN database to files and opens both.
func testGeo(t *testing.T) *GeoIP {
	dir := t.TempDir()
	cdb := writeMMDB(t, "GeoLite2-Country", map[string]mmdbtype.Map{
		"81.2.69.0/24": country("GB"), "81.2.70.0/24": country("GB"), "89.160.20.0/24": country("SE"), "2001:db8:1::/48": country("DE"),
	})
	adb := writeMMDB(t, "GeoLite2-ASN", map[string]mmdbtype.Map{
		"81.2.69.0/24": asn(20712, "Andrews & Arnold"), "81.2.70.0/24": asn(20712, "Andrews & Arnold"), "89.160.20.0/24": asn(29518, "Bredband2"),
	})
	cp, ap := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.mmdb")
	if err := os.WriteFile(cp, cdb, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ap, adb, 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := OpenGeoIP(cp, ap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestGeoIPLookup(t *testing.T) {
	g := testGeo(t)
	for _, c := range []struct {
		ip      string
		cc      string
		asn     uint32
		located bool
	}{
		{"81.2.69.160", "GB", 20712, true},
		{"89.160.20.112", "SE", 29518, true},
		{"2001:db8:1::5", "DE", 0, true},
		{"10.0.0.1", "", 0, false},  // private
		{"127.0.0.1", "", 0, false}, // loopback
		{"192.0.2.1", "", 0, false}, // not in the data
	} {
		info, ok := g.Lookup(netip.MustParseAddr(c.ip))
		if ok != c.located || info.Country != c.cc || info.ASN != c.asn {
			t.Errorf("%s: got %+v %v, want %s AS%d %v", c.ip, info, ok, c.cc, c.asn, c.located)
		}
	}
	if _, err := OpenGeoIP(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil || !strings.Contains(err.Error(), "missing.mmdb") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := OpenGeoIPBytes([]byte("not a database")); err == nil {
		t.Error("garbage accepted as a database")
	}
}

// TestNewCountryAndASN: a user who worked from the office and from home
// in Britain logs on from Sweden — a new country and a new network; a new
// address in a known country and network is only a new logon source.
func TestNewCountryAndASN(t *testing.T) {
	en := NewEngine(Config{LearningPeriod: 48 * time.Hour, Geo: testGeo(t)})
	logon := func(at time.Time, ip string) *event.Event {
		return &event.Event{Time: at, Tenant: "t", Fields: []event.Field{{Name: "user.name", Value: event.String("Alice")},
			{Name: "host.name", Value: event.String("ws-1")}, {Name: "source.ip", Value: event.String(ip)}}}
	}
	var got []Anomaly
	for h := range 72 {
		ip := "10.0.0.7"
		if h%5 == 0 {
			ip = "81.2.69.160"
		}
		got = en.Process([]*event.Event{logon(simStart.Add(time.Duration(h)*time.Hour), ip)}, got)
	}
	if len(got) != 0 {
		t.Fatalf("anomalies while learning: %+v", got)
	}
	got = en.Process([]*event.Event{logon(simStart.Add(73*time.Hour), "81.2.70.9")}, got)
	if len(got) != 1 || got[0].Detector != DetNewLogonSource {
		t.Fatalf("new address in a known country: %+v", got)
	}
	got = en.Process([]*event.Event{logon(simStart.Add(74*time.Hour), "89.160.20.112")}, got[:0])
	byDet := map[Detector]Anomaly{}
	for _, a := range got {
		byDet[a.Detector] = a
	}
	c, ok := byDet[DetNewCountry]
	if !ok || c.Entity != (Entity{KindUser, "alice"}) || c.Observed != "SE" || !strings.Contains(c.Baseline, "GB") || c.Score <= 0 {
		t.Errorf("new country: %+v", got)
	}
	a, ok := byDet[DetNewASN]
	if !ok || !strings.Contains(a.Observed, "AS29518 Bredband2") || !strings.Contains(a.Baseline, "AS20712") {
		t.Errorf("new ASN: %+v", got)
	}
	if _, ok := byDet[DetNewLogonSource]; !ok || len(got) != 3 {
		t.Errorf("want new source, country and network, got %+v", got)
	}
	// Seen again: nothing new.
	if again := en.Process([]*event.Event{logon(simStart.Add(75*time.Hour), "89.160.20.113")}, nil); len(again) != 1 || again[0].Detector != DetNewLogonSource {
		t.Errorf("second Swedish address: %+v", again)
	}
}

func FuzzOpenGeoIPBytes(f *testing.F) {
	f.Add(writeMMDB(f, "GeoLite2-Country", map[string]mmdbtype.Map{"81.2.69.0/24": country("GB")}))
	f.Add([]byte("\xab\xcd\xefMaxMind.com"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := OpenGeoIPBytes(b)
		if err != nil {
			return
		}
		g.Lookup(netip.MustParseAddr("81.2.69.160"))
		g.Lookup(netip.MustParseAddr("2001:db8::1"))
		g.Close()
	})
}
