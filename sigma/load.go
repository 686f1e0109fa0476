package sigma

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// LoadFS parses every .yml and .yaml file under root in fsys into one
// collection. A file that fails is reported in the returned errors and the
// others are still loaded; a file with some bad documents keeps the good
// ones.
func LoadFS(fsys fs.FS, root string) (*Collection, []error) {
	coll := &Collection{}
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
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			errs = append(errs, fmt.Errorf("load rules %s: %w", p, err))
			return nil
		}
		rules, err := ParseRules(p, data)
		coll.Add(rules...)
		if err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("load rules %s: %w", root, err))
	}
	return coll, errs
}
