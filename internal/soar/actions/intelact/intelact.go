// Package intelact holds the threat-intelligence actions of playbooks:
// intel.lookup tells what the tenant knows about a value (address,
// domain, URL, hash, e-mail); intel.add_indicator stores one.
package intelact

import (
	"context"
	"errors"
	"fmt"

	"github.com/wacht-soc/wacht/internal/soar"
)

func init() {
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "intel.lookup", New: func() soar.Action { return new(Lookup) }})
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "intel.add_indicator", New: func() soar.Action { return new(AddIndicator) },
		SideEffects: true})
}

// AddIndicator is intel.add_indicator: type (ip, domain, url, md5, sha1,
// sha256, email…) and value, with optional confidence (0–100), tlp,
// tags, description and valid_for (e.g. 720h).
type AddIndicator struct {
	soar.NewIndicator
}

// Validate implements soar.Validator.
func (a *AddIndicator) Validate() error {
	if a.Type == "" || a.Value == "" {
		return errors.New("type and value are required")
	}
	if a.Confidence < 0 || a.Confidence > 100 {
		return fmt.Errorf("confidence %d is not between 0 and 100", a.Confidence)
	}
	return nil
}

// Run implements soar.Action.
func (a *AddIndicator) Run(ctx context.Context, call *soar.Call) (any, error) {
	adder, ok := call.Deps.Intel.(soar.IndicatorAdder)
	if call.Deps.Intel == nil || !ok {
		return nil, soar.Permanent(soar.ErrUnavailable)
	}
	return adder.AddIndicator(ctx, call.Tenant, a.NewIndicator, call.Actor())
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
	_ soar.Action    = (*AddIndicator)(nil)
	_ soar.Validator = (*AddIndicator)(nil)
)
