// Package ueba is wacht's entity behaviour analytics and risk-based
// alerting: detectors that learn what users, hosts, addresses, processes
// and log sources normally do from the stored event stream and report
// explained anomalies; risk scores per entity accumulated from detections
// and anomalies with decay, raising a risk alert when they cross a
// threshold; and a calibrated likelihood that an incident is real, learned
// from the tenant's closed cases.
//
// Every detector has a learning period (nothing is reported before its
// baseline exists), a daily cap per entity (no floods) and a mode: shadow
// (computed and shown, never adding risk) or production. State per entity
// is about a kilobyte in memory and a few hundred bytes snapshotted,
// bounded per tenant, saved in the state database so a restart keeps the
// baselines, and relearned from the event store (Rebuild) when lost.
//
// With GeoIP data (MaxMind-format .mmdb) a user's new country or network
// is reported; with peer groups (the asset inventory's team, or an event
// field) a process rare within a host's group is, even when the fleet
// knows it. Risk also comes from threat-intel sightings and
// vulnerabilities, weighted by asset criticality and identity (admin,
// contractor, watch list); closed cases' verdicts set each detector's
// weight (Feedback). Package sim simulates an organisation with attacks
// and measures all of it.
//
// Fan-out counts an entity's distinct destinations per hour in a
// HyperLogLog sketch (a few hundred bytes at most, snapshotted with its
// MarshalBinary) against the robust z-score of its own hourly history;
// the histogram-based outlier score (HBOS) scores each user's and host's
// hour over a few features (events, distinct processes or hosts, distinct
// users or sources, failed-logon ratio, bytes out) against the fleet's
// histograms and the entity's own usual score.
package ueba

import (
	"fmt"
	"time"
)

// EntityKind is what an entity is.
type EntityKind uint8

// Entity kinds.
const (
	KindUser EntityKind = iota + 1
	KindHost
	KindIP
	// KindProcess is a process image on one host ("host|image").
	KindProcess
	// KindCloud is a cloud identity ("account/user").
	KindCloud
	// KindSource is a log source (product/service/category or format).
	KindSource
)

// Kinds lists every entity kind.
var Kinds = []EntityKind{KindUser, KindHost, KindIP, KindProcess, KindCloud, KindSource}

func (k EntityKind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindHost:
		return "host"
	case KindIP:
		return "ip"
	case KindProcess:
		return "process"
	case KindCloud:
		return "cloud"
	case KindSource:
		return "source"
	}
	return "unknown"
}

// ParseEntityKind reads a kind name.
func ParseEntityKind(s string) (EntityKind, error) {
	for _, k := range Kinds {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, userErrorf("unknown entity kind %q (user, host, ip, process, cloud, source)", s)
}

// MarshalText writes the kind's name.
func (k EntityKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads a kind's name.
func (k *EntityKind) UnmarshalText(b []byte) error {
	v, err := ParseEntityKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// Entity identifies a user, host, address, process or cloud identity.
type Entity struct {
	Kind  EntityKind `json:"kind"`
	Value string     `json:"value"`
}

func (e Entity) String() string { return e.Kind.String() + ":" + e.Value }

// Detector names one behaviour detector.
type Detector uint8

// The detectors.
const (
	// DetNewProcess: a process image never seen on this host.
	DetNewProcess Detector = iota + 1
	// DetNewLogonSource: a source address never seen for this user.
	DetNewLogonSource
	// DetRareProcess: a process image seen on very few hosts of the fleet.
	DetRareProcess
	// DetTimeOfWeek: a user active at an hour of the week they never are.
	DetTimeOfWeek
	// DetVolumeEntity: an entity's hourly event count far above or below
	// its seasonal baseline.
	DetVolumeEntity
	// DetVolumeSource: a log source's hourly volume spikes or goes quiet.
	DetVolumeSource
	// DetFanOut: an address or user reaching far more distinct
	// destinations in an hour than usual (counted in a HyperLogLog
	// sketch).
	DetFanOut
	// DetNewCountry: a user seen from a country never seen for them
	// (needs GeoIP data).
	DetNewCountry
	// DetNewASN: a user seen from an autonomous system (network operator)
	// never seen for them (needs GeoIP ASN data).
	DetNewASN
	// DetRarePeer: a process image common in the fleet but seen on very
	// few hosts of this host's peer group (department, OU, role).
	DetRarePeer
	// DetHBOS: a user's or host's hour that is an outlier across several
	// features at once (histogram-based outlier score).
	DetHBOS
)

// Detectors lists every detector.
var Detectors = []Detector{DetNewProcess, DetNewLogonSource, DetRareProcess, DetTimeOfWeek, DetVolumeEntity, DetVolumeSource, DetFanOut,
	DetNewCountry, DetNewASN, DetRarePeer, DetHBOS}

func (d Detector) String() string {
	switch d {
	case DetNewProcess:
		return "new_process"
	case DetNewLogonSource:
		return "new_logon_source"
	case DetRareProcess:
		return "rare_process"
	case DetTimeOfWeek:
		return "time_of_week"
	case DetVolumeEntity:
		return "volume_entity"
	case DetVolumeSource:
		return "volume_source"
	case DetFanOut:
		return "fan_out"
	case DetNewCountry:
		return "new_country"
	case DetNewASN:
		return "new_asn"
	case DetRarePeer:
		return "rare_in_peers"
	case DetHBOS:
		return "hbos"
	}
	return "unknown"
}

// ParseDetector reads a detector name.
func ParseDetector(s string) (Detector, error) {
	for _, d := range Detectors {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, userErrorf("unknown detector %q", s)
}

// MarshalText writes the detector's name.
func (d Detector) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a detector's name.
func (d *Detector) UnmarshalText(b []byte) error {
	v, err := ParseDetector(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Mode is whether a detector's anomalies count.
type Mode uint8

// Modes.
const (
	// ModeShadow: anomalies are computed and shown but add no risk and
	// raise nothing. Every detector starts here.
	ModeShadow Mode = iota
	// ModeProduction: anomalies add risk.
	ModeProduction
)

func (m Mode) String() string {
	switch m {
	case ModeShadow:
		return "shadow"
	case ModeProduction:
		return "production"
	}
	return "unknown"
}

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "shadow":
		return ModeShadow, nil
	case "production":
		return ModeProduction, nil
	}
	return 0, userErrorf("unknown mode %q (shadow, production)", s)
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads a mode's name.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Part is one component of a score.
type Part struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Anomaly is one explained deviation from an entity's baseline.
type Anomaly struct {
	ID       string    `json:"id"`
	Tenant   string    `json:"tenant"`
	Detector Detector  `json:"detector"`
	Mode     Mode      `json:"mode"`
	Entity   Entity    `json:"entity"`
	Time     time.Time `json:"time"`
	// Score is 0-100: how far outside the baseline the observation is.
	Score float64 `json:"score"`
	// What says in one sentence what was seen.
	What string `json:"what"`
	// Observed is the value seen; Baseline what it was compared to.
	Observed string `json:"observed"`
	Baseline string `json:"baseline"`
	// Peers names the population compared against (fleet, the entity's
	// own history).
	Peers string `json:"peers,omitempty"`
	Parts []Part `json:"parts"`
	// AllowedBy names the allow-list entry (id and reason) that kept the
	// anomaly from adding risk and from being published.
	AllowedBy string `json:"allowed_by,omitempty"`
}

// TopicAnomaly is the bus event published for each anomaly (Data is
// *Anomaly).
const TopicAnomaly = "anomaly.detected"

// TopicRiskAlert is the bus event published when an entity's risk crosses
// a threshold (Data is *RiskAlert).
const TopicRiskAlert = "risk.threshold_crossed"

// UserError is an error whose message is safe to show to callers.
type UserError struct{ msg string }

func (e *UserError) Error() string { return e.msg }

func userErrorf(format string, args ...any) error {
	return &UserError{msg: fmt.Sprintf(format, args...)}
}
