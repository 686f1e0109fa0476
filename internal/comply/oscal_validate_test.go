package comply_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestValidateAssessmentResults: wacht's document validates; each
// violation of the OSCAL 1.1.2 schema that a broken writer could make is
// found and named by its JSON path.
func TestValidateAssessmentResults(t *testing.T) {
	bundle, _ := comply.BuiltinBundle()
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	good, err := json.Marshal(comply.AssessmentResults("default", from, to, bundle, manyResults(30)))
	if err != nil {
		t.Fatal(err)
	}
	if p := comply.ValidateAssessmentResults(good); p != nil {
		t.Fatalf("wacht's own document: %v", p)
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"uuid version 8", `"uuid":"`, `"uuid":"00000000-0000-8000-8000-000000000000","x-uuid":"`, `"x-uuid" is not allowed`},
		{"target id with a colon", `"target-id":"`, `"target-id":"iso:`, `target.target-id: "iso:`},
		{"unknown state", `"state":"not-satisfied"`, `"state":"fine"`, `status.state: "fine" is not one of`},
		{"time without zone", `"start":"2026-01-01T00:00:00Z"`, `"start":"2026-01-01T00:00:00"`, `results[0].start: "2026-01-01T00:00:00" is not a valid date-time`},
		{"missing metadata title", `"title":"wacht assessment results`, `"name":"wacht assessment results`, `metadata: missing required "title"`},
		{"bad method", `"methods":["TEST"]`, `"methods":["GUESS"]`, `methods[0]: "GUESS" is not one of`},
		{"dangling observation", `"observation-uuid":"`, `"observation-uuid":"11111111-1111-4111-8111-111111111111","x":"`, `names no observation`},
	}
	for _, c := range cases {
		doc := strings.Replace(string(good), c.old, c.new, 1)
		if doc == string(good) {
			t.Fatalf("%s: the fixture has no %s", c.name, c.old)
		}
		p := strings.Join(comply.ValidateAssessmentResults([]byte(doc)), "\n")
		if !strings.Contains(p, c.want) {
			t.Errorf("%s: problems %q lack %q", c.name, p, c.want)
		}
	}
	// A v8 UUID where a UUID belongs.
	var m map[string]map[string]any
	_ = json.Unmarshal(good, &m)
	m["assessment-results"]["uuid"] = "00000000-0000-8000-8000-000000000000"
	bad, _ := json.Marshal(m)
	if p := strings.Join(comply.ValidateAssessmentResults(bad), "\n"); !strings.Contains(p, "$.assessment-results.uuid") {
		t.Errorf("version-8 UUID: %q", p)
	}
	if p := comply.ValidateAssessmentResults([]byte(`{"catalog": {}}`)); len(p) != 2 {
		t.Errorf("a catalog: %v", p)
	}
}

// FuzzValidateAssessmentResults: no input panics.
func FuzzValidateAssessmentResults(f *testing.F) {
	bundle, _ := comply.BuiltinBundle()
	good, _ := json.Marshal(comply.AssessmentResults("default", time.Unix(0, 0), time.Unix(3600, 0), bundle, manyResults(3)))
	f.Add(good)
	f.Add([]byte(`{"assessment-results": {"results": [{"observations": [1], "findings": [{"target": {"status": 3}}]}]}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		_ = comply.ValidateAssessmentResults(in)
	})
}

// TestOCSFComplianceFindings: one OCSF 1.3 Compliance Finding (class
// 2003, type 200301) per result, its compliance status mapped (a waived
// subject is "waived" with status_id 99, never pass), the requirements of
// every framework the check maps to, and the subject as the resource.
func TestOCSFComplianceFindings(t *testing.T) {
	bundle, _ := comply.BuiltinBundle()
	res := manyResults(3)
	res[1].Status, res[1].WaiverID = comply.StatusWaived, "wvr_1"
	fs := comply.OCSFFindings(bundle, res)
	if len(fs) != 3 {
		t.Fatalf("%d findings for 3 results", len(fs))
	}
	want := []struct {
		status string
		id     int
	}{{"fail", 3}, {"waived", 99}, {"pass", 1}}
	for i, f := range fs {
		if f.ClassUID != 2003 || f.CategoryUID != 2 || f.TypeUID != f.ClassUID*100+f.ActivityID || f.Time != res[i].At.UnixMilli() {
			t.Fatalf("finding %d: %+v", i, f)
		}
		if f.Compliance["status"] != want[i].status || f.Compliance["status_id"] != want[i].id {
			t.Errorf("finding %d: compliance %v, want %s/%d", i, f.Compliance, want[i].status, want[i].id)
		}
		reqs := strings.Join(f.Compliance["requirements"].([]string), " ")
		for _, r := range []string{"iso27001-2022:A.8.15", "nis2-art21:21.2.b", "gdpr-art32-34:32.1.b"} {
			if !strings.Contains(reqs, r) {
				t.Errorf("finding %d: requirements %s lack %s", i, reqs, r)
			}
		}
		if len(f.Resources) != 1 || f.Resources[0].(map[string]any)["uid"] != res[i].Subject {
			t.Errorf("finding %d: resources %v", i, f.Resources)
		}
	}
}

// TestVerifyBundleValidatesOSCAL: a bundle whose OSCAL document breaks the
// schema fails `wacht evidence verify` with the OSCAL path named, even
// when the manifest lists its hash and is signed (a faulty exporter).
func TestVerifyBundleValidatesOSCAL(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		if _, _, err := e.svc.Evaluate(ctx, "a", e.clock.Now(), comply.CauseDemand, "x"); err != nil {
			t.Fatal(err)
		}
		signer, vkey := testSigner(t)
		var buf bytes.Buffer
		if _, err := e.svc.Export(ctx, "a", time.Time{}, time.Time{}, &buf, comply.ExportOptions{Signer: signer, VerifierKey: vkey}); err != nil {
			t.Fatal(err)
		}
		if rep, _ := comply.VerifyBundle(bytes.NewReader(buf.Bytes()), int64(buf.Len()), vkey); !rep.OK {
			t.Fatalf("genuine bundle: %v", rep.Problems)
		}
		const name = "oscal/assessment-results.json"
		var bad []byte
		var m comply.Manifest
		step1 := rewriteZip(t, buf.Bytes(), func(n string, d []byte) []byte {
			switch n {
			case name:
				bad = []byte(strings.Replace(string(d), `"methods": [`, `"methods": ["GUESS",`, 1))
				return bad
			case "manifest.json":
				if err := json.Unmarshal(d, &m); err != nil {
					t.Fatal(err)
				}
			}
			return d
		}, nil)
		if bad == nil || !strings.Contains(string(bad), "GUESS") {
			t.Fatal("the bundle's OSCAL has no methods to break")
		}
		sum := sha256.Sum256(bad)
		for i := range m.Files {
			if m.Files[i].Path == name {
				m.Files[i].SHA256, m.Files[i].Size = hex.EncodeToString(sum[:]), int64(len(bad))
			}
		}
		mb, _ := json.MarshalIndent(m, "", " ")
		mb = append(mb, '\n')
		msum := sha256.Sum256(mb)
		sig, err := note.Sign(&note.Note{Text: comply.BundleFormat + "\n" + hex.EncodeToString(msum[:]) + "\n"}, signer)
		if err != nil {
			t.Fatal(err)
		}
		mod := rewriteZip(t, step1, func(n string, d []byte) []byte {
			switch n {
			case "manifest.json":
				return mb
			case "manifest.sig":
				return sig
			}
			return d
		}, nil)
		rep, err := comply.VerifyBundle(bytes.NewReader(mod), int64(len(mod)), vkey)
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(rep.Problems, "\n")
		if rep.OK || !strings.Contains(all, name+": OSCAL: $.assessment-results.results[0].observations[0].methods[0]") {
			t.Fatalf("broken OSCAL in a re-signed bundle: %v", rep.Problems)
		}
		if strings.Contains(all, "signature") || strings.Contains(all, "content differs") {
			t.Fatalf("the re-signed bundle should fail on OSCAL only: %v", rep.Problems)
		}
	})
}
