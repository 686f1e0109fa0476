package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wacht-soc/wacht/internal/api"
	"github.com/wacht-soc/wacht/internal/audit"
	"github.com/wacht-soc/wacht/internal/auth"
	"github.com/wacht-soc/wacht/internal/bus"
)

// The access module: users, sessions, single sign-on, tokens and the
// built-in CA behind the API guard, and the audit trail, which records
// every state-changing API call (through the guard) and every domain event
// on the bus. Single sign-on is configured through WACHT_OIDC_ISSUER,
// WACHT_OIDC_CLIENT_ID, WACHT_OIDC_CLIENT_SECRET and WACHT_OIDC_REDIRECT_URL.
func init() { registerModule("access", 10, startAccess) }

// AuditAnchorEvery is how often a signed checkpoint of the audit log is
// written.
const AuditAnchorEvery = 2 * time.Minute

func startAccess(ctx context.Context, env *Env) (func(), error) {
	log := env.Log.With("module", "access")
	users := auth.NewUsers(env.DB, auth.UsersOptions{Now: env.Now, Log: log,
		ValidRole: func(r string) bool { return api.Allowed(r, api.PermSession) || r == api.RoleIngest }})
	signer, _, err := audit.LoadOrCreateKey(env.Config.Path("audit"), "wacht-audit")
	if err != nil {
		return nil, err
	}
	alog := audit.Open(env.DB, audit.Options{Signer: signer, Now: env.Now, Log: log})
	ca, err := auth.OpenCA(env.Config.Path("pki"), env.DB, env.Now)
	if err != nil {
		alog.Close()
		return nil, err
	}
	svc := &api.AccessService{Users: users, Tokens: auth.NewTokenStore(env.DB, env.Now), Audit: alog, CA: ca,
		DB: env.DB, Now: env.Now, Log: log, SecureCookies: true, Roles: auth.NewRoles(env.DB)}
	// Custom roles defined earlier (PUT /api/v1/roles/{name}) apply again.
	if err := api.LoadCustomRoles(ctx, svc.Roles); err != nil {
		alog.Close()
		return nil, err
	}
	if o := env.Config.OIDC; o.Issuer != "" {
		svc.OIDC, err = auth.NewOIDC(ctx, auth.OIDCConfig{Issuer: o.Issuer, ClientID: o.ClientID,
			ClientSecret: o.ClientSecret, RedirectURL: o.RedirectURL}, users)
		if err != nil {
			alog.Close()
			return nil, err
		}
	}
	env.API.UseAccess(api.AccessHooks{
		Sessions: sessionAuth{users},
		Now:      env.Now,
		Audit: func(ctx context.Context, e api.AuditEntry) {
			if err := alog.Append(context.WithoutCancel(ctx), guardRecord(e)); err != nil {
				log.Error("audit_append_failed", "route", e.Route, "err", err)
			}
		},
	})
	env.API.Mount(api.AccessRoutes(svc)...)

	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	sub := env.Bus.Subscribe("*", 8192)
	go func() {
		defer func() { done <- struct{}{} }()
		// Events that queued up meanwhile go into one append.
		var recs []audit.Record
		for e := range sub.C() {
			recs = append(recs[:0], busRecord(e))
		more:
			for len(recs) < 1000 {
				select {
				case e, ok := <-sub.C():
					if !ok {
						break more
					}
					recs = append(recs, busRecord(e))
				default:
					break more
				}
			}
			if err := alog.Append(runCtx, recs...); err != nil && runCtx.Err() == nil {
				log.Error("audit_append_failed", "events", len(recs), "err", err)
			}
		}
	}()
	ticker := time.NewTicker(AuditAnchorEvery)
	go func() {
		defer func() { done <- struct{}{} }()
		alog.RunAnchors(runCtx, ticker.C)
	}()
	return func() {
		sub.Close()
		ticker.Stop()
		<-done // the bus subscriber has drained
		cancel()
		<-done
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer acancel()
		if _, err := alog.Anchor(actx); err != nil {
			log.Error("audit_anchor_failed", "err", err)
		}
		alog.Close()
	}, nil
}

// ListenerTLS is the TLS configuration for an ingest listener that requires
// client certificates from the built-in CA (data/pki). The lead wires it
// into the syslog TLS listener.
func ListenerTLS(env *Env, serverCert tls.Certificate) (*tls.Config, error) {
	ca, err := auth.OpenCA(env.Config.Path("pki"), env.DB, env.Now)
	if err != nil {
		return nil, err
	}
	return ca.ServerTLSConfig(serverCert), nil
}

type sessionAuth struct{ u *auth.Users }

func (s sessionAuth) AuthenticateSession(ctx context.Context, cookie, tenant string) (api.Identity, error) {
	ses, err := s.u.Authenticate(ctx, cookie, tenant)
	if err != nil {
		if errors.Is(err, auth.ErrNoSession) || errors.Is(err, auth.ErrNoBinding) {
			return api.Identity{}, api.ErrDenied
		}
		return api.Identity{}, err
	}
	m := api.AuthPassword
	switch ses.Method {
	case auth.MethodPassword:
	case auth.MethodOIDC:
		m = api.AuthOIDC
	case auth.MethodMFA:
		m = api.AuthMFA
	}
	return api.Identity{Subject: "user:" + ses.Username, TokenID: ses.ID, Tenant: ses.Tenant, Role: ses.Role,
		Method: m, VerifiedAt: ses.VerifiedAt, UserID: ses.UserID, CSRF: ses.CSRF}, nil
}

func guardRecord(e api.AuditEntry) audit.Record {
	outcome := audit.OutcomeOK
	switch {
	case e.Denied != "":
		outcome = audit.OutcomeDenied
	case e.Status >= 400:
		outcome = audit.OutcomeFailed
	}
	detail, _ := json.Marshal(map[string]any{"route": e.Route, "perm": e.Perm, "status": e.Status,
		"auth": e.Identity.Method.String(), "credential": e.Identity.TokenID, "role": e.Identity.Role, "denied": e.Denied})
	tenant := e.Identity.Tenant
	if tenant == "" {
		tenant = audit.SystemTenant
	}
	actor := e.Identity.Subject
	if actor == "" {
		actor = "anonymous"
	}
	return audit.Record{Time: e.Time, Tenant: tenant, Actor: actor, Action: e.Method + " " + e.Path,
		Source: e.Source, Outcome: outcome, AfterHash: e.RequestHash, Detail: detail}
}

func busRecord(e bus.Event) audit.Record {
	actor := e.Actor
	if actor == "" {
		actor = "system"
	}
	detail, _ := json.Marshal(map[string]any{"type": fmt.Sprintf("%T", e.Data)})
	return audit.Record{Time: e.Time, Tenant: e.Tenant, Actor: actor, Action: "event " + e.Type, Subject: e.Subject,
		Source: "bus", AfterHash: audit.HashOf(e.Data), Detail: detail}
}
