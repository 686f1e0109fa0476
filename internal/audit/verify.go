package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/wacht-soc/wacht/internal/store"
)

// Key files in a key directory: the private signing key (0600) and the
// public verifier key an auditor keeps.
const (
	SigningKeyFile  = "audit-signing.key"
	VerifierKeyFile = "audit-verifier.pub"
)

// LoadOrCreateKey reads the instance's checkpoint signing key from dir, or
// creates one (Ed25519) named name. It returns the signer and the public
// verifier key text.
func LoadOrCreateKey(dir, name string) (note.Signer, string, error) {
	skPath, vkPath := filepath.Join(dir, SigningKeyFile), filepath.Join(dir, VerifierKeyFile)
	sk, err := os.ReadFile(skPath)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, "", fmt.Errorf("create %s: %w", dir, err)
		}
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return nil, "", fmt.Errorf("generate audit signing key: %w", err)
		}
		if err := os.WriteFile(skPath, []byte(skey+"\n"), 0o600); err != nil {
			return nil, "", fmt.Errorf("write %s: %w", skPath, err)
		}
		if err := os.WriteFile(vkPath, []byte(vkey+"\n"), 0o644); err != nil {
			return nil, "", fmt.Errorf("write %s: %w", vkPath, err)
		}
		sk = []byte(skey)
	} else if err != nil {
		return nil, "", fmt.Errorf("read audit signing key: %w", err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(sk)))
	if err != nil {
		return nil, "", fmt.Errorf("audit signing key %s: malformed", skPath)
	}
	vk, err := os.ReadFile(vkPath)
	if err != nil {
		return nil, "", fmt.Errorf("read audit verifier key: %w", err)
	}
	return signer, strings.TrimSpace(string(vk)), nil
}

// Ed25519Verifier is a convenience for tests holding a raw key.
func Ed25519Verifier(name string, pub ed25519.PublicKey) (note.Verifier, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(vkey)
}

// Break names the first broken link found by Verify.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (b *Break) Error() string { return fmt.Sprintf("audit record %d: %s", b.Seq, b.Reason) }

// Report is the outcome of Verify.
type Report struct {
	Records     int64 `json:"records"`
	Checkpoints int   `json:"checkpoints"`
	// LatestCheckpoint is the size of the newest valid checkpoint.
	LatestCheckpoint int64 `json:"latest_checkpoint"`
	// Broken is the first broken link; nil when the log is intact.
	Broken *Break `json:"broken,omitempty"`
}

// Verify walks the whole log: sequence numbers without gaps, each record's
// hash over its content and its predecessor's hash, and every checkpoint's
// signature (with vkey) and tree root against the tree rebuilt from the
// records. It needs only the database and the public key. A failure to read
// is an error; a broken log is a Report with Broken set.
func Verify(ctx context.Context, db *store.DB, vkey string) (Report, error) {
	var rep Report
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return rep, fmt.Errorf("audit verifier key: malformed")
	}
	// Tree hashes rebuilt from the records, in memory.
	hashes := make([]tlog.Hash, 0, 1024)
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(hashes)) {
				return nil, fmt.Errorf("tree hash %d not rebuilt", x)
			}
			out[i] = hashes[x]
		}
		return out, nil
	})
	brk := func(seq int64, format string, args ...any) (Report, error) {
		rep.Broken = &Break{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return rep, nil
	}
	var prev string
	var want int64
	err = Scan(ctx, db, Filter{}, func(r Record) error {
		if r.Seq != want {
			rep.Broken = &Break{Seq: want, Reason: fmt.Sprintf("missing: the next record present is %d (deleted or reordered)", r.Seq)}
			return errStop
		}
		canon := r.canonical()
		if r.PrevHash != prev {
			rep.Broken = &Break{Seq: r.Seq, Reason: "does not link to the record before it (deleted, inserted or reordered)"}
			return errStop
		}
		if chainHash(prev, canon) != r.Hash {
			rep.Broken = &Break{Seq: r.Seq, Reason: "content does not match its hash (modified)"}
			return errStop
		}
		hs, err := tlog.StoredHashes(r.Seq, canon, reader)
		if err != nil {
			return err
		}
		hashes = append(hashes, hs...)
		prev = r.Hash
		want++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return rep, err
	}
	rep.Records = want
	if rep.Broken != nil {
		return rep, nil
	}
	cps, err := checkpoints(ctx, db, "ORDER BY size")
	if err != nil {
		return rep, err
	}
	rep.Checkpoints = len(cps)
	for _, cp := range cps {
		n, err := note.Open([]byte(cp.Note), note.VerifierList(verifier))
		if err != nil {
			return brk(cp.Size, "checkpoint at size %d: signature does not verify", cp.Size)
		}
		lines := strings.Split(n.Text, "\n")
		if len(lines) < 3 || lines[1] != strconv.FormatInt(cp.Size, 10) || lines[2] != cp.Root {
			return brk(cp.Size, "checkpoint at size %d: signed text does not match its row", cp.Size)
		}
		if cp.Size > want {
			return brk(want, "log truncated: checkpoint covers %d records, only %d remain", cp.Size, want)
		}
		root, err := tlog.TreeHash(cp.Size, reader)
		if err != nil {
			return rep, err
		}
		if root.String() != cp.Root {
			return brk(cp.Size-1, "records before checkpoint at size %d do not hash to its signed root (rewritten)", cp.Size)
		}
		rep.LatestCheckpoint = cp.Size
	}
	return rep, nil
}

var errStop = errors.New("stop")

// Filter selects records for Scan and Export.
type Filter struct {
	Tenant string // "" all
	Since  time.Time
	// AfterSeq: only records with a larger seq (-1 or 0 with From unset).
	From  int64
	Limit int
}

// Scan calls fn for each record matching f, in sequence order.
func Scan(ctx context.Context, db *store.DB, f Filter, fn func(Record) error) error {
	q := "SELECT seq, tenant, at, actor, action, subject, source, outcome, before_hash, after_hash, detail, prev_hash, hash FROM audit_records WHERE seq >= ?"
	args := []any{f.From}
	if f.Tenant != "" {
		q += " AND tenant = ?"
		args = append(args, f.Tenant)
	}
	if !f.Since.IsZero() {
		q += " AND at >= ?"
		args = append(args, store.TimeOf(f.Since))
	}
	q += " ORDER BY seq"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read audit records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		var at store.Timestamp
		var outcome, detail string
		if err := rows.Scan(&r.Seq, &r.Tenant, &at, &r.Actor, &r.Action, &r.Subject, &r.Source, &outcome,
			&r.BeforeHash, &r.AfterHash, &detail, &r.PrevHash, &r.Hash); err != nil {
			return fmt.Errorf("read audit records: %w", err)
		}
		r.Time, r.Outcome, r.Detail = at.Time, Outcome(outcome), json.RawMessage(detail)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Export writes the matching records as JSON lines, hashes included, so an
// auditor can check the chain on their own.
func Export(ctx context.Context, db *store.DB, f Filter, w io.Writer) (int, error) {
	enc := json.NewEncoder(w)
	n := 0
	err := Scan(ctx, db, f, func(r Record) error {
		n++
		return enc.Encode(r)
	})
	return n, err
}

// Proof shows that record Seq is in the tree of a checkpoint.
type Proof struct {
	Seq        int64      `json:"seq"`
	LeafHash   string     `json:"leaf_hash"`
	Checkpoint Checkpoint `json:"checkpoint"`
	Hashes     []string   `json:"hashes"`
}

// Prove returns an inclusion proof of record seq in the latest checkpoint
// (which must cover it). The record must belong to tenant unless tenant is
// "".
func (l *Log) Prove(ctx context.Context, tenant string, seq int64) (Proof, error) {
	cp, err := latestCheckpoint(ctx, l.db)
	if err != nil {
		return Proof{}, err
	}
	var rec *Record
	err = Scan(ctx, l.db, Filter{Tenant: tenant, From: seq, Limit: 1}, func(r Record) error {
		if r.Seq == seq {
			rec = &r
		}
		return nil
	})
	if err != nil {
		return Proof{}, err
	}
	if rec == nil {
		return Proof{}, fmt.Errorf("audit record %d: %w", seq, store.ErrNotFound)
	}
	if cp.Size <= seq {
		return Proof{}, fmt.Errorf("audit record %d is not yet covered by a checkpoint (latest size %d)", seq, cp.Size)
	}
	p, err := tlog.ProveRecord(cp.Size, seq, l.reader(ctx, l.db, nil))
	if err != nil {
		return Proof{}, fmt.Errorf("prove audit record %d: %w", seq, err)
	}
	out := Proof{Seq: seq, LeafHash: tlog.RecordHash(rec.canonical()).String(), Checkpoint: cp}
	for _, h := range p {
		out.Hashes = append(out.Hashes, h.String())
	}
	return out, nil
}

// CheckProof verifies p against its checkpoint's root.
func CheckProof(p Proof) error {
	root, err := tlog.ParseHash(p.Checkpoint.Root)
	if err != nil {
		return fmt.Errorf("checkpoint root: %w", err)
	}
	leaf, err := tlog.ParseHash(p.LeafHash)
	if err != nil {
		return fmt.Errorf("leaf hash: %w", err)
	}
	rp := make(tlog.RecordProof, len(p.Hashes))
	for i, s := range p.Hashes {
		if rp[i], err = tlog.ParseHash(s); err != nil {
			return fmt.Errorf("proof hash %d: %w", i, err)
		}
	}
	return tlog.CheckRecord(rp, p.Checkpoint.Size, root, p.Seq, leaf)
}
