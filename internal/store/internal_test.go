package store

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestRebind(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := Postgres.Rebind(in); got != want {
			t.Errorf("Rebind(%q) = %q, want %q", in, got, want)
		}
		if got := SQLite.Rebind(in); got != in {
			t.Errorf("sqlite Rebind changed %q to %q", in, got)
		}
	}
	f("SELECT 1", "SELECT 1")
	f("SELECT a FROM t WHERE b = ? AND c IN (?, ?)", "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)")
	f("SELECT '?' || ? FROM \"we?ird\" -- why?\nWHERE x = ?", "SELECT '?' || $1 FROM \"we?ird\" -- why?\nWHERE x = $2")
	f("SELECT 'it''s ?', ?", "SELECT 'it''s ?', $1")
	f("SELECT 'open ?", "SELECT 'open ?")
}

func TestRedactDSN(t *testing.T) {
	f := func(in, mustNot, must string) {
		t.Helper()
		got := RedactDSN(in)
		if strings.Contains(got, mustNot) || !strings.Contains(got, must) {
			t.Errorf("RedactDSN(%q) = %q", in, got)
		}
	}
	f("postgres://wacht:s3cret@db:5432/wacht?sslmode=disable", "s3cret", "wacht:xxxxx@db")
	f("postgres://wacht@db/wacht?password=s3cret", "s3cret", "password=xxxxx")
	f("host=db user=wacht password=s3cret dbname=w", "s3cret", "password=xxxxx dbname=w")
	f("host=db password='se cret' dbname=w", "cret", "dbname=w")
	f("/var/lib/wacht/state.db", "\x00", "/var/lib/wacht/state.db")
	if s := (Config{Driver: "postgres", DSN: "postgres://u:pw@h/d"}).String(); strings.Contains(s, "pw@") {
		t.Errorf("Config.String leaks the password: %s", s)
	}
}

func TestParseURL(t *testing.T) {
	f := func(in string, want Config, wantErr bool) {
		t.Helper()
		got, err := ParseURL(in)
		if (err != nil) != wantErr || got != want {
			t.Errorf("ParseURL(%q) = %+v, %v", in, got, err)
		}
	}
	f("sqlite:/data/state.db", Config{Driver: "sqlite", DSN: "/data/state.db"}, false)
	f("sqlite:rel/state.db", Config{Driver: "sqlite", DSN: "rel/state.db"}, false)
	f("state.db", Config{Driver: "sqlite", DSN: "state.db"}, false)
	f("postgres://u@h/d", Config{Driver: "postgres", DSN: "postgres://u@h/d"}, false)
	f("postgresql://u@h/d", Config{Driver: "postgres", DSN: "postgresql://u@h/d"}, false)
	f("mysql://u@h/d", Config{}, true)
	f("sqlite:", Config{}, true)
	f("", Config{}, true)
}

func TestOrderSets(t *testing.T) {
	fsys := fstest.MapFS{}
	sets := []MigrationSet{
		{Domain: "cases", FS: fsys, After: []string{"auth", "assets"}},
		{Domain: "auth", FS: fsys},
		{Domain: "assets", FS: fsys, After: []string{"auth"}},
		{Domain: "audit", FS: fsys},
	}
	got, err := orderSets(sets)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Domain)
	}
	if want := []string{"auth", "assets", "audit", "cases"}; !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	if _, err := orderSets([]MigrationSet{{Domain: "a", FS: fsys, After: []string{"b"}}, {Domain: "b", FS: fsys, After: []string{"a"}}}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	if _, err := orderSets([]MigrationSet{{Domain: "a", FS: fsys, After: []string{"zz"}}}); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("missing dependency: %v", err)
	}
}

func TestRegisterMigrationsPanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	mustPanic("bad name", func() { RegisterMigrations("Bad-Name", fstest.MapFS{}) })
	mustPanic("nil fs", func() { RegisterMigrations("nilfs", nil) })
}

func TestSQLiteWriterCache(t *testing.T) {
	db, err := Open(context.Background(), Config{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "s.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.write.QueryRow("PRAGMA cache_size").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != -65536 {
		t.Fatalf("writer cache_size %d, want -65536", n)
	}
}
