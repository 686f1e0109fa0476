package console

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
)

// The playbooks page (list, runs, approvals inbox) over the playbook
// API. Deciding an approval is the API's playbooks approve call, which
// asks people for a second factor proved in the last minutes: when it
// does, the page asks for the password (and one-time code) and proves it
// through the step-up API before deciding.

// Permissions of the playbook API the pages stand on.
const (
	permPlaybooksRead api.Permission = "playbooks:read"
	permPlaybooksRun  api.Permission = "playbooks:run"
	permApprovalsRead api.Permission = "approvals:read"
	permApprovalsDo   api.Permission = "approvals:approve"
)

// playbookView is a playbook as GET /api/v1/playbooks answers it.
type playbookView struct {
	Name        string    `json:"name"`
	Version     int64     `json:"version"`
	Description string    `json:"description"`
	Triggers    []string  `json:"triggers"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
}

// runView is a playbook run.
type runView struct {
	ID         string     `json:"id"`
	Playbook   string     `json:"playbook"`
	Version    int64      `json:"playbook_version"`
	Status     string     `json:"status"`
	Trigger    string     `json:"trigger"`
	StartedBy  string     `json:"started_by"`
	IncidentID string     `json:"incident_id"`
	Error      string     `json:"error"`
	DryRun     bool       `json:"dry_run"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt time.Time  `json:"finished_at"`
	Steps      []stepView `json:"steps"`
}

type stepView struct {
	Step       string    `json:"step"`
	Status     string    `json:"status"`
	Attempt    int       `json:"attempt"`
	Error      string    `json:"error"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Role       string    `json:"approval_role"`
	Message    string    `json:"message"`
	DecidedBy  string    `json:"decided_by"`
}

// approvalView is a pending approval.
type approvalView struct {
	RunID    string    `json:"run_id"`
	Playbook string    `json:"playbook"`
	Step     string    `json:"step"`
	Role     string    `json:"role"`
	Message  string    `json:"message"`
	Deadline time.Time `json:"deadline"`
	Incident string    `json:"incident_id"`
}

type playbooksData struct {
	Tab       string
	Message   string
	Playbooks []playbookView
	Runs      []runView
	Approvals []approvalView
	Run       *runView
	// StepUp names the approval that waits for a second factor.
	StepUp *approvalView
	// Comment is the decision's comment, kept across the step-up.
	Comment string
	Status  string
}

func (s *Service) playbookRoutes() []api.Route {
	p := api.ConsolePrefix
	return []api.Route{
		{Pattern: "GET " + p + "playbooks", Perm: permPlaybooksRead, Handler: s.playbooks},
		{Pattern: "GET " + p + "playbooks/runs", Perm: permPlaybooksRead, Handler: s.playbookRuns},
		{Pattern: "GET " + p + "playbooks/runs/{id}", Perm: permPlaybooksRead, Handler: s.playbookRun},
		{Pattern: "GET " + p + "approvals", Perm: permApprovalsRead, Handler: s.approvals},
		// approvals:approve needs a recent second factor, and the guard
		// would refuse the form before the page could ask for one: the
		// form needs the inbox's permission, the API call behind it
		// approvals:approve with the step-up.
		{Pattern: "POST " + p + "approvals/decide", Perm: permApprovalsRead, Handler: s.decide},
	}
}

func (s *Service) playbooks(w http.ResponseWriter, r *http.Request) {
	d := playbooksData{Tab: "playbooks", Message: r.URL.Query().Get("msg")}
	if err := s.call(r, "GET", "/api/v1/playbooks", nil, &d.Playbooks); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	s.render(w, r, "playbooks", "layout", s.newPage(r, "playbooks", "Playbooks", d))
}

func (s *Service) playbookRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := playbooksData{Tab: "runs", Message: q.Get("msg"), Status: q.Get("status")}
	v := url.Values{"limit": {"200"}}
	for _, k := range []string{"playbook", "status", "incident"} {
		if x := q.Get(k); x != "" {
			v.Set(k, x)
		}
	}
	if err := s.call(r, "GET", "/api/v1/playbook-runs?"+v.Encode(), nil, &d.Runs); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	s.render(w, r, "playbooks", "layout", s.newPage(r, "playbooks", "Playbook runs", d))
}

func (s *Service) playbookRun(w http.ResponseWriter, r *http.Request) {
	d := playbooksData{Tab: "run", Message: r.URL.Query().Get("msg")}
	var run runView
	if err := s.call(r, "GET", "/api/v1/playbook-runs/"+url.PathEscape(r.PathValue("id")), nil, &run); err != nil {
		if ae, ok := asAPIError(err); ok && ae.Status == http.StatusNotFound {
			w.WriteHeader(http.StatusNotFound)
			s.render(w, r, "notfound", "layout", s.newPage(r, "playbooks", "Not found", "playbook run "+r.PathValue("id")))
			return
		}
		s.failOrSay(w, r, err, &d.Message)
	} else {
		d.Run = &run
	}
	s.render(w, r, "playbooks", "layout", s.newPage(r, "playbooks", "Playbook run", d))
}

func (s *Service) approvals(w http.ResponseWriter, r *http.Request) {
	d := playbooksData{Tab: "approvals", Message: r.URL.Query().Get("msg")}
	if err := s.call(r, "GET", "/api/v1/approvals", nil, &d.Approvals); err != nil {
		s.failOrSay(w, r, err, &d.Message)
	}
	s.render(w, r, "playbooks", "layout", s.newPage(r, "approvals", "Approvals", d))
}

// decide serves POST /console/approvals/decide (form: run, step,
// decision approve|deny, comment; password and totp when the API asked
// for a second factor).
func (s *Service) decide(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	run, step, decision := f.Get("run"), f.Get("step"), f.Get("decision")
	dest := api.ConsolePrefix + "approvals"
	if run == "" || step == "" || strings.ContainsAny(run+step, "/?#") || (decision != "approve" && decision != "deny") {
		back(w, r, dest, "Not done: choose a pending step and approve or deny")
		return
	}
	if pw := f.Get("password"); pw != "" {
		err := s.call(r, "POST", "/api/v1/auth/step-up", map[string]string{"password": pw, "totp": strings.TrimSpace(f.Get("totp"))}, nil)
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
	path := "/api/v1/playbook-runs/" + url.PathEscape(run) + "/steps/" + url.PathEscape(step) + "/" + decision
	err := s.call(r, "POST", path, map[string]string{"comment": strings.TrimSpace(f.Get("comment"))}, nil)
	if ae, ok := asAPIError(err); ok && ae.StepUp {
		// Ask for the second factor on the inbox, the decision kept.
		d := playbooksData{Tab: "approvals", StepUp: &approvalView{RunID: run, Step: step, Message: decision},
			Comment: strings.TrimSpace(f.Get("comment"))}
		if err := s.call(r, "GET", "/api/v1/approvals", nil, &d.Approvals); err != nil {
			s.failOrSay(w, r, err, &d.Message)
		}
		s.render(w, r, "playbooks", "layout", s.newPage(r, "approvals", "Approvals", d))
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
	verb := map[string]string{"approve": "Approved", "deny": "Denied"}[decision]
	back(w, r, dest, verb+": step "+step+" of run "+run)
}

// failOrSay puts a refusal or bad input of a read into the page's
// notice, and fails the request for anything else.
func (s *Service) failOrSay(w http.ResponseWriter, r *http.Request, err error, msg *string) {
	if m, ok := userMessage(err); ok {
		*msg = m
		return
	}
	s.o.Log.Error("console_api_read_failed", "path", r.URL.Path, "err", err)
	*msg = "The server could not answer this part of the page; the log has the details."
}
