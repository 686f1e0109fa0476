package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDetectSuppress reads suppression windows from the file and rejects
// entries without a rule or a window.
func TestDetectSuppress(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "wacht.yml")
		if err := os.WriteFile(p, []byte("data: "+dir+"\n"+text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := Load(write("detect:\n  placeholders:\n    Workstations: [ws*, pc*]\n  suppress:\n    - rule: r1\n      group_by: [host.name, user.name]\n      window: 1h\n    - rule: \"*\"\n      window: 5m\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Detect.Suppress
	if len(s) != 2 || s[0].Rule != "r1" || len(s[0].GroupBy) != 2 || time.Duration(s[0].Window) != time.Hour || s[1].Rule != "*" {
		t.Fatalf("suppress = %+v", s)
	}
	if p := cfg.Detect.Placeholders["Workstations"]; len(p) != 2 || p[1] != "pc*" {
		t.Errorf("placeholders = %v", cfg.Detect.Placeholders)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err = Load(write("detect:\n  suppress:\n    - group_by: [host.name]\n    - rule: r1\n      window: 1h\n    - rule: r1\n      window: 2h\n"), nil)
	if err == nil {
		err = cfg.Validate()
	}
	for _, want := range []string{"detect.suppress[0].rule", "detect.suppress[0].window", "detect.suppress[2].rule"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	if _, err := Load(write("detect:\n  suppress:\n    - rule: r1\n      windw: 1h\n"), nil); err == nil {
		t.Error("unknown key accepted")
	}
}
