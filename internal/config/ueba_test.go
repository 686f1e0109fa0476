package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUEBAConfig(t *testing.T) {
	dir := t.TempDir()
	mmdb := filepath.Join(dir, "country.mmdb")
	if err := os.WriteFile(mmdb, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "wacht.yaml")
	yaml := "ueba:\n  geoip: [" + mmdb + "]\n  peer_from: business_service\n  rebuild: {days: 7, tenants: [acme]}\n" +
		"  risk: {threshold: 120, half_life: 2d}\n  identity: {admins: [adm-*], watch_list: [mallory]}\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, []string{"WACHT_UEBA_RISK_SOURCE_CAP=40", "WACHT_UEBA_IDENTITY_CONTRACTORS=a,b"})
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.UEBA
	if len(u.GeoIP) != 1 || u.PeerFrom != "business_service" || u.Rebuild.Days != 7 || u.Rebuild.Tenants[0] != "acme" ||
		u.Risk.Threshold != 120 || time.Duration(u.Risk.HalfLife) != 48*time.Hour || u.Risk.SourceCap != 40 ||
		u.Risk.SignalCap != 100 || len(u.Identity.Contractors) != 2 || u.LearningPeriod != Duration(72*time.Hour) {
		t.Errorf("ueba section: %+v", u)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid config rejected: %v", err)
	}
	cfg.UEBA.GeoIP = []string{filepath.Join(dir, "missing.mmdb")}
	cfg.UEBA.PeerFrom = "department"
	cfg.UEBA.Risk.Threshold = -1
	err = cfg.Validate()
	for _, want := range []string{"ueba.geoip", "missing.mmdb", "ueba.peer_from", `"department"`, "ueba.risk"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	if _, err := Load("", []string{"WACHT_UEBA_NOPE=1"}); err == nil {
		t.Error("unknown ueba key accepted")
	}
}
