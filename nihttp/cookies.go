package nihttp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cookie limits. Browsers keep cookies of up to about 4096 bytes, name and
// attributes included.
const (
	// MaxSessionCookies is how many cookies the default cookie store may
	// split one session across. A larger session fails the callback with
	// ErrSessionTooLarge.
	MaxSessionCookies = 3
	// cookieChunk is the most value bytes one cookie carries.
	cookieChunk = 3800
	// maxLoginCookies bounds the sign-ins one browser can have in flight
	// (one cookie each): starting another drops the oldest.
	maxLoginCookies = 4
	// maxCandidates bounds how many cookie values (or combinations of
	// chunks) one request makes the handlers try.
	maxCandidates = 8
)

// cookieName is base with the "__Host-" prefix when cookies are Secure: the
// browser then accepts the cookie only from this host, with Path=/ and no
// Domain, so a sibling subdomain cannot plant or overwrite it.
func (h *Handlers) cookieName(base string) string {
	if h.cfg.InsecureCookie {
		return base
	}
	return "__Host-" + base
}

func (h *Handlers) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	age := int(maxAge / time.Second)
	if maxAge < 0 {
		age = -1
	} else if age == 0 {
		age = 1
	}
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   age,
		HttpOnly: true,
		Secure:   !h.cfg.InsecureCookie,
		SameSite: http.SameSiteLaxMode,
	}
}

// cookieValues returns every value the request sends for name, in order:
// a cookie planted with the same name and a narrower Path comes first, so
// callers try each one rather than trusting the first.
func cookieValues(r *http.Request, name string) []string {
	var vs []string
	for _, c := range r.CookiesNamed(name) {
		if c.Value != "" && len(vs) < maxCandidates {
			vs = append(vs, c.Value)
		}
	}
	return vs
}

// chunkName is the name of the i-th cookie of a value split across several.
func chunkName(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "." + strconv.Itoa(i)
}

// setChunked writes value as cookie name, split across numbered cookies
// when it is longer than one cookie holds, and deletes the request's
// leftover chunks of an earlier, longer value.
func (h *Handlers) setChunked(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	n := 0
	for ; len(value) > 0; n++ {
		part := value[:min(len(value), cookieChunk)]
		value = value[len(part):]
		http.SetCookie(w, h.cookie(chunkName(name, n), part, maxAge))
	}
	h.clearChunks(w, r, name, n)
}

// clearSessionCookies deletes the request's session cookies (every chunk).
func (h *Handlers) clearSessionCookies(w http.ResponseWriter, r *http.Request) {
	h.clearChunks(w, r, h.sessionCookie, 0)
}

// clearChunks deletes the request's chunks of name from the from-th on.
func (h *Handlers) clearChunks(w http.ResponseWriter, r *http.Request, name string, from int) {
	for i := from; i < MaxSessionCookies; i++ {
		if len(r.CookiesNamed(chunkName(name, i))) > 0 {
			http.SetCookie(w, h.cookie(chunkName(name, i), "", -1))
		}
	}
}

// chunkedValues returns the values the request's chunks of name can
// assemble: each combination of the values sent for each chunk, in order,
// longest first, at most maxCandidates of them, and then every value of
// the first cookie on its own, so that planted ".1" or ".2" cookies cannot
// crowd out a one-cookie session.
func chunkedValues(r *http.Request, name string) []string {
	first := cookieValues(r, name)
	levels := [][]string{first}
	for i := 1; i < MaxSessionCookies; i++ {
		parts := cookieValues(r, chunkName(name, i))
		if len(parts) == 0 {
			break
		}
		var next []string
		for _, prefix := range levels[len(levels)-1] {
			for _, p := range parts {
				if len(next) < maxCandidates {
					next = append(next, prefix+p)
				}
			}
		}
		levels = append(levels, next)
	}
	var out []string
	for i := len(levels) - 1; i >= 1 && len(out) < maxCandidates; i-- {
		out = append(out, levels[i][:min(len(levels[i]), maxCandidates-len(out))]...)
	}
	return append(out, first...)
}

// loginCookieName is the login-state cookie of the sign-in with this state,
// so that every sign-in a browser has in flight (two tabs) has its own.
func (h *Handlers) loginCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return h.cookieName(h.cfg.LoginCookieName) + "_" + base64.RawURLEncoding.EncodeToString(sum[:9])
}

// pruneLoginCookies deletes the request's login-state cookies that are no
// longer usable and, when maxLoginCookies-1 or more remain, the ones that
// expire first, to make room for one more.
func (h *Handlers) pruneLoginCookies(w http.ResponseWriter, r *http.Request) {
	prefix := h.cookieName(h.cfg.LoginCookieName) + "_"
	type live struct {
		name    string
		expires time.Time
	}
	var alive []live
	for _, c := range r.Cookies() {
		if !strings.HasPrefix(c.Name, prefix) {
			continue
		}
		var st loginState
		if h.sealer.open(c.Name, c.Value, cookieChunk, &st) != nil {
			http.SetCookie(w, h.cookie(c.Name, "", -1))
			continue
		}
		alive = append(alive, live{c.Name, st.Expires})
	}
	slices.SortFunc(alive, func(a, b live) int { return a.expires.Compare(b.expires) })
	for len(alive) >= maxLoginCookies {
		http.SetCookie(w, h.cookie(alive[0].name, "", -1))
		alive = alive[1:]
	}
}

// signInDone is the last finished sign-in of a browser: its state, hashed,
// and where it went. A replay of its callback then goes there too.
type signInDone struct {
	State    string `json:"s"` // base64url SHA-256 of the state
	ReturnTo string `json:"r"`
}

// doneCookieName names the signInDone cookie: one per browser, not under
// the "_" prefix of the login states, so it is never taken for one.
func (h *Handlers) doneCookieName() string {
	return h.cookieName(h.cfg.LoginCookieName + "-done")
}

func stateHash(state string) string {
	sum := sha256.Sum256([]byte(state))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// rememberSignIn records a finished sign-in for LoginTTL (a failure to
// seal only loses the nicety of a replay's destination).
func (h *Handlers) rememberSignIn(w http.ResponseWriter, st *loginState, returnTo string) {
	name := h.doneCookieName()
	sealed, err := h.sealer.seal(name, signInDone{State: stateHash(st.State), ReturnTo: returnTo}, h.cfg.LoginTTL)
	if err != nil {
		return
	}
	http.SetCookie(w, h.cookie(name, sealed, h.cfg.LoginTTL))
}

// finishedSignIn is the return path of the finished sign-in whose callback
// r replays, if this browser finished it.
func (h *Handlers) finishedSignIn(r *http.Request) (string, bool) {
	state := r.URL.Query().Get("state")
	if state == "" {
		return "", false
	}
	name := h.doneCookieName()
	for _, v := range cookieValues(r, name) {
		var d signInDone
		if h.sealer.open(name, v, cookieChunk, &d) == nil &&
			subtle.ConstantTimeCompare([]byte(d.State), []byte(stateHash(state))) == 1 {
			return d.ReturnTo, true
		}
	}
	return "", false
}
