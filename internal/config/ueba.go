package config

import (
	"os"
	"time"
)

// UEBA configures entity behaviour analytics and risk-based alerting (the
// `ueba:` section). Every key is optional; what is left out keeps the
// default shown.
//
//	ueba:
//	  geoip: [/var/lib/GeoIP/GeoLite2-Country.mmdb, /var/lib/GeoIP/GeoLite2-ASN.mmdb]  # new country / network detectors (off without)
//	  learning_period: 72h   # nothing is reported before a tenant has this much history
//	  daily_cap: 3           # anomalies per detector and entity per day
//	  peer_from: team        # host peer groups from the asset inventory: team, business_service, environment or none
//	  peer_fields: []        # or event fields naming a host's group (host.group, user.department …)
//	  min_peers: 5           # hosts a peer group needs before rarity within it counts
//	  rebuild:
//	    days: 14             # relearn from the event store when no snapshot exists (0: never)
//	    tenants: [default]   # tenants relearned at start (default: the syslog tenant)
//	  risk:
//	    threshold: 100       # an entity's score that opens a risk incident
//	    half_life: 24h       # contributions halve this often
//	    source_cap: 60       # most one rule or detector adds to one entity
//	    signal_cap: 100      # most one signal adds, after modifiers
//	    tactics: 3           # … or this many ATT&CK tactics
//	    distinct: 3          # … from this many distinct detections
//	    tactic_window: 7d    # … within this window
//	  identity:
//	    admins: [adm-*]      # user names or patterns weighted ×1.5
//	    contractors: []      # ×1.25
//	    watch_list: []       # ×2
//
// Scalar keys are also settable from the environment
// (WACHT_UEBA_GEOIP=/a.mmdb,/b.mmdb, WACHT_UEBA_RISK_THRESHOLD=120).
type UEBA struct {
	GeoIP          []string     `yaml:"geoip"`
	LearningPeriod Duration     `yaml:"learning_period"`
	DailyCap       int          `yaml:"daily_cap"`
	PeerFrom       string       `yaml:"peer_from"`
	PeerFields     []string     `yaml:"peer_fields"`
	MinPeers       int          `yaml:"min_peers"`
	Rebuild        UEBARebuild  `yaml:"rebuild"`
	Risk           UEBARisk     `yaml:"risk"`
	Identity       UEBAIdentity `yaml:"identity"`
}

// UEBARebuild says when state is relearned from the event store.
type UEBARebuild struct {
	Days    int      `yaml:"days"`
	Tenants []string `yaml:"tenants"`
}

// UEBARisk tunes the risk ledger.
type UEBARisk struct {
	Threshold    int      `yaml:"threshold"`
	HalfLife     Duration `yaml:"half_life"`
	SourceCap    int      `yaml:"source_cap"`
	SignalCap    int      `yaml:"signal_cap"`
	Tactics      int      `yaml:"tactics"`
	Distinct     int      `yaml:"distinct"`
	TacticWindow Duration `yaml:"tactic_window"`
}

// UEBAIdentity lists users whose risk weighs more.
type UEBAIdentity struct {
	Admins      []string `yaml:"admins"`
	Contractors []string `yaml:"contractors"`
	WatchList   []string `yaml:"watch_list"`
}

// DefaultUEBA returns the ueba defaults.
func DefaultUEBA() UEBA {
	return UEBA{
		LearningPeriod: Duration(72 * time.Hour), DailyCap: 3, PeerFrom: "team", MinPeers: 5,
		Rebuild: UEBARebuild{Days: 14},
		Risk: UEBARisk{Threshold: 100, HalfLife: Duration(24 * time.Hour), SourceCap: 60, SignalCap: 100,
			Tactics: 3, Distinct: 3, TacticWindow: Duration(7 * 24 * time.Hour)},
	}
}

func (u UEBA) validate(bad func(key, format string, args ...any)) {
	for _, p := range u.GeoIP {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			bad("ueba.geoip", "%s is not a readable .mmdb file", p)
		}
	}
	if u.LearningPeriod < 0 {
		bad("ueba.learning_period", "must not be negative")
	}
	if u.DailyCap < 0 || u.MinPeers < 0 || u.Rebuild.Days < 0 {
		bad("ueba", "daily_cap, min_peers and rebuild.days must not be negative")
	}
	switch u.PeerFrom {
	case "", "team", "business_service", "environment", "none":
	default:
		bad("ueba.peer_from", "%q is not team, business_service, environment or none", u.PeerFrom)
	}
	r := u.Risk
	if r.Threshold < 0 || r.SourceCap < 0 || r.SignalCap < 0 || r.Tactics < 0 || r.Distinct < 0 || r.HalfLife < 0 || r.TacticWindow < 0 {
		bad("ueba.risk", "values must not be negative")
	}
}
