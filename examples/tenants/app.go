package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/events"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
	"github.com/oidc-kit/nextidentity/nihttp"
)

// demoTenant is one tenant of the demo and its provider's demo user.
type demoTenant struct {
	name, title, email string
}

var demoTenants = []demoTenant{
	{"acme", "Acme", "ada@acme.example"},
	{"globex", "Globex", "grace@globex.example"},
}

const (
	demoPassword = "password"
	// demoSubject is both demo users' "sub": two tenants of a provider can
	// issue the same one for different people.
	demoSubject = "0b7e4a1c-5d2f-4e8a-9c3b-7f6d1e2a4b5c"
)

// demo is the app: the tenants' handlers behind one http.Handler, and what
// it started (the providers, their clients, the events endpoints).
type demo struct {
	// Handler serves every tenant: /acme/..., /globex/..., and an index
	// at /.
	Handler http.Handler
	// Tenants are the tenants' handlers.
	Tenants *nihttp.Tenants
	// Providers are the embedded fake providers, by tenant name.
	Providers map[string]*nextidentitytest.Server

	closers []func(context.Context) error
}

// newDemo starts a fake provider per tenant and builds the app served at
// base.
func newDemo(ctx context.Context, base string, logger *slog.Logger) (d *demo, err error) {
	d = &demo{Providers: map[string]*nextidentitytest.Server{}}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	// One key and one store for all tenants: nihttp derives a key per
	// tenant and namespaces the store, so neither lets a cookie of one
	// tenant open at another.
	key := make([]byte, nihttp.KeySize)
	rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	store := nihttp.NewMemoryStore()

	var tenants []nihttp.Tenant
	eventsByTenant := map[string]http.Handler{}
	for _, t := range demoTenants {
		prefix := base + "/" + t.name
		provider := nextidentitytest.NewServer(nextidentitytest.Options{
			Clients: []nextidentitytest.Client{{
				ID:                     t.name + "-web",
				Secret:                 t.name + "-secret",
				RedirectURIs:           []string{prefix + "/callback"},
				PostLogoutRedirectURIs: []string{prefix + "/"},
				BackChannelLogoutURI:   prefix + "/backchannel-logout",
			}},
			Users: []nextidentitytest.User{{Subject: demoSubject, Email: t.email, Password: demoPassword, Name: t.title + " user", EmailVerified: true}},
		})
		d.closers = append(d.closers, func(context.Context) error { provider.Close(); return nil })
		d.Providers[t.name] = provider

		cfg := provider.ClientConfig(t.name + "-web")
		cfg.RedirectURL = prefix + "/callback"
		cfg.Logger = logger
		client, err := nextidentity.New(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		d.closers = append(d.closers, func(context.Context) error { return client.Close() })

		// The tenant's workflow events: only its provider's key signs them.
		v, err := events.NewVerifier(events.Config{AllowedJKU: []string{provider.EventsJWKSURL()}, Logger: logger})
		if err != nil {
			return nil, err
		}
		tenant := t.name
		eh := events.NewHandler(v, func(ctx context.Context, e *events.Event) error {
			logger.InfoContext(ctx, "workflow event", "tenant", tenant, "jti", e.ID, "events", e.Names())
			return nil
		}, events.HandlerOptions{Logger: logger})
		d.closers = append(d.closers, func(ctx context.Context) error { return errors.Join(eh.Wait(ctx), v.Close()) })
		eventsByTenant[t.name] = eh

		tenants = append(tenants, nihttp.Tenant{
			Name:       t.name,
			PathPrefix: "/" + t.name,
			Config: nihttp.Config{
				Client:                client,
				Keys:                  [][]byte{key},
				Store:                 store,
				BackChannelLogout:     true,
				PostLogoutRedirectURL: prefix + "/",
				Logger:                logger,
			},
		})
	}
	if d.Tenants, err = nihttp.NewTenants(tenants...); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", index)
	mux.Handle("/", d.Tenants.Handler(func(h *nihttp.Handlers) http.Handler {
		return tenantRoutes(h, eventsByTenant[h.Tenant()])
	}))
	d.Handler = mux
	return d, nil
}

// Close stops the events endpoints, the clients and the providers.
func (d *demo) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := len(d.closers) - 1; i >= 0; i-- {
		_ = d.closers[i](ctx)
	}
}

// tenantRoutes are one tenant's pages, the same for every tenant: Tenants
// strips the tenant's path prefix before them and puts it back on the
// handlers' redirects.
func tenantRoutes(h *nihttp.Handlers, events http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", h.Login)
	mux.HandleFunc("GET /callback", h.Callback)
	mux.HandleFunc("POST /logout", h.Logout)
	mux.HandleFunc("POST /backchannel-logout", h.BackChannelLogout)
	mux.Handle("POST /events", events)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, err := h.Session(w, r)
		if err != nil && !errors.Is(err, nihttp.ErrNoSession) && s == nil {
			nihttp.DefaultOnError(w, r, err)
			return
		}
		page(w, h.Tenant(), s)
	})
	mux.Handle("GET /account", h.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page(w, h.Tenant(), nihttp.SessionFrom(r.Context()))
	})))
	mux.Handle("GET /settings", h.RequireRecentLogin(5*time.Minute, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page(w, h.Tenant(), nihttp.SessionFrom(r.Context()))
	})))
	return mux
}

var pages = template.Must(template.New("").Parse(`
{{define "index"}}<!doctype html><title>Tenants</title>
<h1>Two tenants, one process</h1>
<ul>{{range .}}<li><a href="/{{.}}/">{{.}}</a></li>{{end}}</ul>{{end}}
{{define "tenant"}}<!doctype html><title>{{.Tenant}}</title>
<h1>{{.Tenant}}</h1>
{{if .Email}}<p id="user">Signed in to {{.Tenant}} as {{.Email}}.</p>
<p><a href="account">Account</a> · <a href="settings">Settings (asks for the password after five minutes)</a></p>
<form method="post" action="logout"><button>Sign out</button></form>
{{else}}<p id="user">Not signed in to {{.Tenant}}.</p><p><a href="login">Sign in</a></p>{{end}}
<p><a href="/">All tenants</a></p>{{end}}
`))

func index(w http.ResponseWriter, r *http.Request) {
	var names []string
	for _, t := range demoTenants {
		names = append(names, t.name)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pages.ExecuteTemplate(w, "index", names)
}

func page(w http.ResponseWriter, tenant string, s *nihttp.Session) {
	data := struct{ Tenant, Email string }{Tenant: tenant}
	if s != nil && s.Token != nil && s.Token.IDToken != nil {
		data.Email = s.Token.IDToken.Email
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = pages.ExecuteTemplate(w, "tenant", data)
}
