package cases

import (
	"time"
)

// Targets are an SLA's clocks for one priority.
type Targets struct {
	Acknowledge time.Duration `yaml:"acknowledge" json:"acknowledge"`
	Contain     time.Duration `yaml:"contain" json:"contain"`
	Resolve     time.Duration `yaml:"resolve" json:"resolve"`
}

// EscalationStep is one level of the escalation chain: After the first
// breach of an incident, the incident escalates to Level.
type EscalationStep struct {
	Level string        `yaml:"level" json:"level"`
	After time.Duration `yaml:"after" json:"after"`
}

// SLAPolicy sets the clocks per priority, an optional business-hours
// calendar (clocks then run only inside business hours) and the
// escalation chain.
type SLAPolicy struct {
	Targets    map[Priority]Targets `yaml:"targets" json:"targets"`
	Calendar   *BusinessHours       `yaml:"calendar" json:"calendar,omitempty"`
	Escalation []EscalationStep     `yaml:"escalation" json:"escalation"`
}

// DefaultSLAPolicy is a 24/7 SOC's policy.
func DefaultSLAPolicy() SLAPolicy {
	return SLAPolicy{
		Targets: map[Priority]Targets{
			P1: {15 * time.Minute, 4 * time.Hour, 24 * time.Hour},
			P2: {time.Hour, 8 * time.Hour, 72 * time.Hour},
			P3: {4 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour},
			P4: {24 * time.Hour, 72 * time.Hour, 30 * 24 * time.Hour},
		},
		Escalation: []EscalationStep{{Level: "team_lead", After: 0}, {Level: "soc_manager", After: time.Hour}},
	}
}

// BusinessHours is a weekly calendar: clocks run on Days between Start
// and End (time of day in Location).
type BusinessHours struct {
	Location *time.Location
	Days     [7]bool // indexed by time.Weekday
	Start    time.Duration
	End      time.Duration
}

// WeekdaysNineToFive is Monday to Friday, 09:00-17:00 in loc.
func WeekdaysNineToFive(loc *time.Location) *BusinessHours {
	return &BusinessHours{Location: loc, Days: [7]bool{false, true, true, true, true, true, false}, Start: 9 * time.Hour, End: 17 * time.Hour}
}

func (b *BusinessHours) dayWindow(day time.Time) (time.Time, time.Time, bool) {
	loc := b.Location
	if loc == nil {
		loc = time.UTC
	}
	d := day.In(loc)
	mid := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	if !b.Days[mid.Weekday()] || b.End <= b.Start {
		return mid, mid, false
	}
	return mid.Add(b.Start), mid.Add(b.End), true
}

func nextMidnight(t time.Time, loc *time.Location) time.Time {
	d := t.In(loc)
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
}

// Between is the clock time between a and b: all of it without a
// calendar, business time with one.
func (b *BusinessHours) Between(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	if b == nil {
		return to.Sub(from)
	}
	loc := b.Location
	if loc == nil {
		loc = time.UTC
	}
	var total time.Duration
	for day := from; day.Before(to); day = nextMidnight(day, loc) {
		s, e, ok := b.dayWindow(day)
		if !ok {
			continue
		}
		s, e = maxTime(s, from), minTime(e, to)
		if e.After(s) {
			total += e.Sub(s)
		}
	}
	return total
}

// Add returns the wall time at which d of clock time has passed since
// from.
func (b *BusinessHours) Add(from time.Time, d time.Duration) time.Time {
	if b == nil {
		return from.Add(d)
	}
	loc := b.Location
	if loc == nil {
		loc = time.UTC
	}
	if d <= 0 {
		d = 0
	}
	day := from
	for range 3700 { // ten years of days bounds a bad calendar
		s, e, ok := b.dayWindow(day)
		if ok {
			s = maxTime(s, from)
			if e.After(s) {
				if e.Sub(s) >= d {
					return s.Add(d)
				}
				d -= e.Sub(s)
			}
		}
		day = nextMidnight(day, loc)
	}
	return day
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// Clock names one SLA clock.
type Clock string

// SLA clocks.
const (
	ClockAcknowledge Clock = "acknowledge"
	ClockContain     Clock = "contain"
	ClockResolve     Clock = "resolve"
)

// SLAState is an incident's SLA as of the time it was read.
type SLAState struct {
	Policy     Priority      `json:"policy"`
	Elapsed    time.Duration `json:"elapsed"`
	Paused     bool          `json:"paused,omitempty"`
	AckDue     time.Time     `json:"acknowledge_due,omitzero"`
	ContainDue time.Time     `json:"contain_due,omitzero"`
	ResolveDue time.Time     `json:"resolve_due,omitzero"`
	// Breach times of each clock (zero: not breached).
	AckBreachedAt     time.Time `json:"acknowledge_breached_at,omitzero"`
	ContainBreachedAt time.Time `json:"contain_breached_at,omitzero"`
	ResolveBreachedAt time.Time `json:"resolve_breached_at,omitzero"`
	Escalation        int       `json:"escalation_level"`
	EscalatedTo       string    `json:"escalated_to,omitempty"`

	// stored raw
	ackTarget, containTarget, resolveTarget time.Duration
	pausedFor                               time.Duration
	pausedAt                                time.Time
	nextAt                                  time.Time
}

// SLABreach is the payload of sla.breached.
type SLABreach struct {
	IncidentID string    `json:"incident_id"`
	Clock      Clock     `json:"clock"`
	Priority   Priority  `json:"priority"`
	Due        time.Time `json:"due"`
	Assignee   string    `json:"assignee,omitempty"`
}

// Escalation is the payload of incident.escalated.
type Escalation struct {
	IncidentID string `json:"incident_id"`
	Level      int    `json:"level"`
	To         string `json:"to"`
}

// setTargets takes the policy's targets for the incident's priority.
func (s *Service) setTargets(inc *Incident) {
	t := s.sla.Targets[inc.Priority]
	inc.SLA.Policy = inc.Priority
	inc.SLA.ackTarget, inc.SLA.containTarget, inc.SLA.resolveTarget = t.Acknowledge, t.Contain, t.Resolve
}

// elapsed is the SLA clock time the incident has run, without pauses.
func (s *Service) elapsed(inc *Incident, now time.Time) time.Duration {
	cal := s.sla.Calendar
	e := cal.Between(inc.CreatedAt, now) - inc.SLA.pausedFor
	if !inc.SLA.pausedAt.IsZero() {
		e -= cal.Between(inc.SLA.pausedAt, now)
	}
	return max(0, e)
}

// due is the wall time at which target is reached if the clock runs on
// from now; zero while paused or without a target.
func (s *Service) due(inc *Incident, target time.Duration) time.Time {
	if target <= 0 || !inc.SLA.pausedAt.IsZero() {
		return time.Time{}
	}
	return s.sla.Calendar.Add(inc.CreatedAt, target+inc.SLA.pausedFor)
}

// pause and resume the SLA clocks (waiting states).
func (s *Service) pause(inc *Incident, now time.Time) {
	if inc.SLA.pausedAt.IsZero() {
		inc.SLA.pausedAt = now
	}
}

func (s *Service) resume(inc *Incident, now time.Time) {
	if !inc.SLA.pausedAt.IsZero() {
		inc.SLA.pausedFor += s.sla.Calendar.Between(inc.SLA.pausedAt, now)
		inc.SLA.pausedAt = time.Time{}
	}
}

type clockState struct {
	clock    Clock
	target   time.Duration
	met      bool
	breached *time.Time
}

func (s *Service) clocks(inc *Incident) []clockState {
	return []clockState{
		{ClockAcknowledge, inc.SLA.ackTarget, !inc.AckAt.IsZero(), &inc.SLA.AckBreachedAt},
		{ClockContain, inc.SLA.containTarget, !inc.ContainedAt.IsZero(), &inc.SLA.ContainBreachedAt},
		{ClockResolve, inc.SLA.resolveTarget, !inc.ResolvedAt.IsZero(), &inc.SLA.ResolveBreachedAt},
	}
}

// fillSLA computes the read-time view and the next time the sweeper must
// look at the incident.
func (s *Service) fillSLA(inc *Incident, now time.Time) {
	st := &inc.SLA
	st.Elapsed = s.elapsed(inc, now)
	st.Paused = !st.pausedAt.IsZero()
	// A met clock has no due time (its met time is AckAt, ContainedAt,
	// ResolvedAt).
	st.AckDue, st.ContainDue, st.ResolveDue = time.Time{}, time.Time{}, time.Time{}
	if inc.AckAt.IsZero() {
		st.AckDue = s.due(inc, st.ackTarget)
	}
	if inc.ContainedAt.IsZero() {
		st.ContainDue = s.due(inc, st.containTarget)
	}
	if inc.ResolvedAt.IsZero() {
		st.ResolveDue = s.due(inc, st.resolveTarget)
	}
	st.nextAt = s.nextCheck(inc)
}

func (s *Service) nextCheck(inc *Incident) time.Time {
	if inc.Status == StatusClosed || inc.MergedInto != "" || !inc.SLA.pausedAt.IsZero() {
		return time.Time{}
	}
	var next time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	var first time.Time
	for _, c := range s.clocks(inc) {
		if !c.breached.IsZero() {
			if first.IsZero() || c.breached.Before(first) {
				first = *c.breached
			}
			continue
		}
		if !c.met {
			consider(s.due(inc, c.target))
		}
	}
	if !first.IsZero() && inc.SLA.Escalation < len(s.sla.Escalation) {
		consider(first.Add(s.sla.Escalation[inc.SLA.Escalation].After))
	}
	return next
}

// advanceSLA breaches clocks and escalates as of now. It reports whether
// anything changed, with the breaches and the escalation to publish.
func (s *Service) advanceSLA(inc *Incident, now time.Time) (breaches []SLABreach, esc *Escalation) {
	if inc.Status == StatusClosed || inc.MergedInto != "" || !inc.SLA.pausedAt.IsZero() {
		return nil, nil
	}
	el := s.elapsed(inc, now)
	for _, c := range s.clocks(inc) {
		if c.met || !c.breached.IsZero() || c.target <= 0 || el < c.target {
			continue
		}
		due := s.due(inc, c.target)
		*c.breached = due
		breaches = append(breaches, SLABreach{IncidentID: inc.ID, Clock: c.clock, Priority: inc.Priority, Due: due, Assignee: inc.Assignee})
	}
	var first time.Time
	for _, c := range s.clocks(inc) {
		if !c.breached.IsZero() && (first.IsZero() || c.breached.Before(first)) {
			first = *c.breached
		}
	}
	if first.IsZero() {
		return breaches, nil
	}
	lvl := inc.SLA.Escalation
	for lvl < len(s.sla.Escalation) && !now.Before(first.Add(s.sla.Escalation[lvl].After)) {
		lvl++
	}
	if lvl > inc.SLA.Escalation {
		inc.SLA.Escalation = lvl
		inc.SLA.EscalatedTo = s.sla.Escalation[lvl-1].Level
		esc = &Escalation{IncidentID: inc.ID, Level: lvl, To: inc.SLA.EscalatedTo}
	}
	return breaches, esc
}
