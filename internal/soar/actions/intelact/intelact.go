// Package intelact holds the threat-intelligence actions of playbooks:
// intel.lookup tells what the tenant knows about a value (address,
// domain, URL, hash, e-mail).
package intelact

import (
	"context"
	"errors"

	"github.com/wacht-soc/wacht/internal/soar"
)

func init() {
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "intel.lookup", New: func() soar.Action { return new(Lookup) }})
}

// Lookup is intel.lookup.
type Lookup struct {
	Value string `json:"value"`
}

// Validate implements soar.Validator.
func (l *Lookup) Validate() error {
	if l.Value == "" {
		return errors.New("value is required")
	}
	return nil
}

// Run implements soar.Action.
func (l *Lookup) Run(ctx context.Context, call *soar.Call) (any, error) {
	if call.Deps.Intel == nil {
		return nil, soar.Permanent(soar.ErrUnavailable)
	}
	return call.Deps.Intel.Lookup(ctx, call.Tenant, l.Value)
}

var (
	_ soar.Action    = (*Lookup)(nil)
	_ soar.Validator = (*Lookup)(nil)
)
