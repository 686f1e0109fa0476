package comply

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// BundleFormat names the evidence bundle layout.
const BundleFormat = "wacht.evidence-bundle.v1"

// Fixed names inside a bundle.
const (
	manifestName  = "manifest.json"
	signatureName = "manifest.sig"
	verifierName  = "keys/verifier.txt"
	oscalName     = "oscal/assessment-results.json"
)

// SignedCheckpoint is the audit trail's signed tree head.
type SignedCheckpoint struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
	// Note is the signed note (origin, size, root, signature lines).
	Note string `json:"note"`
}

// InclusionProof proves that an audit record is in the checkpoint's tree.
type InclusionProof struct {
	Seq      int64    `json:"seq"`
	Action   string   `json:"action"`
	Subject  string   `json:"subject"`
	LeafHash string   `json:"leaf_hash"`
	Hashes   []string `json:"hashes"`
}

// AuditTrail is what an export needs from the audit log (internal/app
// adapts internal/audit).
type AuditTrail interface {
	// Checkpoint signs (if needed) and returns the newest checkpoint.
	Checkpoint(ctx context.Context) (SignedCheckpoint, error)
	// Prove returns inclusion proofs in that checkpoint for the tenant's
	// audit records of the given subjects (evidence ids, waiver ids).
	Prove(ctx context.Context, tenant string, cp SignedCheckpoint, subjects map[string]bool) ([]InclusionProof, error)
}

// ExportOptions configure an export.
type ExportOptions struct {
	// Signer signs the manifest (the instance's audit key); required.
	Signer note.Signer
	// VerifierKey is the signer's public key in note format; it is put
	// into the bundle so that it verifies offline (pin it with --key).
	VerifierKey string
	// Trail adds the audit checkpoint and inclusion proofs; nil leaves
	// them out (the manifest says so).
	Trail AuditTrail
}

// Manifest lists every file of a bundle with its SHA-256.
type Manifest struct {
	Format string    `json:"format"`
	Tenant string    `json:"tenant"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Files are sorted by path.
	Files []ManifestFile `json:"files"`
	// Counts summarize the content.
	Runs     int `json:"runs"`
	Results  int `json:"results"`
	Evidence int `json:"evidence"`
	// Checkpoint is the audit tree size the bundle is anchored in (0:
	// none).
	Checkpoint int64  `json:"checkpoint"`
	Notes      string `json:"notes,omitempty"`
}

// ManifestFile is one file of a bundle.
type ManifestFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

type bundleWriter struct {
	zw    *zip.Writer
	mod   time.Time
	files []ManifestFile
}

func (b *bundleWriter) add(path string, data []byte) error {
	w, err := b.zw.CreateHeader(&zip.FileHeader{Name: path, Method: zip.Deflate, Modified: b.mod})
	if err != nil {
		return fmt.Errorf("bundle %s: %w", path, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("bundle %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	b.files = append(b.files, ManifestFile{Path: path, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))})
	return nil
}

func (b *bundleWriter) addJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return fmt.Errorf("bundle %s: %w", path, err)
	}
	return b.add(path, append(data, '\n'))
}

// Export writes the evidence bundle for [from, to) as a zip: results,
// runs, requirement status, waivers, evidence files, the SoA and the
// reports (HTML, German and English, and PDF when a printer is set), the
// GDPR breach register, OSCAL assessment results, OCSF compliance
// findings, the audit checkpoint with inclusion proofs of the evidence
// records, and a manifest with the SHA-256 of every file, signed. The same
// data gives the same bytes.
func (s *Service) Export(ctx context.Context, tenant string, from, to time.Time, w io.Writer, o ExportOptions) (Manifest, error) {
	if o.Signer == nil {
		o = s.export
	}
	if o.Signer == nil {
		return Manifest{}, errors.New("export: no signing key")
	}
	if to.IsZero() {
		// The period ends after the current second, so that what was
		// recorded just now is in it.
		to = s.Now().Truncate(time.Second).Add(time.Second)
	}
	if from.IsZero() {
		from = to.AddDate(0, -3, 0)
	}
	from, to = from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
	if !from.Before(to) {
		return Manifest{}, invalidf("export period: from must lie before to")
	}
	m := Manifest{Format: BundleFormat, Tenant: tenant, From: from, To: to}
	var notes []string
	bw := &bundleWriter{zw: zip.NewWriter(w), mod: to}

	runs, err := s.Runs(ctx, tenant, from, to, 1000000)
	if err != nil {
		return m, err
	}
	sort.Slice(runs, func(i, j int) bool {
		return runs[i].At.Before(runs[j].At) || (runs[i].At.Equal(runs[j].At) && runs[i].ID < runs[j].ID)
	})
	for i := range runs {
		runs[i].CreatedAt = time.Time{} // wall clock of the evaluation: not part of the evidence
		runs[i].Existing = false
	}
	m.Runs = len(runs)
	if err := bw.addJSON("runs.json", runs); err != nil {
		return m, err
	}

	// Results stream as JSON lines; OSCAL and OCSF are built from the
	// newest run's results (the period's closing state).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	var latest []Result
	lastRun := ""
	if len(runs) > 0 {
		lastRun = runs[len(runs)-1].ID
	}
	err = s.ScanResults(ctx, tenant, ResultFilter{From: from, To: to}, func(r Result) error {
		m.Results++
		if r.RunID == lastRun {
			latest = append(latest, r)
		}
		return enc.Encode(r)
	})
	if err != nil {
		return m, err
	}
	if err := bw.add("results.jsonl", buf.Bytes()); err != nil {
		return m, err
	}
	if lastRun != "" {
		_, sts, err := s.statusOfSince(ctx, tenant, "", from, to.Add(-time.Second))
		if err != nil {
			return m, err
		}
		if err := bw.addJSON("status.json", sts); err != nil {
			return m, err
		}
	}

	ws, err := s.listWaivers(ctx, tenant)
	if err != nil {
		return m, err
	}
	kept := ws[:0]
	for _, wv := range ws {
		if wv.RequestedAt.Before(to) && wv.ExpiresAt.After(from) {
			wv.State = wv.stateAt(to)
			kept = append(kept, wv)
		}
	}
	if err := bw.addJSON("waivers.json", kept); err != nil {
		return m, err
	}

	subjects := map[string]bool{}
	for _, wv := range kept {
		subjects[wv.ID] = true
	}
	evs, err := s.ListEvidence(ctx, tenant, EvidenceFilter{})
	if err != nil {
		return m, err
	}
	type evidenceEntry struct {
		Evidence
		Files []Revision `json:"files"`
	}
	var index []evidenceEntry
	for _, e := range evs {
		revs, err := s.Revisions(ctx, tenant, e.ID)
		if err != nil {
			return m, err
		}
		entry := evidenceEntry{Evidence: e}
		entry.Latest = nil
		for _, r := range revs {
			if !r.UploadedAt.Before(to) {
				continue
			}
			_, data, err := s.Content(ctx, tenant, e.ID, r.Revision)
			if err != nil {
				return m, err
			}
			name := r.Name
			if e.Kind == EvidenceLink {
				name = "link.url"
			}
			if err := bw.add(fmt.Sprintf("evidence/%s/r%d-%s", e.ID, r.Revision, name), data); err != nil {
				return m, err
			}
			entry.Files = append(entry.Files, r)
		}
		if len(entry.Files) > 0 {
			index = append(index, entry)
			subjects[e.ID] = true
			m.Evidence++
		}
	}
	if err := bw.addJSON("evidence/index.json", index); err != nil {
		return m, err
	}

	soa, err := s.FrameworkViewSince(ctx, tenant, FrameworkISO27001, from, to.Add(-time.Second))
	if err != nil {
		return m, err
	}
	if err := bw.addJSON("soa.json", soa); err != nil {
		return m, err
	}
	for _, kind := range ReportKinds() {
		for _, lang := range reportLangs {
			rep, err := s.BuildReport(ctx, tenant, kind, lang, from, to)
			if err != nil {
				return m, err
			}
			var html bytes.Buffer
			if err := RenderHTML(&html, rep); err != nil {
				return m, err
			}
			if err := bw.add(fmt.Sprintf("reports/%s.%s.html", kind, lang), html.Bytes()); err != nil {
				return m, err
			}
			if s.pdf != nil {
				pdf, err := s.RenderPDF(ctx, rep)
				if err != nil {
					return m, err
				}
				if err := bw.add(fmt.Sprintf("reports/%s.%s.pdf", kind, lang), pdf); err != nil {
					return m, err
				}
			}
			if kind == ReportGDPR && lang == "en" {
				if err := bw.addJSON("gdpr-breach-register.json", rep.Breaches); err != nil {
					return m, err
				}
			}
		}
	}

	b, err := s.Bundle(ctx, tenant)
	if err != nil {
		return m, err
	}
	ar := AssessmentResults(tenant, from, to, b, latest)
	if err := bw.addJSON(oscalName, ar); err != nil {
		return m, err
	}
	buf.Reset()
	for _, f := range OCSFFindings(b, latest) {
		if err := enc.Encode(f); err != nil {
			return m, err
		}
	}
	if err := bw.add("ocsf/compliance-findings.jsonl", buf.Bytes()); err != nil {
		return m, err
	}

	if o.Trail != nil {
		cp, err := o.Trail.Checkpoint(ctx)
		if err != nil {
			return m, fmt.Errorf("export: audit checkpoint: %w", err)
		}
		proofs, err := o.Trail.Prove(ctx, tenant, cp, subjects)
		if err != nil {
			return m, fmt.Errorf("export: inclusion proofs: %w", err)
		}
		m.Checkpoint = cp.Size
		if err := bw.addJSON("audit/checkpoint.json", cp); err != nil {
			return m, err
		}
		if err := bw.addJSON("audit/proofs.json", proofs); err != nil {
			return m, err
		}
	} else {
		notes = append(notes, "no audit trail attached: the bundle carries no checkpoint")
	}
	if s.pdf == nil {
		notes = append(notes, "reports as HTML only: this node has no headless Chromium to print PDFs")
	}
	m.Notes = strings.Join(notes, "; ")
	if err := bw.add(verifierName, []byte(o.VerifierKey+"\n")); err != nil {
		return m, err
	}

	sort.Slice(bw.files, func(i, j int) bool { return bw.files[i].Path < bw.files[j].Path })
	m.Files = bw.files
	mb, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return m, err
	}
	mb = append(mb, '\n')
	sig, err := note.Sign(&note.Note{Text: manifestNoteText(mb)}, o.Signer)
	if err != nil {
		return m, fmt.Errorf("sign manifest: %w", err)
	}
	// manifest and signature go last, outside the list they describe.
	if err := bw.add(manifestName, mb); err != nil {
		return m, err
	}
	if err := bw.add(signatureName, sig); err != nil {
		return m, err
	}
	if err := bw.zw.Close(); err != nil {
		return m, fmt.Errorf("close bundle: %w", err)
	}
	s.publish(ctx, "compliance.exported", tenant, "", "", struct {
		From     time.Time `json:"from"`
		To       time.Time `json:"to"`
		Manifest string    `json:"manifest_sha256"`
	}{from, to, sha256Hex(mb)})
	return m, nil
}

func manifestNoteText(manifest []byte) string {
	return BundleFormat + "\n" + sha256Hex(manifest) + "\n"
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// VerifyReport is the outcome of verifying a bundle offline.
type VerifyReport struct {
	OK       bool      `json:"ok"`
	Manifest *Manifest `json:"manifest,omitempty"`
	// KeyPinned: the signature was checked against a key the caller gave,
	// not only the one the bundle carries.
	KeyPinned bool `json:"key_pinned"`
	// Problems name each file, entry or signature that failed.
	Problems []string `json:"problems,omitempty"`
	Files    int      `json:"files"`
	Proofs   int      `json:"proofs"`
}

func (r *VerifyReport) fail(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// VerifyBundle checks a bundle with nothing but its bytes (and, when given,
// the verifier key to pin): the manifest's signature, every file's SHA-256,
// that no file was added or removed, the audit checkpoint's signature and
// every inclusion proof against it.
func VerifyBundle(r io.ReaderAt, size int64, pinnedKey string) (VerifyReport, error) {
	var rep VerifyReport
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return rep, fmt.Errorf("open bundle: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			rep.fail("%s: present twice", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			rep.fail("%s: cannot open: %v", f.Name, err)
			continue
		}
		data, err := io.ReadAll(io.LimitReader(rc, 1<<32))
		rc.Close()
		if err != nil {
			rep.fail("%s: cannot read: %v", f.Name, err)
			continue
		}
		files[f.Name] = data
	}
	mb, ok := files[manifestName]
	if !ok {
		rep.fail("%s: missing", manifestName)
		return rep, nil
	}
	var m Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		rep.fail("%s: malformed: %v", manifestName, err)
		return rep, nil
	}
	rep.Manifest = &m
	key := strings.TrimSpace(string(files[verifierName]))
	if pinnedKey != "" {
		if key != "" && key != strings.TrimSpace(pinnedKey) {
			rep.fail("%s: the bundle names a different key than the pinned one", verifierName)
		}
		key, rep.KeyPinned = strings.TrimSpace(pinnedKey), true
	}
	verifier, err := note.NewVerifier(key)
	if err != nil {
		rep.fail("%s: no usable verifier key", verifierName)
	} else if sig, ok := files[signatureName]; !ok {
		rep.fail("%s: missing", signatureName)
	} else if n, err := note.Open(sig, note.VerifierList(verifier)); err != nil {
		rep.fail("%s: signature does not verify: %v", signatureName, err)
	} else if n.Text != manifestNoteText(mb) {
		rep.fail("%s: manifest was changed after signing (its SHA-256 differs from the signed one)", manifestName)
	}
	listed := map[string]bool{manifestName: true, signatureName: true}
	for _, f := range m.Files {
		listed[f.Path] = true
		data, ok := files[f.Path]
		if !ok {
			rep.fail("%s: listed in the manifest but missing", f.Path)
			continue
		}
		if sha256Hex(data) != f.SHA256 || int64(len(data)) != f.Size {
			rep.fail("%s: content differs from the manifest (SHA-256)", f.Path)
		}
		rep.Files++
	}
	extra := []string{}
	for name := range files {
		if !listed[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		rep.fail("%s: not listed in the manifest", name)
	}
	if cpb, ok := files["audit/checkpoint.json"]; ok {
		rep.Proofs = verifyCheckpoint(&rep, cpb, files["audit/proofs.json"], verifier)
	} else if m.Checkpoint != 0 {
		rep.fail("audit/checkpoint.json: missing though the manifest names checkpoint %d", m.Checkpoint)
	}
	if ar, ok := files[oscalName]; ok {
		problems := ValidateAssessmentResults(ar)
		for i, p := range problems {
			if i == 10 {
				rep.fail("%s: %d more OSCAL problems", oscalName, len(problems)-i)
				break
			}
			rep.fail("%s: OSCAL: %s", oscalName, p)
		}
	}
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}
