package nihttp

import (
	"cmp"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Tenant is one tenant of an application that serves several Next Identity
// tenants (brands, regions) in one process: which requests are its, and
// the Config of its handlers.
type Tenant struct {
	// Name identifies the tenant: 1 to 32 lower-case ASCII letters, digits
	// and "-". The tenant's cookie names, sealing keys and session IDs are
	// derived from it (see Config.Tenant), so keep it stable: renaming a
	// tenant signs its users out. Required and unique.
	Name string
	// Host, when set, makes the tenant serve requests for this host name
	// (matched case-insensitively, without the port).
	Host string
	// PathPrefix, when set, makes the tenant serve requests under this path
	// ("/eu" serves "/eu" and "/eu/..."; "/eu" is redirected to "/eu/").
	// The prefix is stripped before the tenant's routes see the request, and
	// put back on every path the handlers redirect to (LoginPath, return
	// paths, DefaultReturnTo), so every tenant mounts the same routes. The
	// Client's RedirectURL must include it ("https://app.example.com/eu/callback").
	PathPrefix string
	// Config configures the tenant's handlers, as for New. Its Client is the
	// tenant's own (its issuer, client ID and redirect URL). Keys and Store
	// may be shared between tenants: keys are derived per tenant and store
	// entries are namespaced, so nothing one tenant issued opens at another.
	// Config.Tenant is set to Name.
	Config Config
}

// Tenants routes each request to the handlers of the tenant it belongs to,
// by host or by path prefix. Create it with NewTenants; it is safe for
// concurrent use.
//
// Tenant A's session cookie, login state, back-channel logout token or
// event is never accepted by tenant B: each tenant has its own Client
// (issuer, audience, keys), its own cookie names, its own sealing keys
// (derived from Config.Keys and the tenant's name), and its own namespace
// in a shared session store.
type Tenants struct {
	tenants []*tenant // most specific first
	byName  map[string]*Handlers
}

type tenant struct {
	name, host, prefix string
	h                  *Handlers
}

// tenantName is what Tenant.Name and Config.Tenant may be: safe in a cookie
// name, a store key and a URL, and without "_", which separates it from
// what follows in cookie names and session IDs.
var tenantName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// NewTenants checks the tenants and creates their handlers. Every tenant
// needs a Host, a PathPrefix or both; two tenants cannot serve the same
// requests.
func NewTenants(tenants ...Tenant) (*Tenants, error) {
	if len(tenants) == 0 {
		return nil, errors.New("nihttp: NewTenants needs at least one tenant")
	}
	ts := &Tenants{byName: map[string]*Handlers{}}
	var errs []error
	seen := map[[2]string]string{}
	for _, t := range tenants {
		if !tenantName.MatchString(t.Name) {
			errs = append(errs, fmt.Errorf("nihttp: tenant name %q: want 1 to 32 of a-z, 0-9 and -", t.Name))
			continue
		}
		if _, dup := ts.byName[t.Name]; dup {
			errs = append(errs, fmt.Errorf("nihttp: tenant %q is listed twice", t.Name))
			continue
		}
		host := strings.ToLower(t.Host)
		prefix := strings.TrimSuffix(t.PathPrefix, "/")
		switch {
		case host == "" && prefix == "":
			errs = append(errs, fmt.Errorf("nihttp: tenant %q needs a Host or a PathPrefix", t.Name))
			continue
		case t.PathPrefix != "" && (prefix == "" || !validPrefix(prefix)):
			errs = append(errs, fmt.Errorf("nihttp: tenant %q: PathPrefix %q is not a path like /eu", t.Name, t.PathPrefix))
			continue
		}
		if other, dup := seen[[2]string{host, prefix}]; dup {
			errs = append(errs, fmt.Errorf("nihttp: tenants %q and %q serve the same requests", other, t.Name))
			continue
		}
		seen[[2]string{host, prefix}] = t.Name
		cfg := t.Config
		if cfg.Tenant != "" && cfg.Tenant != t.Name {
			errs = append(errs, fmt.Errorf("nihttp: tenant %q: its Config.Tenant is %q", t.Name, cfg.Tenant))
			continue
		}
		cfg.Tenant = t.Name
		h, err := newHandlers(cfg, prefix)
		if err != nil {
			errs = append(errs, fmt.Errorf("nihttp: tenant %q: %w", t.Name, err))
			continue
		}
		ts.byName[t.Name] = h
		ts.tenants = append(ts.tenants, &tenant{name: t.Name, host: host, prefix: prefix, h: h})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Most specific first: a host before none, then the longer prefix.
	slices.SortStableFunc(ts.tenants, func(a, b *tenant) int {
		if (a.host == "") != (b.host == "") {
			if a.host != "" {
				return -1
			}
			return 1
		}
		return cmp.Compare(len(b.prefix), len(a.prefix))
	})
	return ts, nil
}

// validPrefix reports whether p (without its trailing "/") is a path
// prefix like "/eu" or "/brands/a".
func validPrefix(p string) bool {
	clean, ok := localPath(p)
	return ok && clean == p && !strings.ContainsAny(p, "?#%")
}

// Handlers returns the named tenant's handlers, or nil.
func (ts *Tenants) Handlers(name string) *Handlers { return ts.byName[name] }

// Match returns the handlers of the tenant r belongs to, or nil when none
// serves it. With a PathPrefix tenant, r's path is still the full one:
// Handler strips the prefix.
func (ts *Tenants) Match(r *http.Request) *Handlers {
	if t := ts.match(r); t != nil {
		return t.h
	}
	return nil
}

func (ts *Tenants) match(r *http.Request) *tenant {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, t := range ts.tenants {
		if t.host != "" && t.host != host {
			continue
		}
		if t.prefix == "" || r.URL.Path == t.prefix || strings.HasPrefix(r.URL.Path, t.prefix+"/") {
			return t
		}
	}
	return nil
}

// Handler returns the application's handler: each request goes to the
// routes of its tenant, built once per tenant by routes (typically a
// ServeMux mounting h.Login, h.Callback, h.Logout and pages wrapped in
// h.RequireLogin). A PathPrefix tenant's routes see paths without the
// prefix. A request no tenant serves gets 404.
func (ts *Tenants) Handler(routes func(h *Handlers) http.Handler) http.Handler {
	byTenant := make(map[*tenant]http.Handler, len(ts.tenants))
	for _, t := range ts.tenants {
		next := routes(t.h)
		if t.prefix != "" {
			next = http.StripPrefix(t.prefix, next)
		}
		byTenant[t] = next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := ts.match(r)
		switch {
		case t == nil:
			http.NotFound(w, r)
		case t.prefix != "" && r.URL.Path == t.prefix:
			u := *r.URL
			u.Path, u.RawPath = t.prefix+"/", ""
			http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
		default:
			byTenant[t].ServeHTTP(w, r)
		}
	})
}

// Tenant returns the name of the handlers' tenant (Config.Tenant); "" for
// an application with one.
func (h *Handlers) Tenant() string { return h.cfg.Tenant }

// tenantKeys derives a tenant's sealing keys from Config.Keys (HKDF-SHA256,
// the tenant's name in the info), so that a cookie one tenant sealed does
// not open at another even when they share Keys. A key of the wrong size
// is passed on for newSealer to report.
func tenantKeys(name string, keys [][]byte) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = k
		if len(k) == KeySize {
			// Only a keyLength beyond 255 hash lengths fails.
			out[i], _ = hkdf.Key(sha256.New, k, nil, "nihttp tenant "+name, KeySize)
		}
	}
	return out
}
