package comply

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// verifyCheckpoint checks the audit checkpoint's signature and every
// inclusion proof against its root; it returns how many proofs held.
func verifyCheckpoint(rep *VerifyReport, cpb, proofsJSON []byte, verifier note.Verifier) int {
	var cp SignedCheckpoint
	if err := json.Unmarshal(cpb, &cp); err != nil {
		rep.fail("audit/checkpoint.json: malformed: %v", err)
		return 0
	}
	if verifier == nil {
		rep.fail("audit/checkpoint.json: no key to check its signature")
		return 0
	}
	n, err := note.Open([]byte(cp.Note), note.VerifierList(verifier))
	if err != nil {
		rep.fail("audit/checkpoint.json: checkpoint signature does not verify: %v", err)
		return 0
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 3 || lines[1] != strconv.FormatInt(cp.Size, 10) || lines[2] != cp.Root {
		rep.fail("audit/checkpoint.json: size or root differ from the signed checkpoint")
		return 0
	}
	root, err := tlog.ParseHash(cp.Root)
	if err != nil {
		rep.fail("audit/checkpoint.json: root: %v", err)
		return 0
	}
	var proofs []InclusionProof
	if err := json.Unmarshal(proofsJSON, &proofs); err != nil {
		rep.fail("audit/proofs.json: malformed: %v", err)
		return 0
	}
	ok := 0
	for _, p := range proofs {
		leaf, err := tlog.ParseHash(p.LeafHash)
		if err != nil {
			rep.fail("audit/proofs.json: record %d: leaf hash: %v", p.Seq, err)
			continue
		}
		rp := make(tlog.RecordProof, len(p.Hashes))
		bad := false
		for i, h := range p.Hashes {
			if rp[i], err = tlog.ParseHash(h); err != nil {
				bad = true
			}
		}
		if bad || tlog.CheckRecord(rp, cp.Size, root, p.Seq, leaf) != nil {
			rep.fail("audit/proofs.json: record %d (%s %s) is not proven in checkpoint %d", p.Seq, p.Action, p.Subject, cp.Size)
			continue
		}
		ok++
	}
	return ok
}

// ---------------------------------------------------------------------------
// OSCAL assessment results (NIST OSCAL 1.1.2)

// OSCALVersion is the OSCAL schema version of exported documents.
const OSCALVersion = "1.1.2"

// stableUUID derives a name-based UUID from the SHA-256 of parts, so that
// the same results give the same document. It is marked version 5 (name
// based): OSCAL 1.1 accepts only versions 4 and 5.
func stableUUID(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := h[:16]
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

type oscalProp struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	NS    string `json:"ns,omitempty"`
}

type oscalObservation struct {
	UUID        string      `json:"uuid"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Props       []oscalProp `json:"props,omitempty"`
	Methods     []string    `json:"methods"`
	Types       []string    `json:"types,omitempty"`
	Collected   string      `json:"collected"`
}

type oscalFinding struct {
	UUID                string              `json:"uuid"`
	Title               string              `json:"title"`
	Description         string              `json:"description"`
	Target              oscalTarget         `json:"target"`
	RelatedObservations []oscalRelatedObsvn `json:"related-observations,omitempty"`
}

type oscalTarget struct {
	Type     string            `json:"type"`
	TargetID string            `json:"target-id"`
	Status   map[string]string `json:"status"`
}

type oscalRelatedObsvn struct {
	ObservationUUID string `json:"observation-uuid"`
}

// AssessmentResults builds an OSCAL assessment-results document from one
// run's results: an observation per result and a finding per mapped
// requirement (satisfied when no subject of its checks fails or errs).
func AssessmentResults(tenant string, from, to time.Time, b *Bundle, results []Result) map[string]any {
	ns := "https://wacht.dev/ns/oscal"
	obs := make([]oscalObservation, 0, len(results))
	byCheck := map[string][]int{}
	for i, r := range results {
		u := stableUUID("obs", tenant, r.RunID, r.Check, r.Subject)
		desc := r.Reason
		if desc == "" {
			desc = string(r.Status)
		}
		obs = append(obs, oscalObservation{UUID: u, Title: r.Check + " " + r.Subject, Description: desc,
			Props: []oscalProp{{Name: "status", Value: string(r.Status), NS: ns}, {Name: "policy-hash", Value: r.PolicyHash, NS: ns},
				{Name: "facts-hash", Value: r.FactsHash, NS: ns}},
			Methods: []string{"TEST"}, Types: []string{"control-objective"}, Collected: r.At.UTC().Format(time.RFC3339)})
		byCheck[r.Check] = append(byCheck[r.Check], i)
	}
	var findings []oscalFinding
	for _, c := range b.Checks {
		idx := byCheck[c.ID]
		if len(idx) == 0 {
			continue
		}
		state := "satisfied"
		var rel []oscalRelatedObsvn
		for _, i := range idx {
			if results[i].Status == StatusFail || results[i].Status == StatusError {
				state = "not-satisfied"
			}
			rel = append(rel, oscalRelatedObsvn{ObservationUUID: obs[i].UUID})
		}
		for _, m := range c.Maps {
			findings = append(findings, oscalFinding{UUID: stableUUID("finding", tenant, c.ID, m.Framework, m.Requirement, results[idx[0]].RunID),
				Title: m.Framework + " " + m.Requirement + " — " + c.Title, Description: "Automated check " + c.ID,
				Target:              oscalTarget{Type: "objective-id", TargetID: oscalToken(m.Framework + "_" + m.Requirement), Status: map[string]string{"state": state}},
				RelatedObservations: rel})
		}
	}
	start, end := from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339)
	result := map[string]any{
		"uuid": stableUUID("result", tenant, start, end), "title": "wacht automated evidence",
		"description": "Results of wacht's policy checks over the platform's own data",
		"start":       start, "end": end,
		"reviewed-controls": map[string]any{"control-selections": []any{map[string]any{"include-all": map[string]any{}}}},
		"observations":      obs,
	}
	if len(findings) > 0 {
		result["findings"] = findings
	}
	if len(obs) == 0 {
		delete(result, "observations")
	}
	return map[string]any{"assessment-results": map[string]any{
		"uuid": stableUUID("ar", tenant, start, end),
		"metadata": map[string]any{"title": "wacht assessment results — " + tenant, "last-modified": end,
			"version": "1", "oscal-version": OSCALVersion},
		"import-ap": map[string]any{"href": "#wacht-assessment-plan"},
		"results":   []any{result},
	}}
}

// ---------------------------------------------------------------------------
// OCSF compliance findings (class 2003)

// OCSFFinding is an OCSF v1.3 Compliance Finding event.
type OCSFFinding struct {
	ClassUID    int            `json:"class_uid"`
	CategoryUID int            `json:"category_uid"`
	ActivityID  int            `json:"activity_id"`
	TypeUID     int            `json:"type_uid"`
	Time        int64          `json:"time"`
	SeverityID  int            `json:"severity_id"`
	StatusID    int            `json:"status_id"`
	Metadata    map[string]any `json:"metadata"`
	FindingInfo map[string]any `json:"finding_info"`
	Compliance  map[string]any `json:"compliance"`
	Resources   []any          `json:"resources,omitempty"`
}

// OCSFFindings turns results into OCSF compliance findings.
func OCSFFindings(b *Bundle, results []Result) []OCSFFinding {
	checks := map[string]Check{}
	for _, c := range b.Checks {
		checks[c.ID] = c
	}
	out := make([]OCSFFinding, 0, len(results))
	for _, r := range results {
		c := checks[r.Check]
		var standards, reqs []string
		seen := map[string]bool{}
		for _, m := range c.Maps {
			if !seen[m.Framework] {
				standards = append(standards, m.Framework)
				seen[m.Framework] = true
			}
			reqs = append(reqs, m.Framework+":"+m.Requirement)
		}
		statusID, sev := 0, 1 // unknown, informational
		switch r.Status {
		case StatusPass:
			statusID = 1
		case StatusFail:
			statusID, sev = 3, 3
		case StatusWaived:
			statusID = 99
		case StatusError:
			statusID, sev = 99, 2
		case StatusNotApplicable, StatusUnknown:
		}
		f := OCSFFinding{ClassUID: 2003, CategoryUID: 2, ActivityID: 1, TypeUID: 200301, Time: r.At.UnixMilli(),
			SeverityID: sev, StatusID: 1,
			Metadata:    map[string]any{"version": "1.3.0", "product": map[string]any{"name": "wacht", "vendor_name": "wacht"}, "uid": r.RunID},
			FindingInfo: map[string]any{"uid": stableUUID("ocsf", r.RunID, r.Check, r.Subject), "title": c.Title, "desc": r.Reason, "types": []string{r.Check}},
			Compliance: map[string]any{"control": r.Check, "standards": standards, "requirements": reqs,
				"status": string(r.Status), "status_id": statusID},
		}
		if r.Subject != "*" {
			f.Resources = []any{map[string]any{"uid": r.Subject}}
		}
		out = append(out, f)
	}
	return out
}

// oscalToken makes s an OSCAL token (a letter or _ first, then letters,
// digits, '.', '-', '_'): other characters become '_'.
func oscalToken(s string) string {
	out := []rune{}
	for i, r := range s {
		ok := unicode.IsLetter(r) || r == '_' || (i > 0 && (unicode.IsDigit(r) || r == '.' || r == '-'))
		if !ok {
			if i == 0 && (unicode.IsDigit(r) || r == '.' || r == '-') {
				out = append(out, '_')
				out = append(out, r)
				continue
			}
			r = '_'
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return "_"
	}
	return string(out)
}
