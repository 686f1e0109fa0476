package app

import (
	"context"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestSoarOverCases: an alert raised in the cases domain triggers a
// playbook through the bus (alert.level, alert.tags and
// alert.entities.source_ip shaped by playbookVars), and the playbook's case
// actions reach the incident through the adapter.
func TestSoarOverCases(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := bus.New(nil)
		cs := cases.New(db, cases.Options{Bus: b})
		svc := soar.New(db, soar.Options{Bus: b, Deps: soar.Deps{Cases: casesForPlaybooks{cs}}, Context: playbookVars, Poll: 20 * time.Millisecond})
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		done := b.Subscribe(soar.EventRunFinished, 8)
		if _, err := svc.Apply(ctx, "a", []byte(`name: triage
on:
  alert.created:
    if: alert.level in ["high", "critical"] && "attack.t1110" in alert.tags
steps:
  - { id: note, uses: case.comment, with: { text: "source ${{ alert.entities.source_ip }}" } }
  - { id: owner, uses: case.assign, with: { assignee: rita } }
  - { id: task, uses: case.add_task, with: { title: "block ${{ alert.entities.source_ip }}" } }
  - { id: obs, uses: case.add_observable, with: { kind: ip, value: "${{ alert.entities.source_ip }}" } }
`), "eng"); err != nil {
			t.Fatal(err)
		}
		a, err := cs.RaiseAlert(ctx, "a", cases.AlertInput{Source: "sigma", RuleID: "ssh-bf", RuleTitle: "SSH brute force", Severity: cases.SevHigh,
			Attack: []string{"attack.credential_access", "attack.t1110"}, Entities: []cases.Entity{{Kind: "ip", Value: "198.51.100.7"}, {Kind: "host", Value: "web1"}}})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-done.C():
			if sum := e.Data.(soar.RunSummary); sum.Status != soar.RunSucceeded || sum.IncidentID != a.IncidentID || sum.AlertID != a.ID {
				r, _ := svc.GetRun(ctx, "a", sum.ID)
				t.Fatalf("%+v %+v", sum, r)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("playbook did not finish")
		}
		cm, err := cs.Comments(ctx, "a", "incident", a.IncidentID)
		if err != nil || len(cm) != 1 || cm[0].Body != "source 198.51.100.7" || cm[0].Author != "playbook:triage" {
			t.Fatalf("comments: %+v %v", cm, err)
		}
		inc, err := cs.GetIncident(ctx, "a", a.IncidentID)
		if err != nil || inc.Assignee != "rita" {
			t.Fatalf("incident: %+v %v", inc, err)
		}
		tasks, _ := cs.Tasks(ctx, "a", a.IncidentID)
		found := false
		for _, tk := range tasks {
			found = found || tk.Title == "block 198.51.100.7"
		}
		if !found {
			t.Fatalf("tasks: %+v", tasks)
		}
		if _, err := (casesForPlaybooks{cs}).Incident(ctx, "b", a.IncidentID); err == nil {
			t.Fatal("incident of another tenant found")
		}
	})
}
