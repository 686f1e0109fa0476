package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// PlaybookCommand is a program the exec action of playbooks may run:
//
//	playbooks:
//	  exec:
//	    isolate-host:
//	      path: /usr/local/bin/isolate
//	      args: [--quiet]
//	      env: [EDR_URL=https://edr.example]
//	      timeout: 30s
//
// No shell is involved; the step's arguments follow args; the program's
// environment is env only.
type PlaybookCommand struct {
	Path    string   `yaml:"path"`
	Args    []string `yaml:"args"`
	Env     []string `yaml:"env"`
	Dir     string   `yaml:"dir"`
	Timeout Duration `yaml:"timeout"`
}

var commandName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// CheckExec validates playbooks.exec: names, absolute paths, NAME=value
// environment entries.
func (p Playbooks) CheckExec() error {
	names := make([]string, 0, len(p.Exec))
	for n := range p.Exec {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := p.Exec[n]
		switch {
		case !commandName.MatchString(n):
			return fmt.Errorf("playbooks.exec.%s: a name is letters, digits, '_', '.' or '-'", n)
		case !filepath.IsAbs(c.Path):
			return fmt.Errorf("playbooks.exec.%s.path: %q is not an absolute path", n, c.Path)
		case c.Timeout < 0:
			return fmt.Errorf("playbooks.exec.%s.timeout: negative", n)
		}
		for i, e := range c.Env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				return fmt.Errorf("playbooks.exec.%s.env[%d]: want NAME=value", n, i)
			}
		}
	}
	return nil
}
