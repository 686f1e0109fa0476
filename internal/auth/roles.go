package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/wacht-soc/wacht/internal/store"
)

// CustomRole is a role defined by an administrator: permission patterns
// ("cases:*", "*:read") it grants and denies. Custom roles apply to the
// whole installation (tenant "*" in the table); bindings stay per tenant.
type CustomRole struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Grants      []string `json:"grants"`
	Denies      []string `json:"denies,omitempty"`
}

// globalTenant marks installation-wide rows.
const globalTenant = "*"

// Roles stores custom roles.
type Roles struct{ db *store.DB }

// NewRoles returns the custom role store.
func NewRoles(db *store.DB) *Roles { return &Roles{db: db} }

func joinPatterns(p []string) string { return strings.Join(p, "\n") }

func splitPatterns(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Save creates or replaces a custom role.
func (r *Roles) Save(ctx context.Context, role CustomRole) error {
	for _, p := range append(append([]string(nil), role.Grants...), role.Denies...) {
		if strings.ContainsAny(p, "\n") {
			return fmt.Errorf("save role %s: pattern %q contains a line break", role.Name, p)
		}
	}
	q := store.Upsert("custom_roles", []string{"tenant", "name", "description", "grants", "denies"}, []string{"tenant", "name"}, []string{"description", "grants", "denies"})
	if _, err := r.db.Exec(ctx, q, globalTenant, role.Name, role.Description, joinPatterns(role.Grants), joinPatterns(role.Denies)); err != nil {
		return fmt.Errorf("save role %s: %w", role.Name, err)
	}
	return nil
}

// List returns every custom role, sorted by name.
func (r *Roles) List(ctx context.Context) ([]CustomRole, error) {
	rows, err := r.db.Query(ctx, "SELECT name, description, grants, denies FROM custom_roles WHERE tenant = ? ORDER BY name", globalTenant)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	defer rows.Close()
	var out []CustomRole
	for rows.Next() {
		var c CustomRole
		var g, d string
		if err := rows.Scan(&c.Name, &c.Description, &g, &d); err != nil {
			return nil, fmt.Errorf("list roles: %w", err)
		}
		c.Grants, c.Denies = splitPatterns(g), splitPatterns(d)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Delete removes a custom role; ErrNotFound if there is none.
func (r *Roles) Delete(ctx context.Context, name string) error {
	res, err := r.db.Exec(ctx, "DELETE FROM custom_roles WHERE tenant = ? AND name = ?", globalTenant, name)
	if err != nil {
		return fmt.Errorf("delete role %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("role %s: %w", name, ErrNotFound)
	}
	return nil
}
