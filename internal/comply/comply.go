// Package comply proves compliance from wacht's own data: control catalogs
// (ISO/IEC 27001:2022 Annex A, NIS2 Art. 21, GDPR Art. 32–34, imported
// TISAX workbooks and OSCAL catalogs), checks written as Rego policies that
// judge fact snapshots computed from the platform's data, append-only
// results with the hashes of the policy bundle and the facts, waivers,
// evidence items with revisions, manual assessments, the Statement of
// Applicability, reports and a signed evidence bundle for auditors.
//
// The package never imports the policy engine: it talks to one through
// Engine, which internal/comply/rego implements with OPA, so the domain
// builds and tests without linking OPA. Facts come through small source
// interfaces (see facts.go) that internal/app adapts from the other
// domains.
package comply

import (
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/wacht-soc/wacht/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("comply", sub)
}

// Status is the outcome of a check for one subject, or of a requirement.
type Status string

// Statuses. A waived subject is never "pass".
const (
	StatusPass          Status = "pass"
	StatusFail          Status = "fail"
	StatusNotApplicable Status = "not_applicable"
	StatusError         Status = "error"
	StatusWaived        Status = "waived"
	// StatusUnknown: no check covers the requirement and nobody assessed
	// it.
	StatusUnknown Status = "unknown"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPass, StatusFail, StatusNotApplicable, StatusError, StatusWaived, StatusUnknown:
		return true
	}
	return false
}

// rank orders statuses from best to worst for aggregation: a requirement
// takes the worst status of its checks' subjects.
func (s Status) rank() int {
	switch s {
	case StatusNotApplicable:
		return 0
	case StatusPass:
		return 1
	case StatusWaived:
		return 2
	case StatusUnknown:
		return 3
	case StatusError:
		return 4
	case StatusFail:
		return 5
	}
	return 3
}

// errNoRows is what QueryRow scans return for no row.
var errNoRows = sql.ErrNoRows

// ErrInvalid marks bad input; its message is safe to show to the caller.
var ErrInvalid = errors.New("invalid")

// UserError is an error whose message is safe to show (bad input, a rule
// of the domain such as "approver must differ from requester").
type UserError struct{ msg string }

func (e *UserError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrInvalid) true for user errors.
func (e *UserError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error { return &UserError{fmt.Sprintf(format, args...)} }
