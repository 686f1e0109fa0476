package app

import (
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/intel"
)

// TestIntelConfig maps the intel section onto the service: retro_days 0
// turns retro-matching off, decay names types.
func TestIntelConfig(t *testing.T) {
	c := config.DefaultIntel()
	c.RetroDays = 0
	c.Decay = map[string]config.IntelDecay{"domain": {Lifetime: config.Duration(48 * time.Hour), Speed: 2, Threshold: 20}}
	got, err := intelConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if got.RetroDays != -1 || got.PatternWindow != 24*time.Hour || got.ImportBatch != 100_000 ||
		got.Decay[intel.TypeDomain] != (intel.DecayModel{Lifetime: 48 * time.Hour, Speed: 2, Threshold: 20}) {
		t.Errorf("intel config %+v", got)
	}
	c.RetroDays = 3
	if got, _ := intelConfig(c); got.RetroDays != 3 {
		t.Errorf("retro days %d, want 3", got.RetroDays)
	}
	c.Decay = map[string]config.IntelDecay{"nope": {}}
	if _, err := intelConfig(c); err == nil {
		t.Error("unknown decay type accepted")
	}
}
