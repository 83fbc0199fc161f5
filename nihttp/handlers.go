// Package nihttp adds Next Identity sign-in to net/http applications: a
// login handler that sends the browser to the provider, a callback handler
// that finishes the code flow, and a logout handler.
//
// The login handler keeps the authorization request (state, nonce, PKCE
// verifier and where to return) in a short-lived AES-256-GCM sealed cookie
// rather than in server memory, so any number of application instances can
// serve the callback without a shared store. The cookie is HttpOnly,
// Secure and SameSite=Lax, and is cleared by the callback whatever the
// outcome.
//
// Mounting the handlers:
//
//	h, err := nihttp.New(nihttp.Config{
//		Client: client,
//		Keys:   [][]byte{key}, // 32 random bytes, kept secret, shared by all instances
//		OnLogin: func(w http.ResponseWriter, r *http.Request, tok *nextidentity.Token, returnTo string) {
//			// start the application's own session, then:
//			http.Redirect(w, r, returnTo, http.StatusFound)
//		},
//		OnLogout: func(w http.ResponseWriter, r *http.Request) string {
//			// end the application's session; return its raw ID token, if any
//			return ""
//		},
//		PostLogoutRedirectURL: "https://app.example.com/signed-out",
//	})
//	mux.HandleFunc("GET /login", h.Login)
//	mux.HandleFunc("GET /callback", h.Callback)
//	mux.HandleFunc("POST /logout", h.Logout)
package nihttp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity"
)

// DefaultCookieName is the name of the login-state cookie.
const DefaultCookieName = "ni_login"

// DefaultLoginTTL is how long a started sign-in can be finished.
const DefaultLoginTTL = 10 * time.Minute

// ErrNoLoginState means the callback was reached without the login-state
// cookie: the sign-in was not started by this browser, the cookie expired
// and was dropped, or cookies are blocked.
var ErrNoLoginState = errors.New("nihttp: no sign-in in progress (login cookie missing)")

// Config configures the handlers.
type Config struct {
	// Client is the Next Identity client. Required.
	Client *nextidentity.Client
	// Keys seal the login-state cookie: each KeySize bytes, the first seals,
	// all open (see Sealer). Required, unless Sealer is set.
	Keys [][]byte
	// Sealer, when set, is used instead of Keys, so the application can share
	// one Sealer between these handlers and its own session cookie.
	Sealer *Sealer

	// CookieName is the login-state cookie's name; default DefaultCookieName.
	CookieName string
	// CookiePath scopes the cookie; default "/". It must cover the callback.
	CookiePath string
	// InsecureCookie drops the Secure attribute, for development over plain
	// HTTP on a host other than localhost. Browsers accept Secure cookies
	// from http://localhost and http://127.0.0.1, so the example needs no
	// such switch.
	InsecureCookie bool
	// LoginTTL is how long a started sign-in stays valid; default
	// DefaultLoginTTL.
	LoginTTL time.Duration

	// AuthOptions are added to every authorization request (for example
	// nextidentity.WithOfflineAccess()).
	AuthOptions []nextidentity.AuthOption
	// DefaultReturnTo is where OnLogin is told to send the user when the
	// login request named no valid return_to; default "/".
	DefaultReturnTo string
	// PostLogoutRedirectURL is where the provider returns the browser after
	// logout; it must be registered with the provider. Empty: none is sent.
	PostLogoutRedirectURL string

	// OnLogin receives the verified token after a successful callback and
	// must write the response: typically it starts the application's
	// session and redirects to returnTo, which is always a local path.
	// Required.
	OnLogin func(w http.ResponseWriter, r *http.Request, tok *nextidentity.Token, returnTo string)
	// OnError writes the response for a failed callback. Default: a short
	// plain-text page with the status from StatusCode.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
	// OnLogout ends the application's session and returns the raw ID token
	// of that session ("" if none), sent to the provider as id_token_hint.
	// Required.
	OnLogout func(w http.ResponseWriter, r *http.Request) (idTokenHint string)
}

// Handlers are the login, callback and logout handlers. Create them with New.
type Handlers struct {
	cfg    Config
	sealer *Sealer
}

// loginState is what the login cookie carries between login and callback.
type loginState struct {
	State        string `json:"s"`
	Nonce        string `json:"n"`
	CodeVerifier string `json:"v"`
	ReturnTo     string `json:"r,omitempty"`
}

// New checks cfg and returns the handlers.
func New(cfg Config) (*Handlers, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("nihttp: Config.Client is required")
	case cfg.OnLogin == nil:
		return nil, errors.New("nihttp: Config.OnLogin is required")
	case cfg.OnLogout == nil:
		return nil, errors.New("nihttp: Config.OnLogout is required")
	}
	s := cfg.Sealer
	if s == nil {
		var err error
		if s, err = NewSealer(cfg.Keys...); err != nil {
			return nil, fmt.Errorf("nihttp: Config.Keys: %w", err)
		}
	}
	if cfg.CookieName == "" {
		cfg.CookieName = DefaultCookieName
	}
	if cfg.CookiePath == "" {
		cfg.CookiePath = "/"
	}
	if cfg.LoginTTL <= 0 {
		cfg.LoginTTL = DefaultLoginTTL
	}
	if cfg.DefaultReturnTo == "" {
		cfg.DefaultReturnTo = "/"
	} else if !isLocalPath(cfg.DefaultReturnTo) {
		return nil, fmt.Errorf("nihttp: Config.DefaultReturnTo %q is not a local path", cfg.DefaultReturnTo)
	}
	if cfg.OnError == nil {
		cfg.OnError = DefaultOnError
	}
	return &Handlers{cfg: cfg, sealer: s}, nil
}

// Login starts a sign-in: it seals a fresh authorization request into the
// login cookie and redirects to the provider. A "return_to" query parameter
// that is a local path ("/orders?id=1") is where OnLogin will be told to go.
func (h *Handlers) Login(w http.ResponseWriter, r *http.Request) {
	ar, err := h.cfg.Client.AuthCodeURL(h.cfg.AuthOptions...)
	if err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	st := loginState{State: ar.State, Nonce: ar.Nonce, CodeVerifier: ar.CodeVerifier}
	if rt := r.URL.Query().Get("return_to"); isLocalPath(rt) {
		st.ReturnTo = rt
	}
	sealed, err := h.sealer.Seal(h.cfg.CookieName, st, h.cfg.LoginTTL)
	if err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	http.SetCookie(w, h.cookie(sealed, int(h.cfg.LoginTTL/time.Second)))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, ar.URL, http.StatusFound)
}

// Callback finishes a sign-in: it opens and clears the login cookie, checks
// the provider's response and exchanges the code (Client.Exchange), then
// hands the token to OnLogin. Every failure goes to OnError, with an error
// that wraps ErrNoLoginState, ErrTampered, ErrExpired or one of
// nextidentity's sentinels.
func (h *Handlers) Callback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	c, err := r.Cookie(h.cfg.CookieName)
	if err != nil || c.Value == "" {
		h.cfg.OnError(w, r, ErrNoLoginState)
		return
	}
	// One use only, whatever happens next.
	http.SetCookie(w, h.cookie("", -1))
	var st loginState
	if err := h.sealer.Open(h.cfg.CookieName, c.Value, &st); err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	tok, err := h.cfg.Client.Exchange(r.Context(), r.URL.Query(), &nextidentity.AuthRequest{
		State: st.State, Nonce: st.Nonce, CodeVerifier: st.CodeVerifier,
	})
	if err != nil {
		h.cfg.OnError(w, r, err)
		return
	}
	returnTo := st.ReturnTo
	if returnTo == "" {
		returnTo = h.cfg.DefaultReturnTo
	}
	h.cfg.OnLogin(w, r, tok, returnTo)
}

// Logout ends the application's session through OnLogout and redirects to
// the provider's logout endpoint. Mount it on POST so that another site
// cannot sign users out with a link or an image.
func (h *Handlers) Logout(w http.ResponseWriter, r *http.Request) {
	hint := h.cfg.OnLogout(w, r)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.cfg.Client.LogoutURL(nextidentity.LogoutRequest{
		PostLogoutRedirectURL: h.cfg.PostLogoutRedirectURL,
		IDTokenHint:           hint,
	}), http.StatusSeeOther)
}

// Sealer returns the handlers' Sealer, for the application's own cookies.
func (h *Handlers) Sealer() *Sealer { return h.sealer }

func (h *Handlers) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     h.cfg.CookieName,
		Value:    value,
		Path:     h.cfg.CookiePath,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   !h.cfg.InsecureCookie,
		SameSite: http.SameSiteLaxMode,
	}
}

// isLocalPath reports whether s is a path on this site: it starts with one
// "/" and names no scheme or host, so a redirect to it cannot leave the site
// ("//evil.example", "/\evil.example" and "https://..." are refused).
func isLocalPath(s string) bool {
	if s == "" || s[0] != '/' || len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	if strings.ContainsAny(s, "\r\n\t\x00") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

// StatusCode is the HTTP status DefaultOnError answers for err: 403 when the
// user or provider refused the sign-in, 400 for a callback this browser did
// not start or that does not match it, 502 when the provider failed or sent
// something the library rejected, 500 otherwise.
func StatusCode(err error) int {
	var pe *nextidentity.Error
	switch {
	case errors.Is(err, nextidentity.ErrAccessDenied), errors.Is(err, nextidentity.ErrLoginRequired):
		return http.StatusForbidden
	case errors.Is(err, ErrNoLoginState), errors.Is(err, ErrTampered), errors.Is(err, ErrExpired),
		errors.Is(err, nextidentity.ErrStateMismatch), errors.Is(err, nextidentity.ErrMissingCode),
		errors.Is(err, nextidentity.ErrIssuerMismatch) && !errors.Is(err, nextidentity.ErrInvalidIDToken):
		return http.StatusBadRequest
	case errors.As(err, &pe), errors.Is(err, nextidentity.ErrInvalidIDToken),
		errors.Is(err, nextidentity.ErrMalformedResponse), errors.Is(err, nextidentity.ErrResponseTooLarge):
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// UserMessage is a short sentence for the user about a failed sign-in,
// matching StatusCode(err). It reveals nothing about tokens or keys.
func UserMessage(err error) string {
	switch StatusCode(err) {
	case http.StatusForbidden:
		return "Sign-in was cancelled or refused."
	case http.StatusBadRequest:
		return "This sign-in link is invalid or has expired. Please sign in again."
	case http.StatusBadGateway:
		return "The identity provider could not complete the sign-in. Please try again."
	}
	return "Sign-in failed. Please try again."
}

// DefaultOnError answers a failed callback with StatusCode(err) and
// UserMessage(err) as plain text.
func DefaultOnError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(StatusCode(err))
	fmt.Fprintln(w, UserMessage(err))
}
