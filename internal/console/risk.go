package console

import (
	"net/http"
	"net/url"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/ueba"
)

// The risk page: the riskiest entities with the contributions that made
// their score, and one entity's profile (risk, behaviour baseline,
// anomalies with their explanations), over the entity API.

const permRiskRead api.Permission = "risk:read"

type riskData struct {
	Message  string
	Entities []ueba.EntityRisk
	Profile  *ueba.EntityProfile
	Entity   string
}

func (s *Service) riskRoutes() []api.Route {
	p := api.ConsolePrefix
	return []api.Route{
		{Pattern: "GET " + p + "risk", Perm: permRiskRead, Handler: s.risk},
		{Pattern: "GET " + p + "risk/{kind}/{value}", Perm: permRiskRead, Handler: s.riskEntity},
	}
}

func (s *Service) risk(w http.ResponseWriter, r *http.Request) {
	d := riskData{}
	if err := s.call(r, "GET", "/api/v1/entities?limit=50", nil, &d.Entities); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	s.render(w, r, "risk", "layout", s.newPage(r, "risk", "Entity risk", d))
}

func (s *Service) riskEntity(w http.ResponseWriter, r *http.Request) {
	kind, value := r.PathValue("kind"), r.PathValue("value")
	d := riskData{Entity: kind + ":" + value}
	var p ueba.EntityProfile
	if err := s.call(r, "GET", "/api/v1/entities/"+url.PathEscape(kind)+"/"+url.PathEscape(value), nil, &p); err != nil {
		if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound {
			w.WriteHeader(http.StatusNotFound)
			s.render(w, r, "notfound", "layout", s.newPage(r, "risk", "Not found", "entity "+d.Entity))
			return
		}
		s.failOrSay(w, r, err, &d.Message)
	} else {
		d.Profile = &p
	}
	s.render(w, r, "risk", "layout", s.newPage(r, "risk", d.Entity, d))
}
