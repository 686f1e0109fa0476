package console

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/wacht-soc/wacht/internal/api"
)

// Administration from the settings pages: revoke a token, disable a user,
// change a user's role here. Each is the access API's call, which asks a
// person for a second factor proved in the last minutes; when it does,
// the page asks for the password (and one-time code) and proves it
// through the step-up API, then repeats the change.

// stepUpData is the confirmation page of a sensitive change.
type stepUpData struct {
	What   string
	Action string
	Fields []hiddenField
	Back   string
}

type hiddenField struct{ Name, Value string }

func (s *Service) adminWriteRoutes() []api.Route {
	p := api.ConsolePrefix
	// The routes need the list's permission: the write permission is
	// sensitive, and the guard would refuse before the page could ask for
	// the second factor. The API call behind each needs the write
	// permission and the step-up.
	var rs []api.Route
	if s.o.Tokens != nil {
		rs = append(rs, api.Route{Pattern: "POST " + p + "settings/tokens/{id}/revoke", Perm: api.PermTokensRead, Handler: s.revokeToken})
	}
	if s.o.Users != nil {
		rs = append(rs,
			api.Route{Pattern: "POST " + p + "settings/users/{id}/disable", Perm: api.PermUsersRead, Handler: s.disableUser},
			api.Route{Pattern: "POST " + p + "settings/users/{id}/role", Perm: api.PermUsersRead, Handler: s.bindUser})
	}
	return rs
}

func (s *Service) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.withStepUp(w, r, "settings", api.ConsolePrefix+"settings/tokens", "revoke token "+id, func() (string, error) {
		return "Token " + id + " revoked", s.call(r, "DELETE", "/api/v1/tokens/"+url.PathEscape(id), nil, nil)
	})
}

func (s *Service) disableUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.withStepUp(w, r, "settings", api.ConsolePrefix+"settings/users", "disable user "+id, func() (string, error) {
		return "User " + id + " disabled; their sessions ended", s.call(r, "POST", "/api/v1/users/"+url.PathEscape(id)+"/disable", nil, nil)
	})
}

func (s *Service) bindUser(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	role := r.PostForm.Get("role")
	s.withStepUp(w, r, "settings", api.ConsolePrefix+"settings/users", "give user "+id+" the role "+role, func() (string, error) {
		return "User " + id + " now has the role " + role, s.call(r, "PUT", "/api/v1/users/"+url.PathEscape(id)+"/role", map[string]string{"role": role}, nil)
	})
}

// withStepUp runs a sensitive change: with a password in the form it
// proves the second factor first; when the API asks for one, it shows the
// confirmation page that posts the same form again with it.
func (s *Service) withStepUp(w http.ResponseWriter, r *http.Request, active, dest, what string, do func() (string, error)) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if pw := r.PostForm.Get("password"); pw != "" {
		err := s.call(r, "POST", "/api/v1/auth/step-up", map[string]string{"password": pw, "totp": strings.TrimSpace(r.PostForm.Get("totp"))}, nil)
		if err != nil {
			m, ok := userMessage(err)
			if !ok {
				s.fail(w, r, err)
				return
			}
			back(w, r, dest, "Second factor not accepted: "+m)
			return
		}
	}
	msg, err := do()
	if ae, ok := asAPIError(err); ok && ae.StepUp {
		d := stepUpData{What: what, Action: r.URL.Path, Back: dest}
		for k, vs := range r.PostForm {
			if k == "password" || k == "totp" {
				continue
			}
			for _, v := range vs {
				d.Fields = append(d.Fields, hiddenField{k, v})
			}
		}
		sort.Slice(d.Fields, func(i, j int) bool { return d.Fields[i].Name < d.Fields[j].Name })
		s.render(w, r, "stepup", "layout", s.newPage(r, active, "Confirm it is you", d))
		return
	}
	if err != nil {
		m, ok := userMessage(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		back(w, r, dest, "Not done: "+m)
		return
	}
	back(w, r, dest, msg)
}
