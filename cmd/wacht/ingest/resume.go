package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wacht-soc/wacht/cmd/wacht/cli"
)

// resumeState records the inputs a server has accepted, keyed by name,
// with the size and modification time they had then, and of a large input
// sent in parts, how far the server has accepted it.
type resumeState struct {
	path    string
	Sent    map[string][2]int64 `json:"sent"`
	Partial map[string][3]int64 `json:"partial,omitempty"` // size, mtime, bytes accepted
}

// openResume loads the record of an earlier run of the same command line
// (server, tenant, format and paths), or starts one.
func openResume(path, server, tenant, format string, args []string, restart bool) (*resumeState, error) {
	if path == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		abs := make([]string, len(args))
		for i, a := range args {
			if p, err := filepath.Abs(a); err == nil {
				a = p
			}
			abs[i] = a
		}
		sum := sha256.Sum256([]byte(strings.Join(append([]string{server, tenant, format}, abs...), "\x00")))
		path = filepath.Join(dir, "wacht", "ingest", hex.EncodeToString(sum[:12])+".json")
	}
	st := &resumeState{path: path, Sent: map[string][2]int64{}}
	if restart {
		return st, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read resume file %s: %w", path, err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("read resume file %s: %w (remove it or use --restart)", path, err)
	}
	if st.Sent == nil {
		st.Sent = map[string][2]int64{}
	}
	return st, nil
}

func (s *resumeState) has(in cli.Input) bool {
	v, ok := s.Sent[in.Name]
	return ok && v == [2]int64{in.Size, in.ModTime}
}

// offset is how many bytes of in (decompressed) the server accepted in an
// earlier run that stopped part-way; 0 to start from the beginning.
func (s *resumeState) offset(in cli.Input) int64 {
	v, ok := s.Partial[in.Name]
	if !ok || v[0] != in.Size || v[1] != in.ModTime {
		return 0
	}
	return v[2]
}

// progress records that the server accepted in up to offset.
func (s *resumeState) progress(in cli.Input, offset int64) error {
	if s.Partial == nil {
		s.Partial = map[string][3]int64{}
	}
	s.Partial[in.Name] = [3]int64{in.Size, in.ModTime, offset}
	return s.save()
}

// add records an accepted input, replacing the file atomically.
func (s *resumeState) add(in cli.Input) error {
	s.Sent[in.Name] = [2]int64{in.Size, in.ModTime}
	delete(s.Partial, in.Name)
	return s.save()
}

func (s *resumeState) save() error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("write resume file: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write resume file %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("write resume file %s: %w", s.path, err)
	}
	return nil
}

// finish removes the record once everything went through.
func (s *resumeState) finish() error {
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove resume file %s: %w", s.path, err)
	}
	return nil
}
