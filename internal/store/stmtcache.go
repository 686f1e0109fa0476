package store

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a cache: queries built with a variable number of
// placeholders would otherwise grow it without end.
const maxCachedStmts = 512

// stmtCache keeps SQLite prepared statements by query text, one cache per
// pool. modernc's driver parses and plans a statement on every call that is
// not prepared; in the playbook runner's profile that was a fifth of its
// CPU. PostgreSQL needs none: pgx caches statements per connection itself.
//
// A statement is prepared only outside transactions: the SQLite writer has
// one connection, and preparing through the pool while a transaction holds
// it would wait forever. A query first seen inside a transaction is noted
// and prepared after the transaction ends.
type stmtCache struct {
	pool    *sql.DB
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]struct{}
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, m: map[string]*sql.Stmt{}, pending: map[string]struct{}{}}
}

// lookup returns the prepared statement for q, or nil.
func (c *stmtCache) lookup(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	st := c.m[q]
	c.mu.RUnlock()
	return st
}

// get returns the statement for q, preparing it if there is room. On any
// failure it returns nil and the caller runs the query unprepared (which
// reports the error, if the query is wrong).
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	if st := c.lookup(q); st != nil {
		return st
	}
	c.mu.RLock()
	full := len(c.m) >= maxCachedStmts
	c.mu.RUnlock()
	if full {
		return nil
	}
	// Prepare without holding the lock: it may wait for the connection a
	// transaction holds, and that transaction looks statements up too.
	st, err := c.pool.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[q]; prev != nil {
		_ = st.Close()
		return prev
	}
	c.m[q] = st
	return st
}

// want notes a query seen inside a transaction.
func (c *stmtCache) want(q string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.m)+len(c.pending) < maxCachedStmts {
		c.pending[q] = struct{}{}
	}
	c.mu.Unlock()
}

// preparePending prepares the queries noted inside transactions; called
// when no transaction holds the pool's connection.
func (c *stmtCache) preparePending(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range qs {
		c.get(ctx, q)
	}
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	clear(c.m)
}
