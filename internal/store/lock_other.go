//go:build !unix

package store

import "context"

// lockFile on platforms without flock only opens the file: SQLite's own
// locking still keeps each migration atomic, but two processes migrating at
// once are not excluded. wacht's servers run on unix.
func lockFile(_ context.Context, path string) (func() error, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	return f.Close, nil
}
