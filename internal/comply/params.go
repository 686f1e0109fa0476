package comply

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// SetParams sets a tenant's values for a check's parameters: the targets
// its metrics are judged against. Each key must be one of the check's
// parameters and keep its default's JSON type; nil values restore the
// default. The change alters the policy hash results are stamped with.
func (s *Service) SetParams(ctx context.Context, tenant, check string, params map[string]any, actor string) (Check, error) {
	b, err := s.Bundle(ctx, tenant)
	if err != nil {
		return Check{}, err
	}
	var def *Check
	for i := range s.builtin.Checks {
		if s.builtin.Checks[i].ID == check {
			def = &s.builtin.Checks[i]
		}
	}
	if def == nil {
		for i := range b.Checks {
			if b.Checks[i].ID == check {
				def = &b.Checks[i]
			}
		}
	}
	if def == nil {
		return Check{}, fmt.Errorf("check %s: %w", check, store.ErrNotFound)
	}
	cur, err := s.params(ctx, tenant)
	if err != nil {
		return Check{}, err
	}
	merged := maps.Clone(cur[check])
	if merged == nil {
		merged = map[string]any{}
	}
	for k, v := range params {
		d, ok := def.Params[k]
		if !ok {
			return Check{}, invalidf("check %s has no parameter %q", check, k)
		}
		if v == nil {
			delete(merged, k)
			continue
		}
		if jsonKind(v) != jsonKind(d) {
			return Check{}, invalidf("parameter %s of %s: want a %s like %v", k, check, jsonKind(d), d)
		}
		merged[k] = v
	}
	body, err := json.Marshal(merged)
	if err != nil {
		return Check{}, invalidf("parameters: %v", err)
	}
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM comply_params WHERE tenant = ? AND check_id = ?`, tenant, check); err != nil {
			return err
		}
		if len(merged) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO comply_params (tenant, check_id, body, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)`,
			tenant, check, string(body), store.TimeOf(s.Now().Truncate(time.Microsecond)), actor)
		return err
	})
	if err != nil {
		return Check{}, fmt.Errorf("set parameters of %s: %w", check, err)
	}
	s.publish(ctx, "compliance.params.set", tenant, check, actor, merged)
	out := *def
	out.Params = maps.Clone(def.Params)
	maps.Copy(out.Params, merged)
	return out, nil
}

// jsonKind names a JSON value's type as decoded from JSON or written in
// Go (numbers of any Go type are "number").
func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16,
		reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		return "array"
	}
	if _, ok := v.(json.Number); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// params are the tenant's parameter values by check.
func (s *Service) params(ctx context.Context, tenant string) (map[string]map[string]any, error) {
	rows, err := s.db.Query(ctx, `SELECT check_id, body FROM comply_params WHERE tenant = ? ORDER BY check_id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("read check parameters: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]any{}
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return nil, fmt.Errorf("read check parameters: %w", err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			return nil, fmt.Errorf("decode parameters of %s: %w", id, err)
		}
		out[id] = m
	}
	return out, rows.Err()
}
