package soar_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// TestExamplePlaybooks: the shipped examples (examples/playbooks) and
// their copies in testdata are valid.
func TestExamplePlaybooks(t *testing.T) {
	files, err := filepath.Glob("testdata/playbooks/*.yaml")
	shipped, err2 := filepath.Glob("../../examples/playbooks/*.yaml")
	if err != nil || err2 != nil || len(files) < 5 || len(shipped) < 5 {
		t.Fatalf("examples: %v %v %v %v", files, shipped, err, err2)
	}
	files = append(files, shipped...)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := soar.Parse(src); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestMalwareExampleRuns runs the malware example: one lookup per hash
// (for_each), a comment counting the malicious ones, a Slack post.
func TestMalwareExampleRuns(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		src, err := os.ReadFile("../../examples/playbooks/malware-hash-enrichment.yaml")
		if err != nil {
			t.Fatal(err)
		}
		f.apply(t, "a", string(src))
		if err := f.svc.PutSecret(ctx, "a", "CHAT_WEBHOOK", f.tg.URL+"/hook", "admin"); err != nil {
			t.Fatal(err)
		}
		ev := bus.Event{Type: "incident.created", Tenant: "a", Subject: "inc_1", Data: map[string]any{"id": "inc_1", "title": "dropper",
			"entities": []any{map[string]any{"kind": "hash.sha256", "value": strings.Repeat("a", 64)}, map[string]any{"kind": "host", "value": "pc1"},
				map[string]any{"kind": "file.hash.md5", "value": strings.Repeat("b", 32)}}}}
		if err := f.svc.Trigger(ctx, ev); err != nil {
			t.Fatal(err)
		}
		f.drain(t)
		r := onlyRun(t, f, "a")
		if r.Status != soar.RunSucceeded {
			t.Fatalf("%+v", r)
		}
		if c := f.cases.list(); len(c) != 1 || !strings.HasSuffix(c[0], "Hash lookup: 2 of 2 hash(es) known as malicious") {
			t.Fatalf("comments: %v", c)
		}
		if _, _, paths := f.tg.snapshot(); len(paths) != 1 || paths[0] != "POST /hook" {
			t.Fatalf("chat: %v", paths)
		}
	})
}
