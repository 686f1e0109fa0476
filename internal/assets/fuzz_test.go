package assets_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/store"
	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// FuzzImportCSV feeds any bytes to the CSV import (on a real SQLite
// store): it fails with ErrInvalid or imports, never panics, and whatever
// it imported exports again.
func FuzzImportCSV(f *testing.F) {
	f.Add([]byte("name,identifiers,criticality,exposure,tags\nweb1,hostname=web1 ip=10.0.0.1,4,internet,\"a,b\"\n"))
	f.Add([]byte("id,name\nas_missing,x\n"))
	f.Add([]byte("kind,name,mission_prevalence\nrobot,x,\nhost,y,vital\n"))
	f.Add([]byte("identifiers\nnoequals\n"))
	f.Add([]byte("\"unterminated\n"))
	db := storetest.Open(f, store.Config{Driver: "sqlite", DSN: filepath.Join(f.TempDir(), "state.db")})
	s := assets.New(db, nil, nil, nil)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := s.ImportCSV(ctx, "fuzz", bytes.NewReader(data))
		if err != nil && !errors.Is(err, assets.ErrInvalid) && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		var out bytes.Buffer
		if err := s.ExportCSV(ctx, "fuzz", &out); err != nil {
			t.Fatalf("export after import: %v", err)
		}
	})
}
