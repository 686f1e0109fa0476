package comply_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wacht-soc/wacht/internal/comply"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// rewriteZip copies a zip, passing every entry through fn (nil drops it)
// and appending extra entries.
func rewriteZip(t *testing.T, in []byte, fn func(name string, data []byte) []byte, extra map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	write := func(name string, data []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		if data = fn(f.Name, data); data != nil {
			write(f.Name, data)
		}
	}
	for n, d := range extra {
		write(n, d)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// memTrail is an audit trail in memory: a tlog tree over a few records,
// a checkpoint signed like internal/audit signs its own.
type memTrail struct {
	signer note.Signer
	hashes []tlog.Hash
	leaves []tlog.Hash
	subj   []string
}

func newMemTrail(t *testing.T, signer note.Signer, subjects ...string) *memTrail {
	m := &memTrail{signer: signer}
	for i, s := range subjects {
		leaf := tlog.RecordHash([]byte(fmt.Sprintf("record %d %s", i, s)))
		hs, err := tlog.StoredHashesForRecordHash(int64(i), leaf, m)
		if err != nil {
			t.Fatal(err)
		}
		m.hashes = append(m.hashes, hs...)
		m.leaves = append(m.leaves, leaf)
		m.subj = append(m.subj, s)
	}
	return m
}

func (m *memTrail) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memTrail) Checkpoint(context.Context) (comply.SignedCheckpoint, error) {
	size := int64(len(m.leaves))
	root, err := tlog.TreeHash(size, m)
	if err != nil {
		return comply.SignedCheckpoint{}, err
	}
	msg, err := note.Sign(&note.Note{Text: fmt.Sprintf("wacht-audit\n%d\n%s\n", size, root)}, m.signer)
	return comply.SignedCheckpoint{Size: size, Root: root.String(), Note: string(msg)}, err
}

func (m *memTrail) Prove(_ context.Context, _ string, cp comply.SignedCheckpoint, subjects map[string]bool) ([]comply.InclusionProof, error) {
	var out []comply.InclusionProof
	for i, s := range m.subj {
		if !subjects[s] {
			continue
		}
		p, err := tlog.ProveRecord(cp.Size, int64(i), m)
		if err != nil {
			return nil, err
		}
		ip := comply.InclusionProof{Seq: int64(i), Action: "event compliance.evidence.added", Subject: s, LeafHash: m.leaves[i].String()}
		for _, h := range p {
			ip.Hashes = append(ip.Hashes, h.String())
		}
		out = append(out, ip)
	}
	return out, nil
}

func TestBundleCheckpointAndProofs(t *testing.T) {
	storetest.ForEachBackend(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		ev, err := e.svc.AddEvidence(ctx, "a", comply.EvidenceInput{Title: "Access review Q1", Kind: comply.EvidenceLink,
			Framework: comply.FrameworkISO27001, Requirement: "A.5.18", URL: "https://wiki.example/review"}, "alice")
		if err != nil {
			t.Fatal(err)
		}
		signer, vkey := testSigner(t)
		trail := newMemTrail(t, signer, "other", ev.ID, "x", "y", "z")
		var buf bytes.Buffer
		m, err := e.svc.Export(ctx, "a", time.Time{}, time.Time{}, &buf, comply.ExportOptions{Signer: signer, VerifierKey: vkey, Trail: trail})
		if err != nil {
			t.Fatal(err)
		}
		if m.Checkpoint != 5 {
			t.Fatalf("checkpoint %d", m.Checkpoint)
		}
		rep, _ := comply.VerifyBundle(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "")
		if !rep.OK || rep.Proofs != 1 || rep.KeyPinned {
			t.Fatalf("verify: %+v", rep)
		}
		// A checkpoint with a changed root (re-listed in a re-signed
		// manifest would need the key): here the attacker edits the
		// checkpoint file only; both the file hash and the checkpoint
		// signature name it.
		mod := rewriteZip(t, buf.Bytes(), func(n string, d []byte) []byte {
			if n == "audit/checkpoint.json" {
				return []byte(strings.Replace(string(d), `"size": 5`, `"size": 6`, 1))
			}
			return d
		}, nil)
		rep, _ = comply.VerifyBundle(bytes.NewReader(mod), int64(len(mod)), vkey)
		if rep.OK || !strings.Contains(strings.Join(rep.Problems, "\n"), "audit/checkpoint.json") {
			t.Fatalf("tampered checkpoint: %v", rep.Problems)
		}
		// A proof entry changed: named by its record.
		mod = rewriteZip(t, buf.Bytes(), func(n string, d []byte) []byte {
			if n == "audit/proofs.json" {
				return []byte(strings.Replace(string(d), `"seq": 1`, `"seq": 2`, 1))
			}
			return d
		}, nil)
		rep, _ = comply.VerifyBundle(bytes.NewReader(mod), int64(len(mod)), vkey)
		if all := strings.Join(rep.Problems, "\n"); rep.OK || !strings.Contains(all, "record 2") {
			t.Fatalf("tampered proof: %v", rep.Problems)
		}
	})
}
