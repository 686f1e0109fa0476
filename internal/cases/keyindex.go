package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wacht-soc/wacht/internal/store"
)

// The group-key index is an in-memory copy of case_group_keys per tenant,
// so grouping a batch does not look its keys up in the database. The table
// stays the record (other services, processes and nodes share it);
// case_group_gen counts every change to a tenant's keys. A batch reads the
// count in its transaction: when it equals the index's, the index is
// exactly the table and answers the lookups; otherwise the batch asks the
// table and the index is rebuilt from it (at most once a minute, so nodes
// that take turns do not rebuild on every batch). A batch that writes keys
// raises the count, and after it commits the index takes the same keys and
// count. Merges raise the count too; pruning only drops keys that lookups
// ignore anyway.

// maxIndexedKeys bounds the index of one tenant (about 200 bytes a key).
const maxIndexedKeys = 4_000_000

// rebuildEvery is the least time between two rebuilds of one tenant's index.
const rebuildEvery = time.Minute

type keyIndex struct {
	gen  int64
	keys map[string]keyRef
}

type keyIndexes struct {
	mu        sync.Mutex
	tenants   map[string]*keyIndex
	rebuiltAt map[string]time.Time
}

// groupGen reads a tenant's key generation in tx.
func groupGen(ctx context.Context, tx *store.Tx, tenant string) (int64, error) {
	var gen int64
	err := tx.QueryRow(ctx, "SELECT gen FROM case_group_gen WHERE tenant = ?", tenant).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read group key generation: %w", err)
	}
	return gen, nil
}

// setGroupGen records a tenant's new key generation in tx.
func setGroupGen(ctx context.Context, tx *store.Tx, tenant string, gen int64) error {
	_, err := tx.Exec(ctx, "INSERT INTO case_group_gen (tenant, gen) VALUES (?, ?) ON CONFLICT (tenant) DO UPDATE SET gen = excluded.gen", tenant, gen)
	if err != nil {
		return fmt.Errorf("record group key generation: %w", err)
	}
	return nil
}

// bumpGroupGen marks a change to a tenant's keys made outside grouping.
func bumpGroupGen(ctx context.Context, tx *store.Tx, tenant string) error {
	gen, err := groupGen(ctx, tx, tenant)
	if err != nil {
		return err
	}
	return setGroupGen(ctx, tx, tenant, gen+1)
}

// lookup copies the index's entries for keys seen since cutoff into out;
// false when the index is not the table at generation gen.
func (x *keyIndexes) lookup(tenant string, gen int64, keys []string, cutoff time.Time, out map[string]keyRef) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	idx := x.tenants[tenant]
	if idx == nil || idx.gen != gen {
		return false
	}
	for _, k := range keys {
		if ref, ok := idx.keys[k]; ok && !ref.lastSeen.Before(cutoff) {
			ref.dirty = false
			out[k] = ref
		}
	}
	return true
}

// shouldRebuild reports whether a tenant's missing or stale index may be
// rebuilt now, and if so notes the time.
func (x *keyIndexes) shouldRebuild(tenant string, now time.Time) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if at, ok := x.rebuiltAt[tenant]; ok && now.Sub(at) < rebuildEvery && now.After(at) {
		return false
	}
	if x.rebuiltAt == nil {
		x.rebuiltAt = map[string]time.Time{}
	}
	x.rebuiltAt[tenant] = now
	return true
}

// rebuild loads a tenant's keys seen since cutoff from the table at
// generation gen (read in the same transaction) into a new index.
func (x *keyIndexes) rebuild(ctx context.Context, tx *store.Tx, tenant string, gen int64, cutoff time.Time) error {
	rows, err := tx.Query(ctx, "SELECT gkey, incident_id, last_seen_at FROM case_group_keys WHERE tenant = ? AND last_seen_at >= ?",
		tenant, store.TimeOf(cutoff))
	if err != nil {
		return fmt.Errorf("load group keys: %w", err)
	}
	defer rows.Close()
	keys := map[string]keyRef{}
	for rows.Next() {
		var k, id string
		var seen store.Timestamp
		if err := rows.Scan(&k, &id, &seen); err != nil {
			return fmt.Errorf("load group keys: %w", err)
		}
		if len(keys) >= maxIndexedKeys {
			return nil // too many to keep: the table answers
		}
		keys[k] = keyRef{incident: id, lastSeen: seen.Time}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load group keys: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.tenants == nil {
		x.tenants = map[string]*keyIndex{}
	}
	x.tenants[tenant] = &keyIndex{gen: gen, keys: keys}
	return nil
}

// apply takes the keys a committed batch wrote: the index moves from
// generation from to to, or is dropped when it was not at from.
func (x *keyIndexes) apply(tenant string, from, to int64, written map[string]keyRef) {
	x.mu.Lock()
	defer x.mu.Unlock()
	idx := x.tenants[tenant]
	if idx == nil {
		return
	}
	if idx.gen != from || len(idx.keys)+len(written) > maxIndexedKeys {
		delete(x.tenants, tenant)
		return
	}
	for k, ref := range written {
		ref.dirty = false
		idx.keys[k] = ref
	}
	idx.gen = to
}

// drop forgets a tenant's index (after a rolled-back batch nothing is
// needed: the generation did not move).
func (x *keyIndexes) drop(tenant string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.tenants, tenant)
}

// allowRebuild lifts the rebuild pause for a tenant (after a change this
// service made itself, such as a merge).
func (x *keyIndexes) allowRebuild(tenant string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.rebuiltAt, tenant)
}

// prune drops keys seen before cutoff from every index.
func (x *keyIndexes) prune(cutoff time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, idx := range x.tenants {
		for k, ref := range idx.keys {
			if ref.lastSeen.Before(cutoff) {
				delete(idx.keys, k)
			}
		}
	}
}
