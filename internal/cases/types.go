package cases

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Severity is how bad an alert or incident is, from the rule's level.
type Severity string

// Severities, lowest first (Sigma's levels).
const (
	SevInformational Severity = "informational"
	SevLow           Severity = "low"
	SevMedium        Severity = "medium"
	SevHigh          Severity = "high"
	SevCritical      Severity = "critical"
)

// Rank orders severities (0 informational … 4 critical); -1 if unknown.
func (s Severity) Rank() int {
	switch s {
	case SevInformational:
		return 0
	case SevLow:
		return 1
	case SevMedium:
		return 2
	case SevHigh:
		return 3
	case SevCritical:
		return 4
	}
	return -1
}

// ParseSeverity accepts a Sigma level or a severity (case-insensitive).
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if v == "info" {
		v = SevInformational
	}
	if v.Rank() < 0 {
		return "", userErrorf("severity %q: want informational, low, medium, high or critical", s)
	}
	return v, nil
}

// Status is an incident's place in the NIST SP 800-61 lifecycle.
type Status string

// Statuses in lifecycle order.
const (
	StatusNew          Status = "new"
	StatusTriage       Status = "triage"
	StatusContainment  Status = "containment"
	StatusEradication  Status = "eradication"
	StatusRecovery     Status = "recovery"
	StatusPostIncident Status = "post_incident"
	StatusClosed       Status = "closed"
)

// Statuses lists the lifecycle in order.
var Statuses = []Status{StatusNew, StatusTriage, StatusContainment, StatusEradication, StatusRecovery, StatusPostIncident, StatusClosed}

// stage orders statuses; -1 if unknown.
func (s Status) stage() int {
	switch s {
	case StatusNew:
		return 0
	case StatusTriage:
		return 1
	case StatusContainment:
		return 2
	case StatusEradication:
		return 3
	case StatusRecovery:
		return 4
	case StatusPostIncident:
		return 5
	case StatusClosed:
		return 6
	}
	return -1
}

// Valid reports a known status.
func (s Status) Valid() bool { return s.stage() >= 0 }

// acknowledged: any status after new means someone looked at it.
func (s Status) acknowledged() bool { return s.stage() >= 1 }

// contained: the incident got past containment.
func (s Status) contained() bool { return s.stage() >= 3 }

// Resolution is why a closed incident was closed.
type Resolution string

// Resolutions.
const (
	ResNone           Resolution = ""
	ResTruePositive   Resolution = "true_positive"
	ResBenignPositive Resolution = "benign_true_positive"
	ResFalsePositive  Resolution = "false_positive"
	ResDuplicate      Resolution = "duplicate"
)

// Valid reports a known resolution (ResNone included).
func (r Resolution) Valid() bool {
	switch r {
	case ResNone, ResTruePositive, ResBenignPositive, ResFalsePositive, ResDuplicate:
		return true
	}
	return false
}

// Priority is the risk-based work order: P1 first.
type Priority string

// Priorities.
const (
	P1 Priority = "P1"
	P2 Priority = "P2"
	P3 Priority = "P3"
	P4 Priority = "P4"
)

// Valid reports a known priority.
func (p Priority) Valid() bool {
	switch p {
	case P1, P2, P3, P4:
		return true
	}
	return false
}

// TLP is the Traffic Light Protocol 2.0 marking of an observable.
type TLP string

// TLP markings.
const (
	TLPClear       TLP = "clear"
	TLPGreen       TLP = "green"
	TLPAmber       TLP = "amber"
	TLPAmberStrict TLP = "amber+strict"
	TLPRed         TLP = "red"
)

// Valid reports a known marking.
func (t TLP) Valid() bool {
	switch t {
	case TLPClear, TLPGreen, TLPAmber, TLPAmberStrict, TLPRed:
		return true
	}
	return false
}

// PAP is the Permissible Actions Protocol marking of an observable.
type PAP string

// PAP markings.
const (
	PAPClear PAP = "clear"
	PAPGreen PAP = "green"
	PAPAmber PAP = "amber"
	PAPRed   PAP = "red"
)

// Valid reports a known marking.
func (p PAP) Valid() bool {
	switch p {
	case PAPClear, PAPGreen, PAPAmber, PAPRed:
		return true
	}
	return false
}

// Entity is something an alert is about: a host, a user, an address…
// Kind is one of the entity field families (host, user, ip, process,
// hash, domain, url, email, file).
type Entity struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

func (e Entity) String() string { return e.Kind + ":" + e.Value }

// AlertInput is what a detector (Sigma, threat intel, an external tool
// through POST /api/v1/alerts) hands to RaiseAlert.
type AlertInput struct {
	// Source names the detector: "sigma", "intel", "api".
	Source string `json:"source"`
	// RuleID and RuleTitle identify the rule; RuleID groups alerts.
	RuleID    string `json:"rule_id"`
	RuleTitle string `json:"rule_title"`
	// Severity (a Sigma level: informational … critical).
	Severity Severity `json:"severity"`
	// Attack holds ATT&CK technique ids (T1059.001) and tactic names
	// (execution, attack.lateral_movement), as in Sigma tags.
	Attack   []string `json:"attack,omitempty"`
	Entities []Entity `json:"entities,omitempty"`
	// DedupKey collapses repeats into one alert with a count; default: a
	// hash of rule and entities.
	DedupKey string `json:"dedup_key,omitempty"`
	// Events are copies of the triggering events (JSON objects); they are
	// stored with the alert and outlive the event store's retention.
	Events []json.RawMessage `json:"events,omitempty"`
	// EventTime is when the first triggering event happened (MTTD);
	// default: the _time of the first event, else now.
	EventTime time.Time `json:"event_time,omitzero"`
	// IndicatorConfidence (0-100) of a threat-intel match; 0: none.
	IndicatorConfidence int `json:"indicator_confidence,omitempty"`
	// AssetCriticality (1 low … 5 crown jewel) of the affected asset; 0:
	// unknown (the service's AssetCriticality lookup may fill it).
	AssetCriticality int `json:"asset_criticality,omitempty"`
	// Logsource of the rule (for exceptions).
	Logsource map[string]string `json:"logsource,omitempty"`
	// Description of what was detected.
	Description string `json:"description,omitempty"`
}

// Alert is a stored alert.
type Alert struct {
	ID                  string            `json:"id"`
	Tenant              string            `json:"tenant"`
	IncidentID          string            `json:"incident_id,omitempty"`
	Source              string            `json:"source"`
	RuleID              string            `json:"rule_id"`
	RuleTitle           string            `json:"rule_title"`
	Severity            Severity          `json:"severity"`
	Attack              []string          `json:"attack"`
	Entities            []Entity          `json:"entities"`
	DedupKey            string            `json:"dedup_key"`
	Count               int64             `json:"count"`
	Score               int               `json:"score"`
	Priority            Priority          `json:"priority"`
	Explanation         []ScoreFactor     `json:"explanation"`
	IndicatorConfidence int               `json:"indicator_confidence,omitempty"`
	AssetCriticality    int               `json:"asset_criticality,omitempty"`
	Logsource           map[string]string `json:"logsource,omitempty"`
	Description         string            `json:"description,omitempty"`
	EventTime           time.Time         `json:"event_time,omitzero"`
	CreatedAt           time.Time         `json:"created_at"`
	LastSeenAt          time.Time         `json:"last_seen_at"`
	// Events are only filled by GetAlert.
	Events []json.RawMessage `json:"events,omitempty"`
	// Deduplicated is set by RaiseAlert when the input repeated an alert.
	Deduplicated bool `json:"deduplicated,omitempty"`
	// Suppressed is set by RaiseAlert when an active exception matched;
	// the alert is then not stored (SuppressedBy names the exception).
	Suppressed   bool   `json:"suppressed,omitempty"`
	SuppressedBy string `json:"suppressed_by,omitempty"`
}

// Incident is a case: alerts grouped into one thing to work on.
type Incident struct {
	ID          string     `json:"id"`
	Tenant      string     `json:"tenant"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Type        string     `json:"type"`
	Status      Status     `json:"status"`
	Resolution  Resolution `json:"resolution,omitempty"`
	Severity    Severity   `json:"severity"`
	// Priority is computed from the alerts unless set by hand
	// (PriorityManual).
	Priority       Priority      `json:"priority"`
	PriorityManual bool          `json:"priority_manual,omitempty"`
	Score          int           `json:"score"`
	Explanation    []ScoreFactor `json:"explanation"`
	Assignee       string        `json:"assignee,omitempty"`
	Team           string        `json:"team,omitempty"`
	AlertCount     int64         `json:"alert_count"`
	Entities       []Entity      `json:"entities"`
	Attack         []string      `json:"attack"`
	Rules          []string      `json:"rules"`
	// Waiting pauses the SLA clocks (waiting on a third party).
	Waiting       bool      `json:"waiting,omitempty"`
	WaitingReason string    `json:"waiting_reason,omitempty"`
	MergedInto    string    `json:"merged_into,omitempty"`
	FirstAlertAt  time.Time `json:"first_alert_at,omitzero"`
	LastAlertAt   time.Time `json:"last_alert_at,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	AckAt         time.Time `json:"acknowledged_at,omitzero"`
	ContainedAt   time.Time `json:"contained_at,omitzero"`
	ResolvedAt    time.Time `json:"resolved_at,omitzero"`
	SLA           SLAState  `json:"sla"`
	Version       int64     `json:"version"`
}

// ScoreFactor is one line of a priority's explanation.
type ScoreFactor struct {
	Factor string `json:"factor"`
	Value  string `json:"value"`
	Points int    `json:"points"`
}

// UserError is an error whose message is safe to show to the caller (bad
// input, an impossible transition); other errors are internal.
type UserError struct{ msg string }

func (e *UserError) Error() string { return e.msg }

func userErrorf(format string, args ...any) error {
	return &UserError{msg: fmt.Sprintf(format, args...)}
}
