package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wacht-soc/wacht/internal/audit"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

func TestMigrations(t *testing.T) { storetest.TestMigrations(t) }

type fixture struct {
	db   *store.DB
	log  *audit.Log
	vkey string
	ctx  context.Context
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	signer, vkey, err := audit.LoadOrCreateKey(t.TempDir(), "wacht-test")
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := audit.Open(db, audit.Options{Signer: signer, Now: func() time.Time { return clock }, Log: storetest.Logger(t)})
	t.Cleanup(l.Close)
	return &fixture{db: db, log: l, vkey: vkey, ctx: storetest.Context(t)}
}

func (f *fixture) fill(t *testing.T, n int, anchorEvery int) {
	t.Helper()
	for i := range n {
		err := f.log.Append(f.ctx, audit.Record{Tenant: []string{"acme", "globex"}[i%2], Actor: "user:alice",
			Action: "POST /api/v1/cases", Subject: fmt.Sprintf("case-%d", i), Source: "10.0.0.1",
			AfterHash: audit.HashOf(i), Detail: json.RawMessage(`{"status":201}`)})
		if err != nil {
			t.Fatal(err)
		}
		if anchorEvery > 0 && (i+1)%anchorEvery == 0 {
			if _, err := f.log.Anchor(f.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func (f *fixture) verify(t *testing.T) audit.Report {
	t.Helper()
	rep, err := audit.Verify(f.ctx, f.db, f.vkey)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestAppendVerifyProve(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fill(t, 37, 10)
		cp, err := f.log.Anchor(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != 37 {
			t.Fatalf("checkpoint size %d, want 37", cp.Size)
		}
		rep := f.verify(t)
		if rep.Broken != nil || rep.Records != 37 || rep.Checkpoints != 4 || rep.LatestCheckpoint != 37 {
			t.Fatalf("intact log: %+v %v", rep, rep.Broken)
		}
		for _, seq := range []int64{0, 1, 17, 36} {
			p, err := f.log.Prove(f.ctx, "", seq)
			if err != nil {
				t.Fatal(err)
			}
			if err := audit.CheckProof(p); err != nil {
				t.Fatalf("proof of %d: %v", seq, err)
			}
			p.LeafHash = p.Hashes[0]
			if audit.CheckProof(p) == nil {
				t.Fatalf("proof of %d accepted a wrong leaf", seq)
			}
		}
		// A tenant sees only its records.
		if _, err := f.log.Prove(f.ctx, "globex", 0); err == nil {
			t.Fatal("record 0 of acme proven to globex")
		}
		var buf bytes.Buffer
		n, err := audit.Export(f.ctx, db, audit.Filter{Tenant: "globex"}, &buf)
		if err != nil || n != 18 {
			t.Fatalf("export globex: %d records, %v", n, err)
		}
		if strings.Contains(buf.String(), `"tenant":"acme"`) {
			t.Fatal("export of globex contains acme records")
		}
	})
}

func TestConcurrentAppendsShareBatches(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					if err := f.log.Append(f.ctx, audit.Record{Tenant: "acme", Actor: fmt.Sprintf("g%d", g), Action: "x", Subject: fmt.Sprint(i)}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if _, err := f.log.Anchor(f.ctx); err != nil {
			t.Fatal(err)
		}
		if rep := f.verify(t); rep.Broken != nil || rep.Records != 200 {
			t.Fatalf("after concurrent appends: %+v %v", rep, rep.Broken)
		}
	})
}

func TestTamperingDetected(t *testing.T) {
	cases := []struct {
		name    string
		tamper  []string
		wantSeq int64
		want    string
	}{
		{"modify", []string{"UPDATE audit_records SET actor = 'user:mallory' WHERE seq = 12"}, 12, "modified"},
		{"delete", []string{"DELETE FROM audit_records WHERE seq = 7"}, 7, "missing"},
		{"reorder", []string{
			"UPDATE audit_records SET seq = -1 WHERE seq = 5",
			"UPDATE audit_records SET seq = 5 WHERE seq = 6",
			"UPDATE audit_records SET seq = 6 WHERE seq = -1"}, 5, "link"},
		{"truncate", []string{"DELETE FROM audit_records WHERE seq >= 15"}, 15, "truncated"},
		{"forged checkpoint", []string{"UPDATE audit_checkpoints SET root = 'AAAA' WHERE size = 10"}, 10, "checkpoint"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db)
				f.fill(t, 20, 10)
				if rep := f.verify(t); rep.Broken != nil {
					t.Fatalf("intact log reported broken: %v", rep.Broken)
				}
				ctx := f.ctx
				for _, q := range c.tamper {
					if _, err := db.Exec(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
				rep := f.verify(t)
				if rep.Broken == nil {
					t.Fatalf("%s not detected", c.name)
				}
				if (c.wantSeq >= 0 && rep.Broken.Seq != c.wantSeq) || !strings.Contains(rep.Broken.Reason, c.want) {
					t.Fatalf("%s: got %v, want record %d and %q", c.name, rep.Broken, c.wantSeq, c.want)
				}
			})
		})
	}
}

// An attacker with database access rewrites a record and recomputes the
// whole chain and tree: only the checkpoints signed with the key they do
// not have catch it.
func TestRewrittenLogFailsSignedCheckpoint(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		f.fill(t, 20, 10)
		type cpRow struct {
			size       int64
			root, note string
		}
		var saved []cpRow
		rows, err := db.Query(f.ctx, "SELECT size, root, note FROM audit_checkpoints ORDER BY size")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c cpRow
			if err := rows.Scan(&c.size, &c.root, &c.note); err != nil {
				t.Fatal(err)
			}
			saved = append(saved, c)
		}
		rows.Close()
		for _, tbl := range []string{"audit_records", "audit_tree", "audit_checkpoints"} {
			if _, err := db.Exec(f.ctx, "DELETE FROM "+tbl); err != nil {
				t.Fatal(err)
			}
		}
		forger := audit.Open(db, audit.Options{Now: func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }})
		defer forger.Close()
		for i := range 20 {
			actor := "user:alice"
			if i == 3 {
				actor = "user:mallory"
			}
			if err := forger.Append(f.ctx, audit.Record{Tenant: []string{"acme", "globex"}[i%2], Actor: actor,
				Action: "POST /api/v1/cases", Subject: fmt.Sprintf("case-%d", i), Source: "10.0.0.1",
				AfterHash: audit.HashOf(i), Detail: json.RawMessage(`{"status":201}`)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range saved {
			if _, err := db.Exec(f.ctx, "INSERT INTO audit_checkpoints (size, tenant, root, note, at) VALUES (?, '_system', ?, ?, ?)",
				c.size, c.root, c.note, store.TimeOf(time.Now())); err != nil {
				t.Fatal(err)
			}
		}
		rep := f.verify(t)
		if rep.Broken == nil || !strings.Contains(rep.Broken.Reason, "signed root") || rep.Broken.Seq != 9 {
			t.Fatalf("rewritten log: got %+v, want the checkpoint at 10 to fail", rep.Broken)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	cfg := store.Config{Driver: "sqlite", DSN: b.TempDir() + "/state.db"}
	db := storetest.Open(b, cfg)
	l := audit.Open(db, audit.Options{})
	defer l.Close()
	ctx := context.Background()
	const writers = 64
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/writers + 1
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := l.Append(ctx, audit.Record{Tenant: "acme", Actor: "user:alice", Action: "POST /api/v1/cases",
					Subject: fmt.Sprint(i), Source: "10.0.0.1", AfterHash: audit.HashOf(i)}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(per*writers)/b.Elapsed().Seconds(), "records/s")
}
