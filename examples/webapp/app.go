package main

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/nihttp"
)

//go:embed templates/*.html
var templateFS embed.FS

// sessionCookie is the app's own session cookie. It is not "ni_session": the
// embedded provider runs on the same host, and cookies ignore ports.
const sessionCookie = "webapp_session"

// sessionTTL bounds the app session; the provider's own session is 14 days.
const sessionTTL = 8 * time.Hour

// session is what the sealed session cookie holds: enough to show the
// profile (the ID token is re-verified on each view) and to log out. An
// expired access token shows as ErrUnauthorized from /userinfo, which sends
// the user to sign in again.
type session struct {
	RawIDToken  string `json:"i"`
	AccessToken string `json:"a"`
}

// demoUser is shown on the home page when the app runs its own provider.
type demoUser struct{ Email, Password string }

// app is the example web application.
type app struct {
	client *nextidentity.Client
	auth   *nihttp.Handlers
	sealer *nihttp.Sealer
	pages  map[string]*template.Template
	demo   *demoUser
	log    *slog.Logger
}

type appConfig struct {
	Client *nextidentity.Client
	// CookieKey seals the login and session cookies (nihttp.KeySize bytes).
	CookieKey []byte
	// BaseURL is the app's own URL, for the post-logout redirect.
	BaseURL string
	Demo    *demoUser
	Logger  *slog.Logger
}

func newApp(cfg appConfig) (*app, error) {
	sealer, err := nihttp.NewSealer(cfg.CookieKey)
	if err != nil {
		return nil, err
	}
	a := &app{client: cfg.Client, sealer: sealer, demo: cfg.Demo, log: cfg.Logger, pages: map[string]*template.Template{}}
	for _, page := range []string{"home", "profile", "message"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+page+".html")
		if err != nil {
			return nil, err
		}
		a.pages[page] = t
	}
	a.auth, err = nihttp.New(nihttp.Config{
		Client:                cfg.Client,
		Sealer:                sealer,
		PostLogoutRedirectURL: cfg.BaseURL + "/signed-out",
		OnLogin:               a.onLogin,
		OnLogout:              a.onLogout,
		OnError:               a.onAuthError,
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
	mux.HandleFunc("GET /profile", a.profile)
	mux.HandleFunc("GET /signed-out", a.signedOut)
	return mux
}

func (a *app) onLogin(w http.ResponseWriter, r *http.Request, tok *nextidentity.Token, returnTo string) {
	sealed, err := a.sealer.Seal(sessionCookie, session{
		RawIDToken: tok.RawIDToken, AccessToken: tok.AccessToken,
	}, sessionTTL)
	if err != nil {
		a.onAuthError(w, r, err)
		return
	}
	http.SetCookie(w, sessionCookieWith(sealed, int(sessionTTL/time.Second)))
	http.Redirect(w, r, returnTo, http.StatusFound)
}

func (a *app) onLogout(w http.ResponseWriter, r *http.Request) string {
	s, _ := a.session(r)
	http.SetCookie(w, sessionCookieWith("", -1))
	if s == nil {
		return ""
	}
	return s.RawIDToken
}

func (a *app) onAuthError(w http.ResponseWriter, r *http.Request, err error) {
	a.log.Warn("sign-in failed", "err", err)
	a.render(w, nihttp.StatusCode(err), "message", page{Title: "Sign-in failed", Message: nihttp.UserMessage(err)})
}

// session returns the signed-in session, or nil.
func (a *app) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, nil
	}
	var s session
	if err := a.sealer.Open(sessionCookie, c.Value, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func sessionCookieWith(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode,
	}
}

type page struct {
	Title    string
	Message  string
	SignedIn bool
	Demo     *demoUser
	Profile  *profileView
}

type profileView struct {
	nextidentity.Profile
	Subject  string
	AuthTime string
	Custom   []claim
}

type claim struct{ Name, Value string }

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s, _ := a.session(r)
	a.render(w, http.StatusOK, "home", page{Title: "Home", SignedIn: s != nil, Demo: a.demo})
}

func (a *app) signedOut(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, "message", page{Title: "Signed out", Message: "You are signed out."})
}

// profile shows the user from the verified ID token and /userinfo. A missing,
// invalid or expired session sends the browser to sign in again.
func (a *app) profile(w http.ResponseWriter, r *http.Request) {
	s, err := a.session(r)
	if s == nil {
		if err != nil {
			a.log.Info("dropping session cookie", "err", err)
			http.SetCookie(w, sessionCookieWith("", -1))
		}
		http.Redirect(w, r, "/login?return_to=%2Fprofile", http.StatusFound)
		return
	}
	view, err := a.loadProfile(r, s)
	if errors.Is(err, nextidentity.ErrTokenExpired) || errors.Is(err, nextidentity.ErrUnauthorized) {
		http.SetCookie(w, sessionCookieWith("", -1))
		http.Redirect(w, r, "/login?return_to=%2Fprofile", http.StatusFound)
		return
	}
	if err != nil {
		a.log.Warn("loading profile", "err", err)
		a.render(w, http.StatusBadGateway, "message", page{
			Title: "Profile unavailable", SignedIn: true,
			Message: "The identity provider did not answer. Please try again later.",
		})
		return
	}
	a.render(w, http.StatusOK, "profile", page{Title: "Profile", SignedIn: true, Profile: view})
}

// standardClaims are shown in the table's fixed rows or are protocol claims,
// so they are not repeated among the custom ones.
var standardClaims = []string{
	"sub", "name", "given_name", "family_name", "email", "email_verified", "phone_number",
	"phone_number_verified", "locale", "updated_at", "iss", "aud", "azp", "exp", "iat",
	"auth_time", "nonce", "at_hash", "acr", "amr", "sid", "jti",
}

func (a *app) loadProfile(r *http.Request, s *session) (*profileView, error) {
	idt, err := a.client.VerifyIDToken(r.Context(), s.RawIDToken, "")
	if err != nil {
		return nil, err
	}
	ui, err := a.client.UserInfo(r.Context(), &nextidentity.Token{AccessToken: s.AccessToken, IDToken: idt})
	if err != nil {
		return nil, err
	}
	// Userinfo is the fresher source; the ID token fills what it leaves out.
	view := &profileView{Profile: ui.Profile, Subject: ui.Subject}
	if view.Name == "" {
		view.Name = idt.Name
	}
	if view.Email == "" {
		view.Email, view.EmailVerified = idt.Email, idt.EmailVerified
	}
	if !idt.AuthTime.IsZero() {
		view.AuthTime = idt.AuthTime.UTC().Format("2006-01-02 15:04 MST")
	}
	custom := map[string]any{}
	if err := idt.Claims(&custom); err != nil {
		return nil, err
	}
	fromUserInfo := map[string]any{}
	if err := ui.Claims(&fromUserInfo); err != nil {
		return nil, err
	}
	maps.Copy(custom, fromUserInfo)
	for _, name := range slices.Sorted(maps.Keys(custom)) {
		if !slices.Contains(standardClaims, name) {
			view.Custom = append(view.Custom, claim{Name: name, Value: fmt.Sprint(custom[name])})
		}
	}
	return view, nil
}

func (a *app) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	if err := a.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		a.log.Error("rendering page", "page", name, "err", err)
	}
}
