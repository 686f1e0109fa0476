package sigma

import (
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"strings"
	"sync"
)

// LoadFS parses every .yml and .yaml file under root in fsys into one
// collection, in walk order. A file that fails is reported in the returned
// errors and the others are still loaded; a file with some bad documents
// keeps the good ones. Files are parsed on all cores (fsys must allow
// concurrent reads, as os.DirFS and embed.FS do).
func LoadFS(fsys fs.FS, root string) (*Collection, []error) {
	type file struct {
		path  string
		rules []*Rule
		err   error
	}
	var files []*file
	var errs []error
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("load rules %s: %w", p, err))
			return nil
		}
		if d.IsDir() {
			return nil
		}
		ext := strings.ToLower(path.Ext(p))
		if ext != ".yml" && ext != ".yaml" {
			return nil
		}
		files = append(files, &file{path: p})
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("load rules %s: %w", root, err))
	}
	work := make(chan *file)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), max(1, len(files))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				data, err := fs.ReadFile(fsys, f.path)
				if err != nil {
					f.err = fmt.Errorf("load rules %s: %w", f.path, err)
					continue
				}
				f.rules, f.err = ParseRules(f.path, data)
			}
		}()
	}
	for _, f := range files {
		work <- f
	}
	close(work)
	wg.Wait()
	coll := &Collection{}
	for _, f := range files {
		coll.Add(f.rules...)
		if f.err != nil {
			errs = append(errs, f.err)
		}
	}
	if len(errs) == 0 {
		errs = nil
	}
	return coll, errs
}
