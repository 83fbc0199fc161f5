package main

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

//go:embed templates/*.html
var templateFS embed.FS

// demoUser is shown on the home page when the app runs its own provider.
type demoUser struct{ Email, Password string }

// app is the example web application. Sessions are nihttp's: the app
// itself keeps no session state.
type app struct {
	client *nextidentity.Client
	auth   *nihttp.Handlers
	pages  map[string]*template.Template
	demo   *demoUser
	log    *slog.Logger
	csrf   *http.CrossOriginProtection
	csp    string
	extra  map[string]http.Handler // more routes, by mux pattern
	// backChannel: sessions are on the server, so the provider's
	// back-channel logout requests can end them.
	backChannel bool
}

type appConfig struct {
	Client *nextidentity.Client
	// CookieKey seals the login and session cookies (nihttp.KeySize bytes).
	CookieKey []byte
	// Store keeps sessions; nil means nihttp's sealed-cookie store.
	Store nihttp.SessionStore
	// BaseURL is the app's own URL, for the post-logout redirect.
	BaseURL string
	Demo    *demoUser
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Routes are extra handlers to mount, by mux pattern.
	Routes map[string]http.Handler
}

func newApp(cfg appConfig) (*app, error) {
	a := &app{
		client: cfg.Client, demo: cfg.Demo, log: cfg.Logger, pages: map[string]*template.Template{},
		csrf: http.NewCrossOriginProtection(), extra: cfg.Routes,
	}
	// Forms post to the app, and logout's redirect continues to the
	// provider's end-session endpoint, which form-action must allow.
	provider := "'self'"
	if u, err := url.Parse(cfg.Client.LogoutURL(nextidentity.LogoutRequest{})); err == nil && u.Host != "" {
		provider = u.Scheme + "://" + u.Host
	}
	a.csp = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' " + provider +
		"; frame-ancestors 'none'; base-uri 'none'"
	for _, page := range []string{"home", "profile", "message"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		a.pages[page] = t
	}
	_, a.backChannel = cfg.Store.(nihttp.ServerStore)
	var err error
	a.auth, err = nihttp.New(nihttp.Config{
		Client:                cfg.Client,
		Keys:                  [][]byte{cfg.CookieKey},
		Store:                 cfg.Store,
		Now:                   cfg.Now,
		PostLogoutRedirectURL: cfg.BaseURL + "/signed-out",
		// A refresh token lets sessions outlive the access token.
		AuthOptions:       []nextidentity.AuthOption{nextidentity.WithOfflineAccess()},
		OnError:           a.onAuthError,
		Logger:            cfg.Logger,
		BackChannelLogout: a.backChannel,
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.auth.Login)
	mux.HandleFunc("GET /callback", a.auth.Callback)
	mux.HandleFunc("POST /logout", a.auth.Logout)
	mux.Handle("GET /profile", a.auth.RequireLogin(http.HandlerFunc(a.profile)))
	mux.Handle("POST /refresh", a.auth.RequireLogin(http.HandlerFunc(a.refresh)))
	mux.HandleFunc("GET /signed-out", a.signedOut)
	if a.backChannel {
		mux.HandleFunc("POST /backchannel-logout", a.auth.BackChannelLogout)
	}
	for pattern, h := range a.extra {
		mux.Handle(pattern, h)
	}
	return a.secure(a.styledErrors(mux))
}

// secure sets the headers every response of the app carries, and refuses
// cross-site POSTs (logout, refresh) before they reach a handler.
func (a *app) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", a.csp)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		if err := a.csrf.Check(r); err != nil {
			a.render(w, http.StatusForbidden, "message", page{Title: "Request refused",
				Message: "This request came from another site and was refused.", Retry: "/"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// styledErrors answers the requests the mux has no route for (404, 405)
// with the app's own page instead of net/http's plain text.
func (a *app) styledErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder() // only the status and Allow of the mux's own error
		h.ServeHTTP(rec, r)
		if allow := rec.Header().Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		switch rec.Code {
		case http.StatusMethodNotAllowed:
			a.render(w, rec.Code, "message", page{Title: "Not allowed", Message: "This page does not take that kind of request."})
		case http.StatusNotFound:
			a.render(w, rec.Code, "message", page{Title: "Page not found", Message: "There is no page at this address."})
		default: // a redirect the mux makes to a cleaned path
			mux.ServeHTTP(w, r)
		}
	})
}

func (a *app) onAuthError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Warn("sign-in or session error", "err", err)
	title := "Sign-in failed"
	if errors.Is(err, nihttp.ErrStoreUnavailable) {
		title = "Service unavailable"
	}
	a.render(w, nihttp.StatusCode(err), "message", page{Title: title, Message: nihttp.UserMessage(err), Retry: "/login?return_to=%2Fprofile"})
}

type page struct {
	Title    string
	Message  string
	Retry    string // a "Try again" link, when set
	SignIn   bool   // offer a "Sign in" button (the signed-out page)
	Notice   string // a confirmation shown above the page's content
	SignedIn bool
	Demo     *demoUser
	Profile  *profileView
}

type profileView struct {
	nextidentity.Profile
	Subject       string
	AuthTime      string
	AccessExpires string
	Custom        []claim
	IDClaims      []claim
	UserInfoError string
}

type claim struct{ Name, Value string }

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s, err := a.auth.Session(w, r)
	if errors.Is(err, nihttp.ErrStoreUnavailable) {
		// Not "signed out": a sign-in now would not help.
		a.onAuthError(w, r, err)
		return
	}
	a.render(w, http.StatusOK, "home", page{Title: "Home", SignedIn: s != nil, Demo: a.demo})
}

func (a *app) signedOut(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, "message", page{Title: "Signed out", Message: "You are signed out.", SignIn: true})
}

// refresh is the profile's "Refresh now" action.
func (a *app) refresh(w http.ResponseWriter, r *http.Request) {
	if _, err := a.auth.Refresh(w, r); errors.Is(err, nihttp.ErrNoSession) {
		// The provider ended the grant, so the session ended: sign in again.
		http.Redirect(w, r, "/login?return_to=%2Fprofile", http.StatusSeeOther)
		return
	} else if err != nil {
		a.render(w, nihttp.StatusCode(err), "message", page{Title: "Refresh failed", SignedIn: true, Retry: "/profile",
			Message: "The tokens could not be refreshed; the session keeps its current ones. Please try again."})
		return
	}
	// The profile says that it worked (and shows the new expiry).
	http.Redirect(w, r, "/profile?refreshed=1", http.StatusSeeOther)
}

// profile shows the user from the session's verified ID token and from
// /userinfo. When /userinfo refuses the access token the page says so; it
// never sends the browser to sign in again by itself, which is how a
// revoked token turns into a redirect loop.
func (a *app) profile(w http.ResponseWriter, r *http.Request) {
	s := nihttp.SessionFrom(r.Context())
	view, err := a.loadProfile(r, s)
	if err != nil {
		a.log.Warn("loading profile", "err", err)
		a.render(w, http.StatusInternalServerError, "message", page{
			Title: "Profile unavailable", SignedIn: true, Retry: "/profile",
			Message: "The profile could not be shown. Please try again.",
		})
		return
	}
	p := page{Title: "Profile", SignedIn: true, Profile: view}
	if r.URL.Query().Get("refreshed") != "" {
		p.Notice = "Tokens refreshed: the session holds a new access token."
	}
	a.render(w, http.StatusOK, "profile", p)
}

// standardClaims are shown in the table's fixed rows or are protocol claims,
// so they are not repeated among the custom ones.
var standardClaims = []string{
	"sub", "name", "given_name", "family_name", "email", "email_verified", "phone_number",
	"phone_number_verified", "locale", "updated_at", "iss", "aud", "azp", "exp", "iat",
	"auth_time", "nonce", "at_hash", "acr", "amr", "sid", "jti",
}

func (a *app) loadProfile(r *http.Request, s *nihttp.Session) (*profileView, error) {
	idt := s.Token.IDToken
	view := &profileView{Profile: idt.Profile, Subject: idt.Subject}
	if !idt.AuthTime.IsZero() {
		view.AuthTime = idt.AuthTime.UTC().Format("2006-01-02 15:04 MST")
	}
	if !s.Token.Expiry.IsZero() {
		view.AccessExpires = s.Token.Expiry.UTC().Format("2006-01-02 15:04:05 MST")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(claims)) {
		view.IDClaims = append(view.IDClaims, claim{Name: name, Value: claimValue(name, claims[name])})
	}
	custom := maps.Clone(claims)
	ui, err := a.client.UserInfo(r.Context(), s.Token)
	switch {
	case errors.Is(err, nextidentity.ErrUnauthorized):
		view.UserInfoError = "The provider no longer accepts this session's access token. Refresh it, or sign out and in again."
	case err != nil:
		a.log.Warn("userinfo", "err", err)
		view.UserInfoError = "The identity provider did not answer; showing the ID token's claims only."
	default:
		// Userinfo is the fresher source; the ID token fills what it leaves out.
		view.Profile = ui.Profile
		if view.Name == "" {
			view.Name = idt.Name
		}
		if view.Email == "" {
			view.Email, view.EmailVerified = idt.Email, idt.EmailVerified
		}
		fromUserInfo := map[string]any{}
		if err := ui.Claims(&fromUserInfo); err != nil {
			return nil, err
		}
		maps.Copy(custom, fromUserInfo)
	}
	for _, name := range slices.Sorted(maps.Keys(custom)) {
		if !slices.Contains(standardClaims, name) {
			view.Custom = append(view.Custom, claim{Name: name, Value: claimValue(name, custom[name])})
		}
	}
	return view, nil
}

// timeClaims hold seconds since 1970 (OpenID Connect's NumericDate).
var timeClaims = []string{"exp", "iat", "nbf", "auth_time", "updated_at"}

// claimValue shows a claim as a person reads it: a NumericDate as a date,
// other numbers without an exponent, objects and lists as JSON.
func claimValue(name string, v any) string {
	switch v := v.(type) {
	case float64:
		if slices.Contains(timeClaims, name) && v == math.Trunc(v) {
			return time.Unix(int64(v), 0).UTC().Format("2006-01-02 15:04:05 MST")
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	case nil:
		return "null"
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

func (a *app) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := a.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		a.log.Error("rendering page", "page", name, "err", err)
	}
}
