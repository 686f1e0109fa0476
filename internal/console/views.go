package console

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/store"
)

// Saved views: an analyst names the alert queue's current filters and
// grouping, and gets them back with one click. Views belong to the
// signed-in subject in the caller's tenant (table console_views), so
// nobody sees or deletes another person's views. Saving one changes only
// the caller's own preferences, so it needs no more than reading alerts.

//go:embed migrations
var migrations embed.FS

func init() {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err)
	}
	store.RegisterMigrations("console", sub)
}

// maxViews bounds the saved views of one user and page.
const maxViews = 50

// maxViewName bounds a view's name, in characters.
const maxViewName = 60

// viewKeys are the query parameters a view of the alert queue keeps.
var viewKeys = []string{"severity", "group"}

// savedView is one saved view; Href applies it.
type savedView struct {
	Name  string
	Query string
	Href  string
}

// viewStore keeps saved views in the state database.
type viewStore struct {
	db  *store.DB
	now func() time.Time
}

// viewQuery keeps only the view's parameters of q, in a stable order.
func viewQuery(q url.Values) string {
	v := url.Values{}
	for _, k := range viewKeys {
		if s := strings.TrimSpace(q.Get(k)); s != "" && s != "none" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// checkViewName says what is wrong with a view name, if anything.
func checkViewName(name string) error {
	switch {
	case name == "":
		return userError{"a saved view needs a name"}
	case utf8.RuneCountInString(name) > maxViewName:
		return userError{fmt.Sprintf("view name %q is longer than %d characters", name, maxViewName)}
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return userError{fmt.Sprintf("view name %q contains a control character", name)}
	}
	return nil
}

// save adds or replaces the view name of subject on page.
func (v viewStore) save(ctx context.Context, tenant, subject, page, name, query string) error {
	if err := checkViewName(name); err != nil {
		return err
	}
	var n int
	if err := v.db.QueryRow(ctx, `SELECT COUNT(*) FROM console_views WHERE tenant = ? AND subject = ? AND page = ? AND name <> ?`,
		tenant, subject, page, name).Scan(&n); err != nil {
		return fmt.Errorf("count saved views of %s: %w", subject, err)
	}
	if n >= maxViews {
		return userError{fmt.Sprintf("you have %d saved views of this page, the most there can be; delete one first", n)}
	}
	_, err := v.db.Exec(ctx, `INSERT INTO console_views (tenant, subject, page, name, query, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (tenant, subject, page, name) DO UPDATE SET query = excluded.query, created_at = excluded.created_at`,
		tenant, subject, page, name, query, store.TimeOf(v.now()))
	if err != nil {
		return fmt.Errorf("save view %q of %s: %w", name, subject, err)
	}
	return nil
}

// list returns subject's views of page, by name.
func (v viewStore) list(ctx context.Context, tenant, subject, page string) ([]savedView, error) {
	rows, err := v.db.Query(ctx, `SELECT name, query FROM console_views WHERE tenant = ? AND subject = ? AND page = ? ORDER BY name`,
		tenant, subject, page)
	if err != nil {
		return nil, fmt.Errorf("list saved views of %s: %w", subject, err)
	}
	defer rows.Close()
	var out []savedView
	for rows.Next() {
		var sv savedView
		if err := rows.Scan(&sv.Name, &sv.Query); err != nil {
			return nil, fmt.Errorf("read saved view of %s: %w", subject, err)
		}
		q, _ := url.ParseQuery(sv.Query)
		q.Set("view", sv.Name)
		sv.Href = api.ConsolePrefix + page + "?" + q.Encode()
		out = append(out, sv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list saved views of %s: %w", subject, err)
	}
	return out, nil
}

// remove deletes subject's view name of page; false when there was none.
func (v viewStore) remove(ctx context.Context, tenant, subject, page, name string) (bool, error) {
	res, err := v.db.Exec(ctx, `DELETE FROM console_views WHERE tenant = ? AND subject = ? AND page = ? AND name = ?`,
		tenant, subject, page, name)
	if err != nil {
		return false, fmt.Errorf("delete view %q of %s: %w", name, subject, err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (s *Service) viewRoutes() []api.Route {
	p := api.ConsolePrefix
	return []api.Route{
		{Pattern: "POST " + p + "alerts/views", Perm: permAlertsRead, Handler: s.saveView},
		{Pattern: "POST " + p + "alerts/views/delete", Perm: permAlertsRead, Handler: s.deleteView},
	}
}

// alertViews lists the caller's saved views of the queue (none without a
// database).
func (s *Service) alertViews(r *http.Request) ([]savedView, error) {
	if s.o.DB == nil {
		return nil, nil
	}
	id, _ := api.IdentityFrom(r.Context())
	return s.views().list(r.Context(), api.TenantOf(r), id.Subject, "alerts")
}

func (s *Service) views() viewStore { return viewStore{db: s.o.DB, now: s.o.Now} }

func (s *Service) saveView(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, _ := api.IdentityFrom(r.Context())
	name := strings.TrimSpace(r.PostForm.Get("name"))
	q := viewQuery(r.PostForm)
	dest := api.ConsolePrefix + "alerts"
	if q != "" {
		dest += "?" + q
	}
	if err := s.views().save(r.Context(), api.TenantOf(r), id.Subject, "alerts", name, q); err != nil {
		if isUserError(err) {
			back(w, r, dest, "View not saved: "+err.Error())
			return
		}
		s.fail(w, r, err)
		return
	}
	sep := "?"
	if q != "" {
		sep = "&"
	}
	back(w, r, dest+sep+"view="+queryEscape(name), "View "+name+" saved")
}

func (s *Service) deleteView(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, _ := api.IdentityFrom(r.Context())
	name := r.PostForm.Get("name")
	ok, err := s.views().remove(r.Context(), api.TenantOf(r), id.Subject, "alerts", name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "View " + name + " deleted"
	if !ok {
		msg = "There is no saved view named " + name
	}
	back(w, r, api.ConsolePrefix+"alerts", msg)
}
