package api

import "context"

func contextWith(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// WithIdentity returns ctx carrying id (for tests and in-process callers).
func WithIdentity(ctx context.Context, id Identity) context.Context { return contextWith(ctx, id) }
