package config

import "time"

// Intel configures threat intelligence (the `intel:` section). Every key is
// optional; what is left out keeps the default shown.
//
//	intel:
//	  retro_days: 7                 # new indicators are matched against stored events this far back (0: never)
//	  retro_max_indicators: 10000   # larger imports are not retro-matched (the live matcher covers them)
//	  retro_max_events: 1000000     # most events one retro-match reads
//	  sighting_queue: 10000         # matches waiting to be verified; beyond it they are dropped and counted
//	  default_confidence: 50        # for indicators whose source gives none
//	  import_batch: 100000          # indicators written per transaction
//	  pattern_window: 24h           # how far apart the events of one STIX pattern match may be (unless it says WITHIN)
//	  pattern_observations: 1000    # events a STIX pattern over several events keeps per tenant
//	  decay:                        # MISP's model per type: score = confidence × (1 − (t / lifetime)^(1 / speed))
//	    ip: {lifetime: 30d, speed: 2, threshold: 30}
//	    domain: {lifetime: 180d, speed: 1, threshold: 30}
//
// Types left out of decay keep their defaults (ip and ip-port 30 days,
// cidr 90, domain 180, url 90, email 365, stix-pattern 365, hashes never);
// lifetime 0 means the type never decays.
type Intel struct {
	RetroDays           int                   `yaml:"retro_days"`
	RetroMaxIndicators  int                   `yaml:"retro_max_indicators"`
	RetroMaxEvents      int                   `yaml:"retro_max_events"`
	SightingQueue       int                   `yaml:"sighting_queue"`
	DefaultConfidence   int                   `yaml:"default_confidence"`
	ImportBatch         int                   `yaml:"import_batch"`
	PatternWindow       Duration              `yaml:"pattern_window"`
	PatternObservations int                   `yaml:"pattern_observations"`
	Decay               map[string]IntelDecay `yaml:"decay"`
}

// IntelDecay is one type's decay model.
type IntelDecay struct {
	Lifetime  Duration `yaml:"lifetime"`
	Speed     float64  `yaml:"speed"`
	Threshold float64  `yaml:"threshold"`
}

// intelTypes are the indicator types decay may name.
var intelTypes = map[string]bool{"ip": true, "cidr": true, "ip-port": true, "domain": true, "url": true, "md5": true,
	"sha1": true, "sha256": true, "sha512": true, "email": true, "stix-pattern": true}

// DefaultIntel returns the intel defaults.
func DefaultIntel() Intel {
	return Intel{RetroDays: 7, RetroMaxIndicators: 10000, RetroMaxEvents: 1_000_000, SightingQueue: 10000,
		DefaultConfidence: 50, ImportBatch: 100_000, PatternWindow: Duration(24 * time.Hour), PatternObservations: 1000}
}

func (c Intel) validate(bad func(key, format string, args ...any)) {
	if c.RetroDays < 0 || c.RetroMaxIndicators < 0 || c.RetroMaxEvents < 0 || c.SightingQueue < 0 ||
		c.ImportBatch < 0 || c.PatternWindow < 0 || c.PatternObservations < 0 {
		bad("intel", "retro_days, retro_max_indicators, retro_max_events, sighting_queue, import_batch, pattern_window and pattern_observations must not be negative")
	}
	if c.DefaultConfidence < 0 || c.DefaultConfidence > 100 {
		bad("intel.default_confidence", "%d is not between 0 and 100", c.DefaultConfidence)
	}
	for name, d := range c.Decay {
		if !intelTypes[name] {
			bad("intel.decay."+name, "not an indicator type (ip, cidr, ip-port, domain, url, md5, sha1, sha256, sha512, email, stix-pattern)")
		}
		if d.Lifetime < 0 || d.Speed < 0 || d.Threshold < 0 || d.Threshold > 100 {
			bad("intel.decay."+name, "lifetime and speed must not be negative, threshold between 0 and 100")
		}
	}
}
