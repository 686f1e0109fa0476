package attack

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// Service serves the catalog and the coverage of the node's rules.
type Service struct {
	cat   atomic.Pointer[Catalog]
	rules func(ctx context.Context) ([]Rule, error)
	log   *slog.Logger
}

// NewService serves cat; rules returns the loaded detection rules.
func NewService(cat *Catalog, rules func(ctx context.Context) ([]Rule, error), log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{rules: rules, log: log}
	s.cat.Store(cat)
	return s
}

// Catalog is the catalog in use.
func (s *Service) Catalog() *Catalog { return s.cat.Load() }

// SetCatalog replaces the catalog (after an import).
func (s *Service) SetCatalog(c *Catalog) { s.cat.Store(c) }

// Coverage maps the loaded rules onto the matrix.
func (s *Service) Coverage(ctx context.Context) (Coverage, error) {
	var rules []Rule
	if s.rules != nil {
		var err error
		if rules, err = s.rules(ctx); err != nil {
			return Coverage{}, err
		}
	}
	return s.Catalog().Coverage(rules), nil
}

// Logger is the service's logger.
func (s *Service) Logger() *slog.Logger { return s.log }
