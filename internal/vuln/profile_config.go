package vuln

import (
	"fmt"

	"github.com/wacht-soc/wacht/internal/config"
	"github.com/wacht-soc/wacht/internal/vuln/report"
)

// ProfileFromConfig turns the `vuln.sla` section into the SLA profile; the
// server and the CLI both use it, so that offline imports compute the
// server's due dates.
func ProfileFromConfig(c config.VulnSLA) (Profile, error) {
	p, err := ProfileNamed(c.Profile)
	if err != nil {
		return p, fmt.Errorf("config vuln.sla.profile: %w", err)
	}
	p.EPSSPoC = c.EPSSPoC
	d := c.SeverityDays
	p.SeverityDays = map[report.Severity]int{report.SeverityCritical: d.Critical, report.SeverityHigh: d.High,
		report.SeverityMedium: d.Medium, report.SeverityLow: d.Low, report.SeverityInfo: d.Info}
	pd := c.PriorityDays
	p.PriorityDays = map[Decision]int{DecisionAct: pd.Act, DecisionAttend: pd.Attend, DecisionTrackStar: pd.TrackStar, DecisionTrack: pd.Track}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("config vuln.sla: %w", err)
	}
	return p, nil
}

// OptionsFromConfig are the service options the `vuln:` section sets.
func OptionsFromConfig(c config.Vuln) (Options, error) {
	p, err := ProfileFromConfig(c.SLA)
	if err != nil {
		return Options{}, err
	}
	return Options{Profile: p, KeepMissing: !c.RescanClosesMissing}, nil
}
