// Package lookup holds the read-only platform actions of playbooks:
// hunt.query (a LogsQL search over stored events) and asset.lookup (the
// inventory record of a host, address or other identifier).
package lookup

import (
	"context"
	"errors"
	"time"

	"github.com/wacht-soc/wacht/internal/soar"
	"github.com/wacht-soc/wacht/internal/store"
)

func init() {
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "hunt.query", New: func() soar.Action { return new(HuntQuery) }})
	soar.RegisterAction(soar.ActionInfo{ID: soar.ActionPrefix + "asset.lookup", New: func() soar.Action { return new(AssetLookup) }})
}

// maxHuntRows bounds what a step keeps of a search.
const maxHuntRows = 1000

// HuntQuery is hunt.query; its output is {count, rows}.
type HuntQuery struct {
	Query string `json:"query"`
	// Since is how far back to search (default 24h).
	Since soar.Duration `json:"since,omitempty"`
	// Limit bounds the rows (default 100, at most 1000).
	Limit int `json:"limit,omitempty"`
}

// Validate implements soar.Validator.
func (h *HuntQuery) Validate() error {
	if h.Query == "" {
		return errors.New("query is required")
	}
	if h.Limit < 0 || h.Limit > maxHuntRows {
		return errors.New("limit must be between 1 and 1000")
	}
	if h.Limit == 0 {
		h.Limit = 100
	}
	if h.Since == 0 {
		h.Since = soar.Duration(24 * time.Hour)
	}
	return nil
}

// Run implements soar.Action.
func (h *HuntQuery) Run(ctx context.Context, call *soar.Call) (any, error) {
	if call.Deps.Hunt == nil {
		return nil, soar.Permanent(soar.ErrUnavailable)
	}
	rows, err := call.Deps.Hunt.Search(ctx, call.Tenant, h.Query, call.Now.Add(-h.Since.D()), h.Limit)
	if err != nil {
		return nil, err
	}
	if rows == nil {
		rows = []map[string]string{}
	}
	return map[string]any{"count": len(rows), "rows": rows}, nil
}

// AssetLookup is asset.lookup; its output is {found, asset}.
type AssetLookup struct {
	// Kind is the identifier type: hostname, ip, mac, fqdn…
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

// Validate implements soar.Validator.
func (a *AssetLookup) Validate() error {
	if a.Kind == "" || a.Value == "" {
		return errors.New("kind and value are required")
	}
	return nil
}

// Run implements soar.Action.
func (a *AssetLookup) Run(ctx context.Context, call *soar.Call) (any, error) {
	if call.Deps.Assets == nil {
		return nil, soar.Permanent(soar.ErrUnavailable)
	}
	asset, err := call.Deps.Assets.Lookup(ctx, call.Tenant, a.Kind, a.Value)
	if errors.Is(err, store.ErrNotFound) {
		return map[string]any{"found": false}, nil
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"found": true, "asset": asset}, nil
}

var (
	_ soar.Action    = (*HuntQuery)(nil)
	_ soar.Validator = (*HuntQuery)(nil)
	_ soar.Action    = (*AssetLookup)(nil)
	_ soar.Validator = (*AssetLookup)(nil)
)
