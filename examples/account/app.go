package main

import (
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/account"
	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

//go:embed templates/*.html
var templateFS embed.FS

// Cookie names; "__Host-" keeps sibling subdomains from planting them.
const (
	sessionCookie = "__Host-own_session"
	pendingCookie = "__Host-own_pending"
)

// Lifetimes of a session and of a sign-in waiting for the terms.
const (
	sessionTTL = 8 * time.Hour
	pendingTTL = 10 * time.Minute
)

// demoUser is shown on the home page when the app runs its own provider.
type demoUser struct{ Email, Password string }

// session is a signed-in user: the tokens the API sign-in ended with.
type session struct {
	email   string
	token   *nextidentity.Token
	expires time.Time
}

// pending is a sign-in that waits for the user to accept the terms: the
// single-use code, kept on the server, never in a cookie or a page.
type pending struct {
	result  *account.LoginResult
	expires time.Time
}

// app is the example: its own sign-up, sign-in, verification, terms and
// password screens over package account. Sessions are in this process's
// memory, which is enough for one instance of an example.
type app struct {
	ac     *account.Client
	pages  map[string]*template.Template
	demo   *demoUser
	outbox func() []nextidentitytest.Message // the embedded provider's; nil with a real tenant
	log    *slog.Logger
	csrf   *http.CrossOriginProtection
	now    func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
	pending  map[string]*pending
}

type appConfig struct {
	Account *account.Client
	Demo    *demoUser
	Outbox  func() []nextidentitytest.Message
	Logger  *slog.Logger
	Now     func() time.Time // nil: time.Now
}

func newApp(cfg appConfig) (*app, error) {
	a := &app{
		ac: cfg.Account, demo: cfg.Demo, outbox: cfg.Outbox, log: cfg.Logger, now: cfg.Now,
		pages: map[string]*template.Template{}, csrf: http.NewCrossOriginProtection(),
		sessions: map[string]*session{}, pending: map[string]*pending{},
	}
	if a.now == nil {
		a.now = time.Now
	}
	for _, name := range []string{"home", "signin", "signup", "verify", "terms", "forgot", "reset", "message", "outbox"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		a.pages[name] = t
	}
	return a, nil
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /signin", a.show("signin", "Sign in"))
	mux.HandleFunc("POST /signin", a.signIn)
	mux.HandleFunc("GET /signup", a.show("signup", "Create an account"))
	mux.HandleFunc("POST /signup", a.signUp)
	mux.HandleFunc("GET /verify", a.show("verify", "Verify your email"))
	mux.HandleFunc("POST /verify", a.verify)
	mux.HandleFunc("POST /verify/resend", a.resend)
	mux.HandleFunc("GET /terms", a.terms)
	mux.HandleFunc("POST /terms", a.acceptTerms)
	mux.HandleFunc("GET /forgot", a.show("forgot", "Forgot your password"))
	mux.HandleFunc("POST /forgot", a.forgot)
	mux.HandleFunc("GET /reset", a.show("reset", "Set a new password"))
	mux.HandleFunc("POST /reset", a.reset)
	mux.HandleFunc("POST /signout", a.signOut)
	if a.outbox != nil {
		mux.HandleFunc("GET /outbox", a.showOutbox)
	}
	return a.secure(mux)
}

// secure sets the headers every answer carries and refuses cross-site
// form posts before they reach a handler.
func (a *app) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		if err := a.csrf.Check(r); err != nil {
			a.render(w, r, http.StatusForbidden, "message", page{Title: "Request refused", Message: "This request came from another site and was refused."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// page is what a template shows.
type page struct {
	Title, Message, Notice, Error string
	Email                         string            // the signed-in user's
	Form                          map[string]string // values to show again (never a password or code)
	Unverified                    bool
	Demo                          *demoUser
	Outbox                        []nextidentitytest.Message
}

// notices are the confirmations a redirect asks for with ?done=.
var notices = map[string]string{
	"registered": "Account created. Enter the code we sent to your email.",
	"verified":   "Your email is verified. You can sign in now.",
	"resent":     "A new code is on its way.",
	"sent":       "If that email has an account, a code to set a new password is on its way.",
	"reset":      "Your password is changed. Sign in with the new one.",
	"signedout":  "You are signed out, here and at the provider.",
	"declined":   "You did not accept the terms, so you are not signed in.",
}

func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if s := a.session(r); s != nil {
		p.Email = s.email
	}
	if p.Notice == "" {
		p.Notice = notices[r.URL.Query().Get("done")]
	}
	if p.Form == nil {
		p.Form = map[string]string{"email": r.FormValue("email")}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := a.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		a.log.Error("rendering page", "page", name, "err", err)
	}
}

func (a *app) show(name, title string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusOK, name, page{Title: title})
	}
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "home", page{Title: "Home", Demo: a.demo})
}

func (a *app) showOutbox(w http.ResponseWriter, r *http.Request) {
	msgs := a.outbox()
	slices.Reverse(msgs)
	a.render(w, r, http.StatusOK, "outbox", page{Title: "Outbox", Outbox: msgs})
}

// redirect sends the browser to path with a ?done= notice, and email
// (never a secret) to fill the next form.
func redirect(w http.ResponseWriter, r *http.Request, path, done, email string) {
	q := url.Values{"done": {done}}
	if email != "" {
		q.Set("email", email)
	}
	http.Redirect(w, r, path+"?"+q.Encode(), http.StatusSeeOther)
}

func (a *app) signUp(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	form := map[string]string{"email": email, "first_name": r.PostFormValue("first_name")}
	if r.PostFormValue("password") != r.PostFormValue("confirm") {
		a.render(w, r, http.StatusUnprocessableEntity, "signup", page{Title: "Create an account", Form: form, Error: "The two passwords differ."})
		return
	}
	reg := account.Registration{AuthType: account.Email, UserID: email, Password: r.PostFormValue("password")}
	if name := strings.TrimSpace(form["first_name"]); name != "" {
		reg.Profile = map[string]any{"firstName": name}
	}
	// An existing address gets the same answer (and its owner an email):
	// the screens never tell who has an account.
	if _, err := a.ac.Register(r.Context(), reg); err != nil {
		a.render(w, r, statusOf(err), "signup", page{Title: "Create an account", Form: form, Error: a.explain("register", err)})
		return
	}
	redirect(w, r, "/verify", "registered", email)
}

func (a *app) verify(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	if err := a.ac.Verify(r.Context(), account.Email, email, strings.TrimSpace(r.PostFormValue("pin"))); err != nil {
		a.render(w, r, statusOf(err), "verify", page{Title: "Verify your email", Error: a.explain("verify", err)})
		return
	}
	redirect(w, r, "/signin", "verified", email)
}

func (a *app) resend(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	if err := a.ac.ResendVerification(r.Context(), account.Email, email); err != nil {
		a.render(w, r, statusOf(err), "verify", page{Title: "Verify your email", Error: a.explain("resend", err)})
		return
	}
	redirect(w, r, "/verify", "resent", email)
}

func (a *app) signIn(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	res, err := a.ac.Login(r.Context(), account.Credentials{AuthType: account.Email, UserID: email, Password: r.PostFormValue("password")})
	if err != nil {
		a.render(w, r, statusOf(err), "signin", page{Title: "Sign in", Form: map[string]string{"email": email},
			Error: a.explain("sign-in", err), Unverified: errors.Is(err, account.ErrUnverifiedUser)})
		return
	}
	if res.LegalAcceptanceRequired {
		// The code waits on the server while the user reads the terms.
		id := rand.Text()
		a.mu.Lock()
		a.pending[id] = &pending{result: res, expires: a.now().Add(pendingTTL)}
		a.mu.Unlock()
		http.SetCookie(w, cookie(pendingCookie, id, pendingTTL))
		http.Redirect(w, r, "/terms", http.StatusSeeOther)
		return
	}
	a.finishSignIn(w, r, res)
}

// finishSignIn redeems the sign-in's code and starts the session.
func (a *app) finishSignIn(w http.ResponseWriter, r *http.Request, res *account.LoginResult, opts ...account.ExchangeOption) {
	tok, err := a.ac.Exchange(r.Context(), res, opts...)
	if err != nil {
		a.render(w, r, statusOf(err), "signin", page{Title: "Sign in", Form: map[string]string{"email": res.UserID}, Error: a.explain("sign-in", err)})
		return
	}
	id := rand.Text()
	a.mu.Lock()
	a.sessions[id] = &session{email: res.UserID, token: tok, expires: a.now().Add(sessionTTL)}
	a.mu.Unlock()
	http.SetCookie(w, cookie(sessionCookie, id, sessionTTL))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) takePending(w http.ResponseWriter, r *http.Request) *pending {
	c, err := r.Cookie(pendingCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, cookie(pendingCookie, "", -1))
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending[c.Value]
	delete(a.pending, c.Value)
	if p == nil || a.now().After(p.expires) {
		return nil
	}
	return p
}

func (a *app) terms(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(pendingCookie)
	a.mu.Lock()
	ok := err == nil && a.pending[c.Value] != nil
	a.mu.Unlock()
	if !ok {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	a.render(w, r, http.StatusOK, "terms", page{Title: "Terms of use"})
}

func (a *app) acceptTerms(w http.ResponseWriter, r *http.Request) {
	p := a.takePending(w, r)
	if p == nil {
		a.render(w, r, http.StatusBadRequest, "signin", page{Title: "Sign in", Error: "That sign-in expired. Please sign in again."})
		return
	}
	if r.PostFormValue("accept") != "yes" {
		redirect(w, r, "/", "declined", "")
		return
	}
	// The provider records the acceptance with the tokens.
	a.finishSignIn(w, r, p.result, account.WithLegalAcceptance())
}

func (a *app) forgot(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	// The same answer for every address: no account enumeration.
	if err := a.ac.ForgotPassword(r.Context(), account.Email, email); err != nil {
		a.render(w, r, statusOf(err), "forgot", page{Title: "Forgot your password", Error: a.explain("forgot-password", err)})
		return
	}
	redirect(w, r, "/reset", "sent", email)
}

// reset redeems the forgot-password PIN for a token that may change the
// password, then changes it.
func (a *app) reset(w http.ResponseWriter, r *http.Request) {
	email := r.PostFormValue("email")
	fail := func(err error) {
		a.render(w, r, statusOf(err), "reset", page{Title: "Set a new password", Error: a.explain("reset", err)})
	}
	if r.PostFormValue("password") != r.PostFormValue("confirm") {
		a.render(w, r, http.StatusUnprocessableEntity, "reset", page{Title: "Set a new password", Error: "The two passwords differ."})
		return
	}
	tok, err := a.ac.ExchangePIN(r.Context(), account.Email, email, strings.TrimSpace(r.PostFormValue("pin")))
	if err != nil {
		fail(err)
		return
	}
	if err := a.ac.ChangePassword(r.Context(), tok, r.PostFormValue("password")); err != nil {
		fail(err)
		return
	}
	redirect(w, r, "/signin", "reset", email)
}

func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	http.SetCookie(w, cookie(sessionCookie, "", -1))
	if s != nil {
		if c, err := r.Cookie(sessionCookie); err == nil {
			a.mu.Lock()
			delete(a.sessions, c.Value)
			a.mu.Unlock()
		}
		// Revokes the tokens at the provider; the local session is gone
		// whatever it answers.
		if err := a.ac.Logout(r.Context(), s.token, account.Email, s.email); err != nil {
			a.log.Warn("provider logout", "err", err)
		}
	}
	redirect(w, r, "/", "signedout", "")
}

// session is the request's signed-in user, or nil.
func (a *app) session(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[c.Value]
	if s != nil && a.now().After(s.expires) {
		delete(a.sessions, c.Value)
		return nil
	}
	return s
}

func cookie(name, value string, ttl time.Duration) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode}
}

// statusOf is the HTTP status for a refused call.
func statusOf(err error) int {
	switch {
	case errors.Is(err, account.ErrRateLimited):
		return http.StatusTooManyRequests
	case errors.Is(err, account.ErrInvalidCredentials), errors.Is(err, account.ErrUnverifiedUser),
		errors.Is(err, account.ErrInvalidInput), errors.Is(err, nextidentity.ErrInvalidGrant):
		return http.StatusUnprocessableEntity
	}
	return http.StatusBadGateway
}

// explain turns a refused call into what the user reads. The error itself
// goes to the log, which never holds a password, PIN or code: package
// account keeps them out of its errors.
func (a *app) explain(op string, err error) string {
	var ae *account.Error
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		return "The email or password is wrong."
	case errors.Is(err, account.ErrUnverifiedUser):
		return "Verify your email first: enter the code we sent you."
	case errors.Is(err, account.ErrRateLimited):
		wait := "a few minutes"
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			wait = fmt.Sprintf("%d minutes", int(ae.RetryAfter.Round(time.Minute)/time.Minute)+1)
		}
		return "Too many attempts: try again in " + wait + "."
	case errors.Is(err, nextidentity.ErrInvalidGrant):
		return "That code is wrong or has expired."
	case errors.Is(err, account.ErrInvalidInput) && errors.As(err, &ae) && len(ae.Fields) > 0:
		var msgs []string
		for _, f := range slices.Sorted(maps.Keys(ae.Fields)) {
			msgs = append(msgs, strings.Join(ae.Fields[f], " "))
		}
		return strings.Join(msgs, " ")
	}
	a.log.Warn(op+" failed", "err", err)
	return "Something went wrong on our side. Please try again."
}
