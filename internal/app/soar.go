package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/assets"
	"github.com/wacht-soc/wacht/internal/bus"
	"github.com/wacht-soc/wacht/internal/cases"
	"github.com/wacht-soc/wacht/internal/eventstore"
	"github.com/wacht-soc/wacht/internal/intel"
	"github.com/wacht-soc/wacht/internal/soar"
	_ "github.com/wacht-soc/wacht/internal/soar/actions/all" // connectors
)

func init() { registerModule("soar", 60, startSoar) }

// Playbook settings. The configuration file has no `playbooks:` section
// yet, so they are read from the variables such a section would define
// (config.Load refuses unknown WACHT_ variables until it exists):
//
//	WACHT_PLAYBOOKS_SECRETS_KEY / _FILE   32-byte AES key (base64 or hex);
//	                                      default: <data>/secrets.key, created once
//	WACHT_PLAYBOOKS_ALLOW_HOSTS           hosts http.request and chat.post may reach (comma-separated, "*": any)
//	WACHT_PLAYBOOKS_ALLOW_LOOPBACK=true   also 127.0.0.1, ::1 and localhost (demos, local targets)
const (
	envSecretsKey    = "WACHT_PLAYBOOKS_SECRETS_KEY"
	envAllowHosts    = "WACHT_PLAYBOOKS_ALLOW_HOSTS"
	envAllowLoopback = "WACHT_PLAYBOOKS_ALLOW_LOOPBACK"
)

// startSoar runs playbooks: triggers on domain events, the durable runner
// (it claims steps from the state database, so several nodes share the
// work), the playbook API.
func startSoar(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "soar")
	pc := env.Config.Playbooks
	// The configuration (file or WACHT_PLAYBOOKS_* environment) decides.
	lookup := func(name string) string {
		switch name {
		case envSecretsKey:
			return pc.SecretsKey
		case envSecretsKey + "_FILE":
			return pc.SecretsKeyFile
		}
		return ""
	}
	key, err := soar.LoadSecretKey(lookup, envSecretsKey, filepath.Join(env.Config.Data, "secrets.key"))
	if err != nil {
		return nil, err
	}
	node, err := soarNodeID(env.Config.Data)
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, h := range pc.AllowHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			hosts = append(hosts, h)
		}
	}
	loopback := pc.AllowLoopback
	if err := pc.CheckExec(); err != nil {
		return nil, err
	}
	var commands map[string]soar.Command
	for name, c := range pc.Exec {
		if commands == nil {
			commands = map[string]soar.Command{}
		}
		commands[name] = soar.Command{Path: c.Path, Args: c.Args, Env: c.Env, Dir: c.Dir, Timeout: time.Duration(c.Timeout)}
	}
	// The cases and intel services are stateless over the database, so
	// this module uses its own instances of them.
	cs := cases.New(env.DB, cases.Options{Bus: env.Bus, Now: env.Now, Log: log})
	ti := intel.New(intel.Deps{DB: env.DB, Now: env.Now, Log: log}, intel.Config{})
	svc := soar.New(env.DB, soar.Options{
		Bus: env.Bus, Now: env.Now, Log: log, SecretKey: key, Node: node,
		Deps: soar.Deps{Cases: casesForPlaybooks{cs}, Intel: intelForPlaybooks{ti, env.Now}, Hunt: huntForPlaybooks{env.Events, env.Now},
			Assets: assetsForPlaybooks{assets.New(env.DB, nil, env.Now, log)}, HTTP: &http.Client{Timeout: 10 * time.Minute},
			AllowHosts: hosts, AllowLoopback: loopback, Commands: commands},
		Context: playbookVars,
	})
	if err := svc.Start(ctx); err != nil {
		return nil, err
	}
	env.API.Mount(api.SoarRoutes(svc)...)
	return svc.Stop, nil
}

// soarNodeID is this data directory's runner id: a restarted node takes
// back its own interrupted steps at once.
func soarNodeID(dir string) (string, error) {
	p := filepath.Join(dir, "soar-node")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) && err != nil {
		return "", fmt.Errorf("read runner id: %w", err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	host, _ := os.Hostname()
	id := host + "-" + hex.EncodeToString(b[:])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write runner id: %w", err)
	}
	return id, nil
}

// playbookVars shapes cases' events for playbook expressions: an alert
// gets `level` (its severity), `tags` ("attack.t1110") and `entities` as a
// map by kind (alert.entities.source_ip); an incident.updated event gives
// the incident with its `changes`.
func playbookVars(e bus.Event) map[string]any {
	switch d := e.Data.(type) {
	case cases.Alert:
		return map[string]any{"alert": alertVars(d)}
	case *cases.Alert:
		return map[string]any{"alert": alertVars(*d)}
	case cases.IncidentChange:
		inc := toMap(d.Incident)
		inc["changes"] = d.Changes
		return map[string]any{"incident": inc}
	case cases.Incident:
		return map[string]any{"incident": toMap(d)}
	}
	return nil
}

func alertVars(a cases.Alert) map[string]any {
	m := toMap(a)
	m["level"] = string(a.Severity)
	tags := make([]any, 0, len(a.Attack))
	for _, t := range a.Attack {
		tags = append(tags, "attack."+strings.ToLower(t))
	}
	m["tags"] = tags
	ents := map[string]any{}
	list := make([]any, 0, len(a.Entities))
	for _, e := range a.Entities {
		k := strings.NewReplacer(".", "_", "-", "_").Replace(strings.ToLower(e.Kind))
		if _, ok := ents[k]; !ok {
			ents[k] = e.Value
		}
		list = append(list, map[string]any{"kind": e.Kind, "value": e.Value})
	}
	// Detectors name addresses "ip" or "source.ip"; playbooks read one name.
	if _, ok := ents["source_ip"]; !ok {
		if v, ok := ents["ip"]; ok {
			ents["source_ip"] = v
		}
	}
	m["entities"] = ents
	m["entity_list"] = list
	return m
}

func toMap(v any) map[string]any {
	out := map[string]any{}
	b, err := json.Marshal(v)
	if err == nil {
		_ = json.Unmarshal(b, &out)
	}
	return out
}

// casesForPlaybooks is soar.Cases over the incident response domain.
type casesForPlaybooks struct{ svc *cases.Service }

func (c casesForPlaybooks) Comment(ctx context.Context, tenant, incID, text, actor string) error {
	_, err := c.svc.AddComment(ctx, tenant, incID, text, actor)
	return err
}

func (c casesForPlaybooks) patch(ctx context.Context, tenant, incID, actor string, p cases.IncidentPatch) error {
	_, err := c.svc.UpdateIncident(ctx, tenant, incID, 0, p, actor)
	return err
}

func (c casesForPlaybooks) Assign(ctx context.Context, tenant, incID, assignee, actor string) error {
	return c.patch(ctx, tenant, incID, actor, cases.IncidentPatch{Assignee: &assignee})
}

func (c casesForPlaybooks) SetStatus(ctx context.Context, tenant, incID, status, actor string) error {
	st := cases.Status(status)
	return c.patch(ctx, tenant, incID, actor, cases.IncidentPatch{Status: &st})
}

func (c casesForPlaybooks) SetPriority(ctx context.Context, tenant, incID, priority, actor string) error {
	p := cases.Priority(priority)
	return c.patch(ctx, tenant, incID, actor, cases.IncidentPatch{Priority: &p})
}

func (c casesForPlaybooks) AddTask(ctx context.Context, tenant, incID, title, assignee, actor string) (string, error) {
	t, err := c.svc.AddTask(ctx, tenant, incID, title, assignee, actor)
	return t.ID, err
}

func (c casesForPlaybooks) AddObservable(ctx context.Context, tenant, incID, kind, value, actor string) error {
	_, err := c.svc.AddObservable(ctx, tenant, incID, cases.Observable{Kind: kind, Value: value}, actor)
	return err
}

// Link notes the relation on both incidents' timelines (cases keep no
// separate link records).
func (c casesForPlaybooks) Link(ctx context.Context, tenant, incID, otherID, reason, actor string) error {
	if _, err := c.svc.GetIncident(ctx, tenant, otherID); err != nil {
		return soar.Permanent(fmt.Errorf("incident %s: %w", otherID, err))
	}
	suffix := ""
	if reason != "" {
		suffix = ": " + reason
	}
	at := c.svc.Now()
	if err := c.svc.AddTimelineEntry(ctx, tenant, incID, at, "Linked to incident "+otherID+suffix, actor); err != nil {
		return err
	}
	return c.svc.AddTimelineEntry(ctx, tenant, otherID, at, "Linked to incident "+incID+suffix, actor)
}

func (c casesForPlaybooks) Incident(ctx context.Context, tenant, id string) (map[string]any, error) {
	inc, err := c.svc.GetIncident(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	return toMap(inc), nil
}

// intelForPlaybooks is soar.Intel over threat intelligence. Its service
// is not started (no match index of its own): lookups find the stored
// indicator of the exact value.
type intelForPlaybooks struct {
	svc *intel.Service
	now func() time.Time
}

func (i intelForPlaybooks) Lookup(ctx context.Context, tenant, value string) (any, error) {
	res, err := i.svc.Lookup(ctx, tenant, value)
	if errors.Is(err, intel.ErrBadValue) {
		return nil, soar.Permanent(err)
	}
	return res, err
}

// AddIndicator stores an indicator as an import of one (source
// "playbook:NAME"); the intel module's match index picks it up at its
// next rebuild.
func (i intelForPlaybooks) AddIndicator(ctx context.Context, tenant string, in soar.NewIndicator, actor string) (any, error) {
	typ, err := intel.ParseType(in.Type)
	if err != nil {
		return nil, soar.Permanent(fmt.Errorf("type %q: %w", in.Type, err))
	}
	ind := intel.Indicator{Type: typ, Value: in.Value, Confidence: in.Confidence, Tags: in.Tags, Description: in.Description}
	if in.TLP != "" {
		if ind.TLP, err = intel.ParseTLP(in.TLP); err != nil {
			return nil, soar.Permanent(fmt.Errorf("tlp %q: %w", in.TLP, err))
		}
	}
	if d := in.ValidFor.D(); d > 0 {
		ind.ValidUntil = i.now().Add(d)
	}
	im := i.svc.NewImport(tenant, actor)
	im.DeferRebuild = true
	if err := im.Add(ctx, ind); err != nil {
		im.Abort()
		return nil, err
	}
	st, err := im.Close(ctx)
	if err != nil {
		return nil, err
	}
	if st.Invalid > 0 {
		return nil, soar.Permanent(fmt.Errorf("indicator %s %q: %s", in.Type, in.Value, strings.Join(st.Errors, "; ")))
	}
	t, v, _ := intel.Normalize(typ, in.Value)
	return i.svc.Get(ctx, tenant, intel.ID(t, v))
}

// huntForPlaybooks is soar.Hunt over the event store.
type huntForPlaybooks struct {
	events eventstore.EventStore
	now    func() time.Time
}

func (h huntForPlaybooks) Search(ctx context.Context, tenant, logsql string, since time.Time, limit int) ([]map[string]string, error) {
	var out []map[string]string
	err := h.events.Query(ctx, eventstore.Query{Tenant: tenant, LogsQL: logsql, Start: since, End: h.now(), Limit: limit},
		func(row eventstore.Row) error {
			m := make(map[string]string, len(row))
			for _, f := range row {
				m[f.Name] = f.Value
			}
			out = append(out, m)
			return nil
		})
	if errors.Is(err, eventstore.ErrBadQuery) {
		return nil, soar.Permanent(err)
	}
	return out, err
}

// assetsForPlaybooks is soar.Assets over the inventory.
type assetsForPlaybooks struct{ svc *assets.Service }

func (a assetsForPlaybooks) Lookup(ctx context.Context, tenant, kind, value string) (map[string]any, error) {
	asset, err := a.svc.Lookup(ctx, tenant, assets.Identifier{Type: kind, Value: value})
	if err != nil {
		return nil, err
	}
	return toMap(asset), nil
}

var (
	_ soar.Cases          = casesForPlaybooks{}
	_ soar.Intel          = intelForPlaybooks{}
	_ soar.IndicatorAdder = intelForPlaybooks{}
	_ soar.CaseLinker     = casesForPlaybooks{}
	_ soar.Hunt           = huntForPlaybooks{}
	_ soar.Assets         = assetsForPlaybooks{}
)
