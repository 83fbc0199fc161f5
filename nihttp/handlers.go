// Package nihttp adds Next Identity sign-in and sessions to net/http
// applications: a login handler that sends the browser to the provider, a
// callback handler that finishes the code flow and starts a session, a
// logout handler that ends it, and RequireLogin, a middleware that serves
// only signed-in users and refreshes their tokens when they expire. APIs
// called with access tokens use RequireBearer instead (RFC 6750).
//
// Sessions live in a SessionStore. The default seals the whole session into
// cookies (no server state; a copied cookie lives until the session
// expires); NewMemoryStore keeps them in one process; package
// nihttp/redisstore keeps them in Redis for any number of instances, where
// logout ends a session for every copy of its cookie.
//
// Mounting the handlers:
//
//	h, err := nihttp.New(nihttp.Config{
//		Client: client,
//		Keys:   [][]byte{key}, // 32 random bytes, kept secret, shared by all instances
//		PostLogoutRedirectURL: "https://app.example.com/signed-out",
//	})
//	mux.HandleFunc("GET /login", h.Login)
//	mux.HandleFunc("GET /callback", h.Callback)
//	mux.HandleFunc("POST /logout", h.Logout)
//	mux.Handle("GET /orders", h.RequireLogin(orders)) // nihttp.SessionFrom(r.Context()) inside
package nihttp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/telemetry"
)

// Defaults used when the corresponding Config field is left zero.
const (
	// DefaultSessionLifetime is the provider's own session length.
	DefaultSessionLifetime = 14 * 24 * time.Hour
	// DefaultIdleTimeout ends a session after a day without a request.
	DefaultIdleTimeout = 24 * time.Hour
	// DefaultLoginTTL is how long a started sign-in can be finished.
	DefaultLoginTTL = 10 * time.Minute
	// DefaultSessionCookieName is the session cookie's name ("__Host-"
	// is prepended unless InsecureCookie).
	DefaultSessionCookieName = "nihttp_session"
	// DefaultLoginCookieName is the prefix of the login-state cookies.
	DefaultLoginCookieName = "nihttp_login"
)

// Login loop guard: more than loopMax sign-ins started by one browser
// within loopWindow is a loop (an app that signs in again on every
// failure), answered with ErrLoginLoop instead of another round trip to
// the provider.
const (
	loopMax    = 5
	loopWindow = time.Minute
)

var (
	// ErrNoLoginState means the callback was reached without its
	// login-state cookie: the sign-in was not started by this browser,
	// took longer than Config.LoginTTL, or cookies are blocked.
	ErrNoLoginState = errors.New("nihttp: no sign-in in progress (login cookie missing)")
	// ErrLoginLoop means this browser started too many sign-ins in a short
	// time, so the handlers stopped a redirect loop.
	ErrLoginLoop = errors.New("nihttp: too many sign-ins in a short time (redirect loop?)")
	// ErrCrossSite means a state-changing request (logout) came from
	// another site and was refused.
	ErrCrossSite = errors.New("nihttp: cross-site request refused")
	// ErrLoginStateUsed means the callback's login state already finished
	// a sign-in: a copy of the login cookie and callback URL was replayed.
	ErrLoginStateUsed = errors.New("nihttp: sign-in already finished (login state used before)")
	// ErrLogoutState means a request reached LogoutReturn without the
	// state of a logout this browser started (missing, different, already
	// used, or older than Config.LoginTTL): it is not the provider's
	// answer to this browser's logout.
	ErrLogoutState = errors.New("nihttp: logout return does not match a logout this browser started")
)

// Config configures the handlers.
type Config struct {
	// Client is the Next Identity client. Required.
	Client *nextidentity.Client
	// Keys seal the login-state cookies and, with the default store, the
	// session cookies: each KeySize random bytes, kept secret and shared by
	// every instance. The first seals, all open: to rotate, put a new key
	// first and keep the old one until its cookies have expired. Rotate at
	// least every few months on a busy site: AES-GCM with random nonces is
	// good for about 2^32 seals per key, and every sign-in and activity
	// write seals. Required.
	Keys [][]byte
	// Store keeps sessions. Default: the sealed-cookie store using Keys.
	Store SessionStore
	// Now is the clock for sessions and cookies; default time.Now.
	Now func() time.Time
	// IdleTimeout ends a session after this long without a request.
	// Zero means DefaultIdleTimeout; negative means no idle timeout.
	IdleTimeout time.Duration
	// SessionLifetime is a session's absolute limit from sign-in; default
	// DefaultSessionLifetime.
	SessionLifetime time.Duration
	// LoginPath is where RequireLogin sends signed-out browsers; default
	// "/login". It must be where Login is mounted.
	LoginPath string

	// OnLogin, when set, writes the response after a session has started;
	// returnTo is always a local path. Default: a redirect to returnTo.
	OnLogin func(w http.ResponseWriter, r *http.Request, s *Session, returnTo string)
	// OnLogout, when set, is called by Logout after the session has ended
	// (s is nil when there was none) and before the redirect to the
	// provider, for the application's own clean-up.
	OnLogout func(w http.ResponseWriter, r *http.Request, s *Session)
	// OnError writes the response for a failed sign-in, logout or session
	// check. Default: DefaultOnError.
	OnError func(w http.ResponseWriter, r *http.Request, err error)

	// AuthOptions are added to every authorization request (for example
	// nextidentity.WithOfflineAccess()).
	AuthOptions []nextidentity.AuthOption
	// DefaultReturnTo is where a sign-in returns when its login request
	// named no valid return_to; default "/".
	DefaultReturnTo string
	// PostLogoutRedirectURL is where the provider returns the browser after
	// logout; it must be registered with the provider. Empty: none is sent.
	// Logout sends a fresh "state" with it, bound to a cookie; mount the
	// page there behind LogoutReturn, which checks it.
	PostLogoutRedirectURL string
	// LoginTTL is how long a started sign-in stays valid; default
	// DefaultLoginTTL.
	LoginTTL time.Duration

	// InsecureCookie drops the Secure attribute and the "__Host-" prefix,
	// for development over plain HTTP on a host other than localhost.
	// Browsers accept Secure cookies from http://localhost and
	// http://127.0.0.1, so local development needs no such switch. Without
	// the prefix a sibling subdomain can plant a session cookie of its own:
	// never set it in production.
	InsecureCookie bool
	// SessionCookieName names the session cookie; default
	// DefaultSessionCookieName.
	SessionCookieName string
	// LoginCookieName prefixes the login-state cookies; default
	// DefaultLoginCookieName.
	LoginCookieName string

	// RevokeOnLogout makes Logout revoke the session's tokens at the
	// provider (Client.Revoke) after ending the session, so a copied access
	// or refresh token stops working too. A failed revocation is logged;
	// the user is signed out all the same.
	RevokeOnLogout bool

	// BackChannelLogout says that the application mounts the
	// BackChannelLogout handler; New then refuses a Store that is not a
	// ServerStore, since the cookie store cannot end sessions from
	// elsewhere.
	BackChannelLogout bool

	// Tenant names the tenant when one process serves several Next
	// Identity tenants (Tenants sets it from Tenant.Name): 1 to 32 of a-z,
	// 0-9 and "-". The cookie names get "-" and the name appended, the
	// sealing keys are derived from Keys and the name (HKDF-SHA256), and
	// Store sees session IDs, subjects and SIDs prefixed with the name and
	// "_", so that nothing one tenant issued is accepted by another, even
	// with the same Keys and Store. Empty: an application with one tenant.
	Tenant string

	// Logger receives warnings the handlers cannot return (a failed refresh
	// that kept the session, a store error while touching a session). Nil
	// means silent, except for the one record an operator must see: a
	// session too large for the default cookie store (ErrSessionTooLarge),
	// which goes to slog.Default() then.
	Logger *slog.Logger

	// TracerProvider makes the handlers' spans (nihttp.login,
	// nihttp.callback, nihttp.session.refresh, and nihttp.store.* under a
	// recording parent). Default: Client.TracerProvider(), the one the
	// Client was configured with (else the global provider).
	TracerProvider trace.TracerProvider
	// MeterProvider makes the session store metrics
	// (nextidentity.store.calls, nextidentity.store.call.duration).
	// Default: Client.MeterProvider().
	MeterProvider metric.MeterProvider
}

// Handlers are the login, callback and logout handlers and the session
// layer around them. Create them with New; they are safe for concurrent use.
type Handlers struct {
	cfg    Config
	sealer *sealer
	store  SessionStore // instrumented (telemetry.go): assert optional interfaces on baseStore(h.store)
	csrf   *http.CrossOriginProtection
	recent refreshed
	log    *slog.Logger
	// opsLog is log, or slog.Default() when Config.Logger is nil: for
	// deployment errors an operator must see.
	opsLog *slog.Logger
	tel    *telemetry.Telemetry // see telemetry.go
	// loginURL is LoginPath parsed, for RequireLogin's redirects.
	loginURL url.URL
	// usedStates remembers the login states callbacks have used: the store
	// when it is a nextidentity.ReplayCache (redisstore.Store), else one
	// in this process.
	usedStates nextidentity.ReplayCache
	// sessionCookie is the session cookie's name, prefix included.
	sessionCookie string
	// mount is the path prefix Tenants serves the handlers under (it
	// strips it from requests): put back on every path they redirect to.
	mount string
}

// loginState is what a login cookie carries between login and callback.
type loginState struct {
	State        string    `json:"s"`
	Nonce        string    `json:"n"`
	CodeVerifier string    `json:"v"`
	ReturnTo     string    `json:"r,omitempty"`
	Expires      time.Time `json:"e"`
	// MaxAge is the max_age sent (nextidentity.WithMaxAge in AuthOptions,
	// or a step-up's), so that the callback enforces it on auth_time.
	MaxAge *time.Duration `json:"m,omitempty"`
	// StepUp says RequireRecentLogin asked for this sign-in: the callback
	// holds auth_time to MaxAge by the handlers' clock too.
	StepUp bool `json:"u,omitempty"`
	// Prompted says prompt=login was sent with it.
	Prompted bool `json:"p,omitempty"`
}

// New checks cfg and returns the handlers. It reports every missing or
// invalid field at once.
func New(cfg Config) (*Handlers, error) { return newHandlers(cfg, "") }

// newHandlers is New for handlers served under the path prefix mount.
func newHandlers(cfg Config, mount string) (*Handlers, error) {
	var errs []error
	if cfg.Client == nil {
		errs = append(errs, errors.New("nihttp: Config.Client is required"))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	keys := cfg.Keys
	if cfg.Tenant != "" {
		if !tenantName.MatchString(cfg.Tenant) {
			errs = append(errs, fmt.Errorf("nihttp: Config.Tenant %q: want 1 to 32 of a-z, 0-9 and -", cfg.Tenant))
		}
		keys = tenantKeys(cfg.Tenant, keys)
	}
	s, err := newSealer(cfg.Now, keys...)
	if err != nil {
		errs = append(errs, fmt.Errorf("nihttp: Config.Keys: %w", err))
	}
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.SessionLifetime, DefaultSessionLifetime)
	setDefault(&cfg.LoginTTL, DefaultLoginTTL)
	setDefault(&cfg.LoginPath, "/login")
	setDefault(&cfg.DefaultReturnTo, "/")
	setDefault(&cfg.SessionCookieName, DefaultSessionCookieName)
	setDefault(&cfg.LoginCookieName, DefaultLoginCookieName)
	if cfg.Tenant != "" {
		cfg.SessionCookieName += "-" + cfg.Tenant
		cfg.LoginCookieName += "-" + cfg.Tenant
	}
	if rt, ok := localPath(cfg.DefaultReturnTo); !ok {
		errs = append(errs, fmt.Errorf("nihttp: Config.DefaultReturnTo %q is not a local path", cfg.DefaultReturnTo))
	} else {
		cfg.DefaultReturnTo = rt
	}
	loginURL, err := url.Parse(cfg.LoginPath)
	if _, ok := localPath(cfg.LoginPath); !ok || err != nil || loginURL.Fragment != "" {
		errs = append(errs, fmt.Errorf("nihttp: Config.LoginPath %q is not a local path", cfg.LoginPath))
	}
	if cfg.SessionLifetime < 0 {
		errs = append(errs, fmt.Errorf("nihttp: Config.SessionLifetime %v is negative", cfg.SessionLifetime))
	}
	if _, ok := cfg.Store.(ServerStore); cfg.BackChannelLogout && !ok {
		errs = append(errs, errBackChannelNeedsServerStore)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if cfg.OnError == nil {
		cfg.OnError = DefaultOnError
	}
	cfg.OnError = recordFailure(cfg.OnError)
	h := &Handlers{cfg: cfg, sealer: s, store: cfg.Store, csrf: http.NewCrossOriginProtection(), log: cfg.Logger, loginURL: *loginURL, mount: mount}
	h.opsLog = h.log
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
		h.opsLog = slog.Default()
	}
	h.sessionCookie = h.cookieName(cfg.SessionCookieName)
	if h.store == nil {
		h.store = &cookieStore{sealer: s, name: h.sessionCookie, now: cfg.Now}
	}
	if rc, ok := h.store.(nextidentity.ReplayCache); ok {
		h.usedStates = rc
	} else {
		h.usedStates = nextidentity.NewMemoryReplayCache(0)
	}
	if cfg.Tenant != "" && cfg.Store != nil {
		h.store = namespaced(h.store, cfg.Tenant)
	}
	h.tel = newTelemetry(&cfg)
	h.store = instrument(h.store, h.tel)
	return h, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Login starts a sign-in: it seals a fresh authorization request into a
// login cookie of its own (so sign-ins in several tabs each finish) and
// redirects to the provider. A "return_to" query parameter that is a local
// path ("/orders?id=1") is where the callback returns. The "max_age" (whole
// seconds) and "prompt=login" parameters that RequireRecentLogin adds make
// it a step-up sign-in: the provider is asked for an authentication no
// older than max_age, and the callback checks it got one. When the provider
// is unavailable (nextidentity.ErrProviderUnavailable, with LazyDiscovery)
// or the store is a Pinger and cannot answer (ErrStoreUnavailable), Login
// answers 503 instead (through OnError).
func (h *Handlers) Login(w http.ResponseWriter, r *http.Request) {
	r, end := h.traced(r, telemetry.Login)
	defer end()
	w.Header().Set("Cache-Control", "no-store")
	// With LazyDiscovery the provider may not be known yet: find it with
	// the request's context, and answer 503 (before the loop guard counts
	// a sign-in) while it cannot be.
	if err := h.cfg.Client.Discover(r.Context()); err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	if p, ok := baseStore(h.store).(Pinger); ok {
		if err := p.Ping(r.Context()); err != nil {
			if !errors.Is(err, ErrStoreUnavailable) {
				err = fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
			}
			h.cfg.OnError(w, r, err)
			return
		}
	}
	if err := h.countLogin(w, r); err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	su, isStepUp := stepUpFrom(r.URL.Query())
	ar, err := h.authRequest(su, isStepUp)
	if err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	st := loginState{
		State: ar.State, Nonce: ar.Nonce, CodeVerifier: ar.CodeVerifier, MaxAge: ar.MaxAge,
		StepUp: isStepUp, Prompted: isStepUp && su.prompted,
		Expires: h.cfg.Now().Add(h.cfg.LoginTTL),
	}
	if rt, ok := localPath(r.URL.Query().Get("return_to")); ok {
		st.ReturnTo = rt
	}
	name := h.loginCookieName(ar.State)
	sealed, err := h.sealer.seal(name, st, h.cfg.LoginTTL)
	if err == nil && len(sealed) > cookieChunk {
		// A return path too long for a cookie: sign in, and land on
		// DefaultReturnTo, rather than set a cookie the browser drops.
		st.ReturnTo = ""
		sealed, err = h.sealer.seal(name, st, h.cfg.LoginTTL)
	}
	if err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	h.pruneLoginCookies(w, r)
	http.SetCookie(w, h.cookie(name, sealed, h.cfg.LoginTTL))
	http.Redirect(w, r, ar.URL, http.StatusFound)
}

// loopState is what the loop-guard cookie carries: when this browser
// started its recent sign-ins.
type loopState struct {
	Starts []time.Time `json:"t"`
}

// countLogin records a sign-in start in the loop-guard cookie and returns
// ErrLoginLoop when there were already loopMax within loopWindow.
func (h *Handlers) countLogin(w http.ResponseWriter, r *http.Request) error {
	name := h.cookieName(h.cfg.LoginCookieName + "-loop") // not under the "_" prefix of login states
	now := h.cfg.Now()
	var recent []time.Time
	for _, v := range cookieValues(r, name) {
		var ls loopState
		if h.sealer.open(name, v, cookieChunk, &ls) == nil {
			for _, t := range ls.Starts {
				if now.Sub(t) < loopWindow {
					recent = append(recent, t)
				}
			}
			break
		}
	}
	if len(recent) >= loopMax {
		return ErrLoginLoop
	}
	sealed, err := h.sealer.seal(name, loopState{Starts: append(recent, now)}, loopWindow)
	if err != nil {
		return err
	}
	http.SetCookie(w, h.cookie(name, sealed, loopWindow))
	return nil
}

// Callback finishes a sign-in: it opens and clears the sign-in's login
// cookie, records its state as used (a login state finishes one sign-in
// only: a copy of the cookie replayed with the callback URL, or with a
// second code for the same authorization request, fails with
// ErrLoginStateUsed before the code is redeemed), checks the provider's
// response and exchanges the code
// (Client.Exchange), starts a session, and calls OnLogin (default: a
// redirect to the return path). A callback replayed while the browser has a
// valid session (a reload, a back button) redirects to the return path of
// the sign-in it finished (remembered, sealed, for LoginTTL).
// Every other failure goes to OnError, with an error that wraps
// ErrNoLoginState, ErrLoginStateUsed, ErrTampered, ErrExpired,
// ErrSessionTooLarge, ErrStoreUnavailable or one of nextidentity's
// sentinels.
// While the provider is unavailable (nextidentity.ErrProviderUnavailable,
// with LazyDiscovery) it answers that way before it spends the login
// cookie, so a reload can finish the sign-in once the provider is back.
//
// Used states are remembered in the store when it implements
// nextidentity.ReplayCache (redisstore.Store does, for every instance),
// else in this process (MemoryStore, and the default cookie store, where
// another instance behind the same load balancer does not see them).
func (h *Handlers) Callback(w http.ResponseWriter, r *http.Request) {
	r, end := h.traced(r, telemetry.Callback)
	defer end()
	w.Header().Set("Cache-Control", "no-store")
	// While the provider is unavailable (LazyDiscovery), answer before the
	// login cookie is spent, so a reload can finish the sign-in later.
	if err := h.cfg.Client.Discover(r.Context()); err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	returnTo := h.cfg.DefaultReturnTo
	st, err := h.loginState(w, r)
	if st != nil && st.ReturnTo != "" {
		returnTo = st.ReturnTo
	}
	if err == nil {
		err = h.spendLoginState(r.Context(), st)
	}
	var tok *nextidentity.Token
	if err == nil {
		tok, err = h.cfg.Client.Exchange(r.Context(), r.URL.Query(), &nextidentity.AuthRequest{
			State: st.State, Nonce: st.Nonce, CodeVerifier: st.CodeVerifier, MaxAge: st.MaxAge,
		})
	}
	if err == nil && st.StepUp && st.MaxAge != nil {
		err = h.checkStepUp(tok, *st.MaxAge)
	}
	if st != nil && st.StepUp && st.MaxAge != nil && !st.Prompted && errors.Is(err, nextidentity.ErrAuthTooOld) {
		// The provider did not ask for the password again (it ignored
		// max_age, or its clock is behind ours): once more, with
		// prompt=login. A second failure is an error, not a loop.
		h.log.Info("nihttp: step-up sign-in came back without a recent authentication; asking with prompt=login", "err", err)
		redirectLocal(w, h.loginLocation(returnTo, st.MaxAge, true))
		return
	}
	old, _, _ := h.load(r)
	if err != nil {
		if old != nil && !errors.Is(err, nextidentity.ErrAuthTooOld) {
			// A replay of a finished sign-in's callback (a reload, the
			// back button) goes where that sign-in went.
			if rt, ok := h.finishedSignIn(r); ok && st == nil {
				returnTo = rt
			}
			redirectLocal(w, h.mount+returnTo)
			return
		}
		h.cfg.OnError(w, r, err)
		return
	}
	s, err := h.start(w, r, tok)
	if err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	h.rememberSignIn(w, st, returnTo)
	if old != nil {
		// A new sign-in always gets a new session (no fixation); the old
		// one ends.
		if err := h.store.Delete(r.Context(), old); err != nil {
			h.log.Warn("nihttp: ending the previous session", "err", err)
		}
	}
	if h.cfg.OnLogin != nil {
		h.cfg.OnLogin(w, r, s, h.mount+returnTo)
		return
	}
	redirectLocal(w, h.mount+returnTo)
}

// loginState opens and deletes the login cookie of the callback's state.
// Every cookie of that name is tried, so a planted one cannot shadow it.
func (h *Handlers) loginState(w http.ResponseWriter, r *http.Request) (*loginState, error) {
	state := r.URL.Query().Get("state")
	if state == "" {
		return nil, ErrNoLoginState
	}
	name := h.loginCookieName(state)
	values := cookieValues(r, name)
	if len(values) == 0 {
		return nil, ErrNoLoginState
	}
	// One use only, whatever happens next.
	http.SetCookie(w, h.cookie(name, "", -1))
	var err error
	for _, v := range values {
		var st loginState
		if err = h.sealer.open(name, v, cookieChunk, &st); err == nil {
			return &st, nil
		}
	}
	return nil, err
}

// spendLoginState records st's state as used and fails with
// ErrLoginStateUsed when it already was. The state is kept hashed, for as
// long as the login cookie could still be opened, and a minute more.
func (h *Handlers) spendLoginState(ctx context.Context, st *loginState) error {
	sum := sha256.Sum256([]byte(st.State))
	ttl := max(st.Expires.Sub(h.cfg.Now()), 0) + time.Minute
	first, err := h.usedStates.FirstSeen(ctx, "nihttp:login-state:"+hex.EncodeToString(sum[:]), ttl)
	if err != nil {
		return fmt.Errorf("%w: recording the sign-in's state as used: %w", ErrStoreUnavailable, err)
	}
	if !first {
		return ErrLoginStateUsed
	}
	return nil
}

// start creates the session for a verified token and sets its cookie.
func (h *Handlers) start(w http.ResponseWriter, r *http.Request, tok *nextidentity.Token) (*Session, error) {
	now := h.cfg.Now()
	s := &Session{
		ID:        rand.Text(),
		Token:     tok,
		CreatedAt: now,
		ExpiresAt: now.Add(h.cfg.SessionLifetime),
	}
	if tok.IDToken != nil {
		s.Subject = tok.IDToken.Subject
		s.AuthTime = tok.IDToken.AuthTime
		var sid struct {
			SID string `json:"sid"`
		}
		if tok.IDToken.Claims(&sid) == nil {
			s.SID = sid.SID
		}
	}
	if err := h.save(w, r, s, now); err != nil {
		return nil, err
	}
	return s, nil
}

// Logout ends the session (in the store and its cookies) and redirects to
// the provider's end-session endpoint. It answers 405 to anything but POST
// and 403 to a cross-site request (by Sec-Fetch-Site or Origin), leaving
// the session alone, so another site cannot sign users out. With the
// default cookie store, a copy of the session cookie taken before logout
// keeps working until the session expires; a ServerStore ends it.
func (h *Handlers) Logout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "nihttp: logout takes POST", http.StatusMethodNotAllowed)
		return
	}
	if err := h.csrf.Check(r); err != nil {
		h.cfg.OnError(w, r, fmt.Errorf("%w: %w", ErrCrossSite, err))
		return
	}
	s, _, err := h.load(r)
	if err != nil && !errors.Is(err, ErrNoSession) {
		// The store is down: the session cannot be ended, so say so rather
		// than pretend the user is signed out.
		h.cfg.OnError(w, r, err)
		return
	}
	hint := ""
	if s != nil {
		if err := h.store.Delete(r.Context(), s); err != nil {
			h.cfg.OnError(w, r, fmt.Errorf("%w: %w", ErrStoreUnavailable, err))
			return
		}
		if h.cfg.RevokeOnLogout && s.Token != nil {
			if err := h.cfg.Client.Revoke(r.Context(), s.Token); err != nil {
				h.log.Warn("nihttp: revoking the ended session's tokens", "err", err)
			}
		}
		if s.Token != nil && len(s.Token.RawIDToken) <= maxIDTokenHint {
			hint = s.Token.RawIDToken
		}
	}
	h.clearSessionCookies(w, r)
	// LogoutURL waits for discovery without a context: try it with the
	// request's; while the provider is unavailable the URL falls back to
	// ISSUER/endsession.
	_ = h.cfg.Client.Discover(r.Context())
	state := ""
	if h.cfg.PostLogoutRedirectURL != "" {
		// The provider echoes state to PostLogoutRedirectURL; the cookie
		// lets LogoutReturn tell its answer from a forged link.
		state = rand.Text()
		http.SetCookie(w, h.cookie(h.logoutCookieName(), state, h.cfg.LoginTTL))
	}
	if h.cfg.OnLogout != nil {
		h.cfg.OnLogout(w, r, s)
	}
	http.Redirect(w, r, h.cfg.Client.LogoutURL(nextidentity.LogoutRequest{
		PostLogoutRedirectURL: h.cfg.PostLogoutRedirectURL,
		State:                 state,
		IDTokenHint:           hint,
	}), http.StatusSeeOther)
}

// logoutCookieName is the cookie holding the state of the logout in
// flight (not under the login cookies' "_" prefix, which pruning owns).
func (h *Handlers) logoutCookieName() string {
	return h.cookieName(h.cfg.LoginCookieName + "-logout")
}

// LogoutReturn wraps the page mounted at Config.PostLogoutRedirectURL. It
// serves next only when the request's "state" is the one Logout sent to
// the provider from this browser, within Config.LoginTTL; the state's
// cookie is deleted either way, so it serves once per logout. Otherwise it
// calls OnError with ErrLogoutState (400 with DefaultOnError): the request
// is not the provider's answer to this browser's logout, for example a
// link another site made to the page.
//
//	mux.Handle("GET /signed-out", h.LogoutReturn(signedOutPage))
func (h *Handlers) LogoutReturn(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		name := h.logoutCookieName()
		got := r.URL.Query()["state"]
		ok := false
		for _, c := range r.Cookies() {
			if c.Name == name && c.Value != "" && len(got) == 1 &&
				subtle.ConstantTimeCompare([]byte(c.Value), []byte(got[0])) == 1 {
				ok = true
			}
		}
		http.SetCookie(w, h.cookie(name, "", -1))
		if !ok {
			h.cfg.OnError(w, r, ErrLogoutState)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireLogin serves next only with a live session, which next reads with
// SessionFrom(r.Context()); expired tokens are refreshed first. Without a
// session a GET or HEAD is redirected to LoginPath with return_to set to
// the request's path and query, and any other method gets 401. When the
// session store cannot answer, the response is 503 (via OnError): the user
// is never treated as signed out because a store is down. Sensitive routes
// that need a recent sign-in use RequireRecentLogin.
func (h *Handlers) RequireLogin(next http.Handler) http.Handler {
	return h.requireSession(next, nil)
}

// maxIDTokenHint is the longest ID token Logout sends as id_token_hint: a
// longer one (large custom claims) would make a logout URL past what
// servers and proxies accept, and Next Identity's end-session endpoint
// needs only client_id.
const maxIDTokenHint = 4096

// redirectLocal redirects to a path localPath accepted (and so cleaned)
// as it is: http.Redirect would clean it again, fragment included.
func redirectLocal(w http.ResponseWriter, target string) {
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

type sessionKey struct{}

func withSession(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFrom returns the session RequireLogin put in ctx, or nil outside
// RequireLogin.
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}
