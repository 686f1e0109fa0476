package console

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// The console's schema (saved views) meets the migration contract
// (tenant column on every table, Down undoes Up) on every backend.
func TestMigrations(t *testing.T) { storetest.TestMigrations(t) }
