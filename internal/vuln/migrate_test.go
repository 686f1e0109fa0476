package vuln_test

import (
	"testing"

	"github.com/wacht-soc/wacht/internal/store/storetest"
)

// The assets and vuln schemas meet the migration contract (tenant column
// on every table, Down undoes Up) on every backend.
func TestMigrations(t *testing.T) { storetest.TestMigrations(t) }
