package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIntel reads the intel section from file and environment, keeps the
// defaults for what is left out, and rejects bad values by key.
func TestIntel(t *testing.T) {
	dir := t.TempDir()
	load := func(text string, env ...string) (Config, error) {
		p := filepath.Join(dir, "wacht.yml")
		if err := os.WriteFile(p, []byte("data: "+dir+"\n"+text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(p, env)
		if err != nil {
			return cfg, err
		}
		return cfg, cfg.Validate()
	}
	cfg, err := load("intel:\n  retro_days: 30\n  pattern_window: 2h\n  decay:\n    ip: {lifetime: 14d, speed: 3, threshold: 40}\n",
		"WACHT_INTEL_RETRO_MAX_INDICATORS=500")
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Intel
	if in.RetroDays != 30 || time.Duration(in.PatternWindow) != 2*time.Hour || in.RetroMaxIndicators != 500 ||
		in.ImportBatch != 100_000 || in.DefaultConfidence != 50 ||
		in.Decay["ip"] != (IntelDecay{Lifetime: Duration(14 * 24 * time.Hour), Speed: 3, Threshold: 40}) {
		t.Errorf("intel %+v", in)
	}
	for text, key := range map[string]string{
		"intel:\n  retro_days: -1\n":                                  "intel:",
		"intel:\n  default_confidence: 101\n":                         "intel.default_confidence",
		"intel:\n  decay:\n    ipv4: {lifetime: 1d}\n":                "intel.decay.ipv4",
		"intel:\n  decay:\n    url: {lifetime: 1d, threshold: 200}\n": "intel.decay.url",
		"intel:\n  retro_dayz: 3\n":                                   "retro_dayz",
	} {
		if _, err := load(text); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: %v, want an error naming %s", text, err, key)
		}
	}
}
