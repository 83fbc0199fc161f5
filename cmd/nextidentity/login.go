package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oidc-kit/nextidentity"
)

const loginHelp = `Signs in from the terminal with the authorization code flow: it listens on
the redirect URL's loopback port, opens the browser at the provider's
sign-in page (or prints the URL with -no-browser), redeems the code when the
browser comes back, verifies the ID token with the library, calls /userinfo,
and prints the ID token's claims and the userinfo response. Tokens are
masked unless -show-tokens. It first checks, as doctor does, that the
provider accepts the redirect URL, and says what to register if not. The
browser's page says which account signed in.

The redirect URL must be a loopback http URL with an explicit port, for
example http://127.0.0.1:8765/callback, registered with the tenant for this
client.`

// defaultLoginWait bounds the wait for the browser to come back.
const defaultLoginWait = 5 * time.Minute

// loginReport is the -json output of login.
type loginReport struct {
	Subject       string          `json:"sub"`
	IDTokenClaims json.RawMessage `json:"id_token_claims"`
	UserInfo      json.RawMessage `json:"userinfo,omitempty"`
	UserInfoError string          `json:"userinfo_error,omitempty"`
	Tokens        loginTokens     `json:"tokens"`
	// Warnings are problems that did not stop the sign-in (also printed on
	// stderr).
	Warnings []string `json:"warnings,omitempty"`
}

// loginTokens are the tokens, masked unless -show-tokens.
type loginTokens struct {
	Masked       bool      `json:"masked"`
	TokenType    string    `json:"token_type,omitempty"`
	AccessToken  string    `json:"access_token"`
	IDToken      string    `json:"id_token"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scope        string    `json:"scope,omitempty"`
}

func (c *cli) login(ctx context.Context, args []string) int {
	fs := c.newFlagSet("login", "-issuer URL -client-id ID [-client-secret S] -redirect-url http://127.0.0.1:PORT/callback [-no-browser] [-show-tokens] [-json]", loginHelp)
	t := tenantFlags(fs, true, "loopback callback URL registered for the client, e.g. http://127.0.0.1:8765/callback")
	noBrowser := fs.Bool("no-browser", false, "print the sign-in URL instead of opening the browser")
	showTokens := fs.Bool("show-tokens", false, "print the tokens in full (they are secrets)")
	scopes := fs.String("scopes", "openid profile email", "space-separated scopes to request")
	offline := fs.Bool("offline", false, "ask for a refresh token (access_type=offline, and the offline_access scope when discovery lists it)")
	authStyle := authStyleFlag(fs)
	wait := fs.Duration("wait", defaultLoginWait, "how long to wait for the browser to come back")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if ok, code := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return c.usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	t.fill(c.env)
	if err := t.require(); err != nil {
		return c.usageError(fs, "%v", err)
	}
	if *wait <= 0 {
		return c.usageError(fs, "-wait must be positive")
	}
	style, err := parseAuthStyle(*authStyle)
	if err != nil {
		return c.usageError(fs, "%v", err)
	}
	redirect, err := loopbackRedirect(t.redirectURL)
	if err != nil {
		return c.usageError(fs, "%v", err)
	}

	client, err := nextidentity.New(ctx, nextidentity.Config{
		Issuer:       t.issuer,
		ClientID:     t.clientID,
		ClientSecret: t.clientSecret,
		RedirectURL:  t.redirectURL,
		Scopes:       strings.Fields(*scopes),
		AuthStyle:    style,
		HTTPClient:   &http.Client{Timeout: t.timeout},
		Now:          c.now,
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "%v\n(run \"nextidentity doctor\" with the same settings to find out why)\n", err)
		return exitFail
	}
	defer client.Close()
	var opts []nextidentity.AuthOption
	if *offline {
		opts = append(opts, nextidentity.WithOfflineAccess())
	}
	req, err := client.AuthCodeURL(opts...)
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return exitFail
	}

	// Ask the provider first, as doctor does: a redirect URL the tenant
	// does not know makes it show an error page in the browser, and the
	// command would wait for a redirect that never comes.
	check := (&doctorRun{cli: c, t: t}).checkRedirect(ctx, client)
	switch check.Status {
	case statusFail:
		fmt.Fprintf(c.stderr, "nextidentity: login: the provider will not sign in with this redirect URL: %s\n  fix: %s\n",
			printable(check.Detail), printable(check.Hint))
		return exitFail
	case statusWarn:
		fmt.Fprintf(c.stderr, "warning: %s\n", printable(check.Detail))
	}

	ln, err := c.listen("tcp", redirect.Host)
	if err != nil {
		fmt.Fprintf(c.stderr, "nextidentity: login: cannot listen on the redirect URL's address: %v\n", err)
		return exitFail
	}
	callbacks := make(chan callback, 1)
	srv := &http.Server{
		Handler:           callbackHandler(redirect.Path, req.State, callbacks),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at Shutdown
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // best effort: the process is done with it
	}()

	if *noBrowser {
		fmt.Fprintf(c.stderr, "Open this URL in a browser to sign in:\n\n  %s\n\n", req.URL)
	} else if err := c.openBrowser(ctx, req.URL); err != nil {
		fmt.Fprintf(c.stderr, "Could not open a browser (%v). Open this URL to sign in:\n\n  %s\n\n", err, req.URL)
	} else {
		fmt.Fprintf(c.stderr, "Opened the browser to sign in. If nothing happened, open:\n\n  %s\n\n", req.URL)
	}
	fmt.Fprintf(c.stderr, "Waiting for the provider to redirect to %s ...\n", t.redirectURL)

	var cb callback
	timer := time.NewTimer(*wait)
	defer timer.Stop()
	select {
	case cb = <-callbacks:
	case <-timer.C:
		fmt.Fprintf(c.stderr, "nextidentity: login: the browser did not come back to %s within %s\n", t.redirectURL, *wait)
		return exitFail
	case <-ctx.Done():
		fmt.Fprintln(c.stderr, "nextidentity: login: interrupted")
		return exitFail
	}

	tok, err := client.Exchange(ctx, cb.query, req)
	if err != nil {
		cb.done <- signInResult{Title: "Sign-in failed", Message: "The sign-in could not be completed. The terminal says why."}
		fmt.Fprintf(c.stderr, "nextidentity: login: sign-in failed: %v\n", err)
		return exitFail
	}
	cb.done <- signedInAs(tok)
	rep := loginReport{Subject: tok.IDToken.Subject, Tokens: tokensFor(tok, *showTokens), Warnings: loginWarnings(*offline, tok)}
	for _, w := range rep.Warnings {
		fmt.Fprintln(c.stderr, "nextidentity: login: warning: "+w)
	}
	var claims map[string]any
	if err := tok.IDToken.Claims(&claims); err == nil {
		rep.IDTokenClaims, _ = json.Marshal(claims)
	}
	code := exitOK
	info, err := client.UserInfo(ctx, tok)
	if err != nil {
		rep.UserInfoError = err.Error()
		code = exitFail
	} else {
		var m map[string]any
		if err := info.Claims(&m); err == nil {
			rep.UserInfo, _ = json.Marshal(m)
		}
	}
	if *asJSON {
		if err := c.writeJSON(rep); err != nil {
			fmt.Fprintln(c.stderr, err)
			return exitFail
		}
		return code
	}
	c.printLogin(rep, tok)
	return code
}

// loginWarnings are the warnings about a successful sign-in: an -offline
// sign-in that brought no refresh token.
func loginWarnings(offline bool, tok *nextidentity.Token) []string {
	if offline && tok.RefreshToken == "" {
		return []string{"-offline asked for a refresh token and the provider sent none: check that the client may use " +
			"refresh tokens, and run `nextidentity doctor` (a standard provider wants the offline_access scope, " +
			"which is sent only when discovery lists it)"}
	}
	return nil
}

// loopbackRedirect checks that raw is an http URL on a loopback host with
// an explicit port, which login can listen on.
func loopbackRedirect(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("-redirect-url (or $%s) is required, e.g. http://127.0.0.1:8765/callback", envRedirectURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-redirect-url: %w", err)
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if u.Scheme != "http" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		return nil, fmt.Errorf("-redirect-url %q: login listens on it, so it must be http on a loopback host (127.0.0.1, [::1] or localhost)", raw)
	}
	if u.Port() == "" || u.Port() == "0" {
		return nil, fmt.Errorf("-redirect-url %q: needs an explicit port, the one registered with the tenant", raw)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// callback is the provider's redirect back to the command, and where to
// send the result for the browser's page.
type callback struct {
	query url.Values
	done  chan<- signInResult // buffered: the sender never waits
}

// signInResult is what the browser's page says once the terminal knows.
type signInResult struct {
	Title, Message, Account string
	OK                      bool
}

// signedInAs is the page for a completed sign-in: which account it was.
func signedInAs(tok *nextidentity.Token) signInResult {
	who := tok.IDToken.Email
	if who == "" {
		who = tok.IDToken.Subject
	}
	return signInResult{Title: "Signed in", Account: who, OK: true,
		Message: "The terminal has the tokens; you can close this tab."}
}

// callbackPageWait bounds how long the browser's page waits for the
// terminal's result (the code exchange and the ID token check).
const callbackPageWait = 30 * time.Second

// callbackPage is the page the browser lands on, styled like the provider's
// hosted pages.
var callbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · nextidentity login</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f3f5f8; color: #1d2330; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem 2.2rem; border-radius: .6rem; box-shadow: 0 2px 10px rgba(0,0,0,.08); }
  h1 { font-size: 1.4rem; margin: 0 0 1rem; }
  .ok { color: #1e7a46; } .fail { color: #b3261e; }
  .account { font-weight: 600; word-break: break-all; }
  footer { margin-top: 1.5rem; font-size: .8rem; color: #8a93a3; text-align: center; }
</style></head>
<body><main>
<h1 id="title" class="{{if .OK}}ok{{else}}fail{{end}}">{{.Title}}</h1>
{{if .Account}}<p>Signed in as <span id="account" class="account">{{.Account}}</span>.</p>{{end}}
<p id="message">{{.Message}}</p>
<footer>nextidentity login</footer>
</main></body></html>
`))

// callbackHandler hands the first request to path that carries state (the
// authorization request's) to callbacks, waits for the terminal's result
// (at most callbackPageWait) and shows it: which account signed in, or that
// it failed. Any other request to path, which any web page the browser has
// open can send to a loopback port, is answered 400 and changes nothing:
// the command keeps waiting for the provider's redirect. The state is
// compared in constant time, so its timing does not tell a local page how
// much of a guess was right.
func callbackHandler(path, state string, callbacks chan<- callback) http.Handler {
	mux := http.NewServeMux()
	var received atomic.Bool // one sign-in per run: a reload gets "Already received"
	mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		status := http.StatusOK
		var page signInResult
		switch {
		case len(q["state"]) != 1 || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1:
			status = http.StatusBadRequest
			page = signInResult{Title: "Not this sign-in", Message: "This request does not carry the state of the sign-in the terminal is waiting for, so it was ignored. The terminal is still waiting."}
		case !received.CompareAndSwap(false, true):
			page = signInResult{Title: "Already received", Message: "This sign-in was already completed. Return to the terminal."}
		default:
			done := make(chan signInResult, 1)
			select {
			case callbacks <- callback{query: q, done: done}:
				select {
				case page = <-done:
				case <-time.After(callbackPageWait):
					page = signInResult{Title: "Sign-in received", Message: "Return to the terminal for the result; you can close this tab."}
				case <-r.Context().Done():
					return
				}
				if e := q.Get("error"); e != "" {
					page.Message = "The provider answered " + e + ": " + q.Get("error_description") + ". See the terminal."
				}
			default:
				page = signInResult{Title: "Already received", Message: "This sign-in was already completed. Return to the terminal."}
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		var buf bytes.Buffer
		if err := callbackPage.Execute(&buf, page); err != nil {
			http.Error(w, "nextidentity: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(status)
		w.Write(buf.Bytes()) //nolint:errcheck // the browser may have gone
	})
	return mux
}

func tokensFor(tok *nextidentity.Token, show bool) loginTokens {
	lt := loginTokens{
		Masked:       !show,
		TokenType:    tok.TokenType,
		AccessToken:  tok.AccessToken,
		IDToken:      tok.RawIDToken,
		RefreshToken: tok.RefreshToken,
		Expiry:       tok.Expiry,
		Scope:        tok.Scope,
	}
	if !show {
		lt.AccessToken, lt.IDToken, lt.RefreshToken = mask(lt.AccessToken), mask(lt.IDToken), mask(lt.RefreshToken)
	}
	return lt
}

func (c *cli) printLogin(rep loginReport, tok *nextidentity.Token) {
	who := printable(rep.Subject)
	if tok.IDToken.Email != "" {
		who += " (" + printable(tok.IDToken.Email) + ")"
	}
	c.paintln("32", "Signed in as "+who+"; the ID token verified.")
	fmt.Fprintf(c.stdout, "\nID token claims: %s\n", indentJSON(rep.IDTokenClaims))
	if rep.UserInfoError != "" {
		c.paintln("31", "\n/userinfo failed: "+printable(rep.UserInfoError))
	} else {
		fmt.Fprintf(c.stdout, "\n/userinfo: %s\n", indentJSON(rep.UserInfo))
	}
	fmt.Fprintln(c.stdout, "\nTokens:")
	fmt.Fprintf(c.stdout, "  access_token:  %s\n", rep.Tokens.AccessToken)
	if rep.Tokens.RefreshToken != "" {
		fmt.Fprintf(c.stdout, "  refresh_token: %s\n", rep.Tokens.RefreshToken)
	}
	fmt.Fprintf(c.stdout, "  id_token:      %s\n", rep.Tokens.IDToken)
	if !rep.Tokens.Expiry.IsZero() {
		fmt.Fprintf(c.stdout, "  expiry:        %s (%s)\n", rep.Tokens.Expiry.UTC().Format(time.RFC3339), relative(rep.Tokens.Expiry, c.now()))
	}
	if rep.Tokens.Scope != "" {
		fmt.Fprintf(c.stdout, "  scope:         %s\n", rep.Tokens.Scope)
	}
}

func indentJSON(b []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, b, "", "  ") != nil {
		return string(b)
	}
	return buf.String()
}

// openSystemBrowser opens url with the desktop's handler. The opener is not
// tied to a context: the browser it starts must outlive the command.
func openSystemBrowser(_ context.Context, url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("nextidentity: opening a browser: %w", err)
	}
	go cmd.Wait() //nolint:errcheck // the opener's status says nothing about the sign-in
	return nil
}
