package main

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/oidc-kit/nextidentity"
	"github.com/oidc-kit/nextidentity/internal/httpx"
	"github.com/oidc-kit/nextidentity/internal/keys"
)

const doctorHelp = `Checks a tenant and a client's settings and prints one line per check,
with a fix hint when it fails:

  discovery    the discovery document is reachable and is JSON
  issuer       its "issuer" equals -issuer exactly (a trailing slash matters)
  endpoints    authorization, token, userinfo and JWKS endpoints are present
  jwks         the JWKS is reachable and every key parses (kid, alg, size);
               unusable keys are named
  clock        the difference between this machine's clock and the
               provider's Date header
  redirect-url the provider's /authorize accepts -redirect-url for this client
               (shows its sign-in page, not an error page)
  credentials  the client id and secret are valid: redeeming a deliberately
               invalid code gets invalid_grant, not invalid_client
  offline      discovery lists the offline_access scope, which -offline and
               WithOfflineAccess send to get a refresh token (a warning
               when it does not: only access_type=offline is sent then)
  end-session  discovery has an end_session_endpoint; a warning when not,
               saying whether ISSUER/endsession, which the library then
               uses for logout, answers

The exit status is 0 when no check fails (warnings are allowed).`

// maxDoctorBody bounds every response body doctor reads.
const maxDoctorBody = nextidentity.DefaultMaxResponseBytes

// Clock differences: up to clockOK is fine, up to the library's leeway a
// warning, beyond it a failure (tokens may be refused as expired or not yet
// valid).
const clockOK = 10 * time.Second

// doctorCode is the authorization code doctor redeems on purpose; no
// provider issued it.
const doctorCode = "nextidentity-doctor-invalid-code"

// doctorRedirectPlaceholder stands in for a missing -redirect-url when
// checking the credentials (the code is invalid whatever the redirect URI).
const doctorRedirectPlaceholder = "http://127.0.0.1/nextidentity-doctor"

// doctorReport is the -json output of doctor.
type doctorReport struct {
	Issuer   string  `json:"issuer"`
	ClientID string  `json:"client_id"`
	OK       bool    `json:"ok"`
	Checks   []check `json:"checks"`
}

// discoveryDoc is the part of the discovery document doctor looks at.
type discoveryDoc struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	UserInfoEndpoint      string   `json:"userinfo_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	IDTokenSigningAlgs    []string `json:"id_token_signing_alg_values_supported"`
	// ScopesSupported is read by checkOffline; raw, so that a malformed
	// value is reported there rather than failing discovery.
	ScopesSupported json.RawMessage `json:"scopes_supported"`
}

func (c *cli) doctor(ctx context.Context, args []string) int {
	fs := c.newFlagSet("doctor", "-issuer URL -client-id ID [-client-secret S] [-redirect-url URL] [-json]", doctorHelp)
	t := tenantFlags(fs, true, "the app's registered callback URL; without it the redirect-url check is skipped")
	authStyle := authStyleFlag(fs)
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
	style, err := parseAuthStyle(*authStyle)
	if err != nil {
		return c.usageError(fs, "%v", err)
	}

	d := &doctorRun{cli: c, t: t, style: style, hc: &http.Client{Timeout: t.timeout}}
	if !*asJSON {
		fmt.Fprintf(c.stdout, "Checking %s for client %s\n", printable(t.issuer), printable(t.clientID))
	}
	d.emit = func(ch check) {
		if !*asJSON {
			c.printCheck(ch)
		}
	}
	checks := d.run(ctx)
	rep := doctorReport{Issuer: t.issuer, ClientID: t.clientID, OK: true, Checks: checks}
	failed := 0
	for _, ch := range checks {
		if ch.Status == statusFail {
			rep.OK = false
			failed++
		}
	}
	if *asJSON {
		if err := c.writeJSON(rep); err != nil {
			fmt.Fprintln(c.stderr, err)
			return exitFail
		}
	} else if failed == 0 {
		c.paintln("32", "No problems found.")
	} else {
		c.paintln("31", fmt.Sprintf("%d of %d checks failed.", failed, len(checks)))
	}
	if !rep.OK {
		return exitFail
	}
	return exitOK
}

// doctorRun is one run of the checks.
type doctorRun struct {
	cli   *cli
	t     *tenant
	style nextidentity.AuthStyle
	hc    *http.Client
	emit  func(check)
	out   []check
}

func (d *doctorRun) add(ch check) {
	d.out = append(d.out, ch)
	d.emit(ch)
}

// skipRest marks the remaining checks as not made because of an earlier
// failure.
func (d *doctorRun) skipRest(names []string, because string) {
	for _, n := range names {
		d.add(check{Name: n, Status: statusNotChecked, Detail: because})
	}
}

func (d *doctorRun) run(ctx context.Context) (out []check) {
	md, date, local, ok := d.checkDiscovery(ctx)
	if !ok {
		d.skipRest([]string{"issuer", "endpoints", "jwks", "clock", "redirect-url", "credentials", "offline", "end-session"}, "needs the discovery document")
		return d.out
	}
	// Advisory checks, last, whatever happens to the client's checks.
	defer func() {
		d.add(checkOffline(md))
		d.add(d.checkEndSession(ctx, md))
		out = d.out
	}()
	d.add(d.checkIssuer(md))
	endpointsOK := d.checkEndpoints(md)
	if md.JWKSURI != "" {
		d.add(d.checkJWKS(ctx, md))
	} else {
		d.add(check{Name: "jwks", Status: statusNotChecked, Detail: "discovery has no jwks_uri"})
	}
	d.add(clockCheck(date, local))
	if !endpointsOK {
		d.skipRest([]string{"redirect-url", "credentials"}, "needs the authorization and token endpoints")
		return d.out
	}
	client, err := nextidentity.New(ctx, d.config(md, d.style))
	if err != nil {
		for _, n := range []string{"redirect-url", "credentials"} {
			d.add(check{Name: n, Status: statusFail, Detail: err.Error(),
				Hint: "fix the settings the library refuses (for example: the issuer and redirect URL must use https except on loopback hosts)"})
		}
		return d.out
	}
	defer client.Close()
	d.add(d.checkRedirect(ctx, client))
	d.add(d.checkCredentials(ctx, client, md))
	return d.out
}

// checkOffline warns when discovery does not list the offline_access scope:
// WithOfflineAccess then sends only access_type=offline, which a standard
// provider ignores (no refresh token, and no error).
func checkOffline(md *discoveryDoc) check {
	ch := check{Name: "offline", Status: statusWarn,
		Hint: "sign in with `nextidentity login -offline` and check that a refresh token comes back; " +
			"if the provider wants the scope without listing it, add it with WithScopes(\"offline_access\")"}
	var scopes []string
	switch err := json.Unmarshal(md.ScopesSupported, &scopes); {
	case len(md.ScopesSupported) == 0 || string(md.ScopesSupported) == "null":
		ch.Detail = "discovery has no scopes_supported: -offline and WithOfflineAccess send only access_type=offline"
	case err != nil:
		ch.Detail = "discovery's scopes_supported is not a list of strings: -offline and WithOfflineAccess send only access_type=offline"
	case slices.Contains(scopes, "offline_access"):
		ch.Status, ch.Hint = statusOK, ""
		ch.Detail = "scopes_supported lists offline_access: -offline and WithOfflineAccess ask for it"
	default:
		ch.Detail = "scopes_supported does not list offline_access: -offline and WithOfflineAccess send only access_type=offline"
	}
	return ch
}

// checkEndSession warns when discovery has no end_session_endpoint, and
// says whether ISSUER/endsession, the library's fallback, answers.
func (d *doctorRun) checkEndSession(ctx context.Context, md *discoveryDoc) check {
	ch := check{Name: "end-session"}
	if md.EndSessionEndpoint != "" {
		ch.Status, ch.Detail = statusOK, md.EndSessionEndpoint
		return ch
	}
	u := strings.TrimSuffix(d.t.issuer, "/") + "/endsession"
	probe := u + "?" + url.Values{"client_id": {d.t.clientID}}.Encode()
	hc := *d.hc
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	ch.Status = statusWarn
	resp, _, err := d.get(ctx, &hc, probe)
	switch {
	case err != nil:
		ch.Detail = fmt.Sprintf("discovery has no end_session_endpoint, and %s, which the library uses for logout instead, does not answer: %v", u, err)
		ch.Hint = "set Config.EndSessionEndpoint to the tenant's logout URL; until then logout ends only the app's session"
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode >= 500:
		ch.Detail = fmt.Sprintf("discovery has no end_session_endpoint, and %s, which the library uses for logout instead, answers HTTP %d", u, resp.StatusCode)
		ch.Hint = "set Config.EndSessionEndpoint to the tenant's logout URL; until then logout ends only the app's session"
	default:
		ch.Detail = fmt.Sprintf("discovery has no end_session_endpoint; the library uses %s for logout, which answers HTTP %d", u, resp.StatusCode)
		ch.Hint = "check that signing out at the provider works, or set Config.EndSessionEndpoint"
	}
	return ch
}

// config is the client configuration for the discovered endpoints, so New
// makes no second discovery request (and works even when the issuer check
// failed).
func (d *doctorRun) config(md *discoveryDoc, style nextidentity.AuthStyle) nextidentity.Config {
	return nextidentity.Config{
		Issuer:                d.t.issuer,
		ClientID:              d.t.clientID,
		ClientSecret:          d.t.clientSecret,
		RedirectURL:           cmp.Or(d.t.redirectURL, doctorRedirectPlaceholder),
		AuthorizationEndpoint: md.AuthorizationEndpoint,
		TokenEndpoint:         md.TokenEndpoint,
		UserInfoEndpoint:      md.UserInfoEndpoint,
		JWKSURL:               md.JWKSURI,
		AuthStyle:             style,
		HTTPClient:            d.hc,
		Now:                   d.cli.now,
	}
}

// get makes one bounded GET request with the run's timeout.
func (d *doctorRun) get(ctx context.Context, hc *http.Client, u string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json, text/html;q=0.9")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := httpx.ReadAll(resp.Body, maxDoctorBody)
	if err != nil {
		return resp, nil, fmt.Errorf("reading %s: %w", u, err)
	}
	return resp, body, nil
}

func (d *doctorRun) checkDiscovery(ctx context.Context) (md *discoveryDoc, date string, local time.Time, ok bool) {
	u := strings.TrimSuffix(d.t.issuer, "/") + "/.well-known/openid-configuration"
	hint := "-issuer must be the tenant's base URL, e.g. https://id.example.com (discovery lives at ISSUER/.well-known/openid-configuration)"
	start := d.cli.now()
	resp, body, err := d.get(ctx, d.hc, u)
	end := d.cli.now()
	if err != nil {
		d.add(check{Name: "discovery", Status: statusFail, Detail: fmt.Sprintf("GET %s: %v", u, err), Hint: hint})
		return nil, "", time.Time{}, false
	}
	if resp.StatusCode != http.StatusOK {
		d.add(check{Name: "discovery", Status: statusFail, Detail: fmt.Sprintf("GET %s: HTTP %d: %s", u, resp.StatusCode, pageText(body)), Hint: hint})
		return nil, "", time.Time{}, false
	}
	md = new(discoveryDoc)
	if err := json.Unmarshal(body, md); err != nil {
		d.add(check{Name: "discovery", Status: statusFail, Detail: fmt.Sprintf("%s is not a discovery document: %v", u, err), Hint: hint})
		return nil, "", time.Time{}, false
	}
	d.add(check{Name: "discovery", Status: statusOK, Detail: u})
	return md, resp.Header.Get("Date"), start.Add(end.Sub(start) / 2), true
}

func (d *doctorRun) checkIssuer(md *discoveryDoc) check {
	ch := check{Name: "issuer"}
	switch got, want := md.Issuer, d.t.issuer; {
	case got == want:
		ch.Status, ch.Detail = statusOK, fmt.Sprintf("%q", got)
	case strings.TrimSuffix(got, "/") == strings.TrimSuffix(want, "/"):
		ch.Status = statusFail
		if strings.HasSuffix(got, "/") {
			ch.Detail = fmt.Sprintf("trailing slash: the provider's issuer is %q, with a trailing slash; -issuer is %q", got, want)
		} else {
			ch.Detail = fmt.Sprintf("trailing slash: the provider's issuer is %q, without a trailing slash; -issuer is %q", got, want)
		}
		ch.Hint = fmt.Sprintf("set -issuer (NEXTIDENTITY_ISSUER) to exactly %q: tokens carry it byte for byte", got)
	case got == "":
		ch.Status, ch.Detail = statusFail, "the discovery document has no issuer"
		ch.Hint = "this is not the tenant's discovery document: check -issuer"
	default:
		ch.Status = statusFail
		ch.Detail = fmt.Sprintf("the provider's issuer is %q, not %q", got, want)
		ch.Hint = fmt.Sprintf("set -issuer (NEXTIDENTITY_ISSUER) to %q if that is your tenant", got)
	}
	return ch
}

func (d *doctorRun) checkEndpoints(md *discoveryDoc) bool {
	var missing, bad []string
	for _, e := range []struct{ name, v string }{
		{"authorization_endpoint", md.AuthorizationEndpoint},
		{"token_endpoint", md.TokenEndpoint},
		{"userinfo_endpoint", md.UserInfoEndpoint},
		{"jwks_uri", md.JWKSURI},
	} {
		if e.v == "" {
			missing = append(missing, e.name)
			continue
		}
		if u, err := url.Parse(e.v); err != nil || !u.IsAbs() || u.Host == "" {
			bad = append(bad, fmt.Sprintf("%s %q", e.name, e.v))
		}
	}
	if len(missing) > 0 || len(bad) > 0 {
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "missing: "+strings.Join(missing, ", "))
		}
		if len(bad) > 0 {
			parts = append(parts, "not absolute URLs: "+strings.Join(bad, ", "))
		}
		d.add(check{Name: "endpoints", Status: statusFail, Detail: strings.Join(parts, "; "),
			Hint: "the tenant's discovery document is incomplete; set the endpoints in nextidentity.Config explicitly or ask the provider"})
		return false
	}
	detail := "authorization, token, userinfo, jwks"
	if md.EndSessionEndpoint != "" {
		detail += ", end_session"
	} else {
		detail += " (no end_session_endpoint: the library uses ISSUER/endsession)"
	}
	d.add(check{Name: "endpoints", Status: statusOK, Detail: detail})
	return true
}

func (d *doctorRun) checkJWKS(ctx context.Context, md *discoveryDoc) check {
	ch := check{Name: "jwks"}
	resp, body, err := d.get(ctx, d.hc, md.JWKSURI)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, pageText(body))
	}
	if err != nil {
		ch.Status, ch.Detail = statusFail, fmt.Sprintf("GET %s: %v", md.JWKSURI, err)
		ch.Hint = "the provider's jwks_uri must serve its signing keys; without them no RS/ES-signed token verifies"
		return ch
	}
	usable, unusable, err := parseEachKey(body)
	if err != nil {
		ch.Status, ch.Detail = statusFail, fmt.Sprintf("%s: %v", md.JWKSURI, err)
		ch.Hint = "the provider's jwks_uri must serve a JWK Set ({\"keys\": [...]})"
		return ch
	}
	var parts []string
	for _, k := range usable {
		parts = append(parts, describeKey(k))
	}
	parts = append(parts, unusable...)
	if len(parts) == 0 {
		parts = append(parts, "the JWK Set is empty")
	}
	ch.Detail = strings.Join(parts, "; ")
	// When no advertised asymmetric alg has a key, no token will verify.
	var advertised, unfit []string
	for _, alg := range md.IDTokenSigningAlgs {
		if strings.HasPrefix(alg, "HS") || alg == "none" {
			continue
		}
		advertised = append(advertised, alg)
		if !slices.ContainsFunc(usable, func(k *keys.Key) bool { return k.Fits(alg) }) {
			unfit = append(unfit, alg)
		}
	}
	switch {
	case len(usable) == 0:
		ch.Status = statusFail
		ch.Hint = "no usable signing key: the JWKS needs RSA (2048 bits or more), EC or Ed25519 keys with use \"sig\""
	case len(unusable) > 0:
		ch.Status = statusWarn
		ch.Hint = "the unusable keys are ignored; tokens signed with them will not verify"
	case len(advertised) > 0 && len(unfit) == len(advertised):
		ch.Status = statusWarn
		ch.Detail += fmt.Sprintf("; no key for advertised alg(s) %s", strings.Join(unfit, ", "))
		ch.Hint = "tokens signed with these algorithms will not verify"
	default:
		ch.Status = statusOK
	}
	return ch
}

// parseEachKey parses the keys of a JWK Set one by one with the library's
// parser, so each unusable key can be named by its kid with the reason.
func parseEachKey(body []byte) (usable []*keys.Key, unusable []string, err error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	for i, raw := range doc.Keys {
		one, err := json.Marshal(map[string][]json.RawMessage{"keys": {raw}})
		if err != nil {
			return nil, nil, err
		}
		set, skipped, err := keys.Parse(one)
		if err == nil && set.Len() == 1 {
			usable = append(usable, set.Keys()[0])
			continue
		}
		var meta struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
		}
		_ = json.Unmarshal(raw, &meta) // best effort: only for the message
		reason := "not a usable key"
		if len(skipped) > 0 {
			reason = skipped[0].Error()
		} else if err != nil {
			reason = err.Error()
		}
		// The kid is named once, in front.
		reason = strings.TrimPrefix(reason, "keys: key 0: ")
		reason = strings.TrimPrefix(reason, fmt.Sprintf("kid %q: ", meta.Kid))
		unusable = append(unusable, fmt.Sprintf("unusable key %d, kid %q (kty %s): %s", i, meta.Kid, cmp.Or(meta.Kty, "missing"), reason))
	}
	return usable, unusable, nil
}

// describeKey says "kid "x": RS256, RSA 2048 bits".
func describeKey(k *keys.Key) string {
	alg := k.Alg
	if alg == "" {
		alg = "no alg"
	}
	var kind string
	switch pk := k.Public.(type) {
	case *rsa.PublicKey:
		kind = fmt.Sprintf("RSA %d bits", pk.N.BitLen())
	case *ecdsa.PublicKey:
		kind = "EC " + pk.Curve.Params().Name
	case ed25519.PublicKey:
		kind = "Ed25519"
	default:
		kind = fmt.Sprintf("%T", pk)
	}
	return fmt.Sprintf("kid %q: %s, %s", k.KID, alg, kind)
}

// clockCheck compares the provider's Date header with the local time
// halfway through the request.
func clockCheck(date string, local time.Time) check {
	ch := check{Name: "clock"}
	if date == "" {
		ch.Status, ch.Detail = statusWarn, "the provider sent no Date header; the clock difference is unknown"
		return ch
	}
	remote, err := http.ParseTime(date)
	if err != nil {
		ch.Status, ch.Detail = statusWarn, fmt.Sprintf("unreadable Date header %q", date)
		return ch
	}
	// Date has one-second resolution: truncate the local time likewise.
	diff := remote.Sub(local.Truncate(time.Second))
	abs := diff
	if abs < 0 {
		abs = -abs
	}
	side := "ahead of"
	if diff < 0 {
		side = "behind"
	}
	ch.Detail = fmt.Sprintf("the provider's clock is %s %s this machine's (Date: %s)", abs, side, date)
	if abs < time.Second {
		ch.Detail = fmt.Sprintf("within a second of the provider's (Date: %s)", date)
	}
	hint := "synchronise this machine's clock (NTP); ID tokens' exp and iat are checked with a leeway of " + nextidentity.DefaultLeeway.String()
	switch {
	case abs <= clockOK:
		ch.Status = statusOK
	case abs <= nextidentity.DefaultLeeway:
		ch.Status, ch.Hint = statusWarn, hint
	default:
		ch.Status, ch.Hint = statusFail, hint
	}
	return ch
}

// maxAuthorizeHops bounds the redirects followed from /authorize.
const maxAuthorizeHops = 10

var passwordInput = regexp.MustCompile(`(?i)<input[^>]*type=["']?password`)

func (d *doctorRun) checkRedirect(ctx context.Context, client *nextidentity.Client) check {
	ch := check{Name: "redirect-url"}
	if d.t.redirectURL == "" {
		ch.Status, ch.Detail = statusSkipped, "no -redirect-url (or $"+envRedirectURL+")"
		return ch
	}
	hint := fmt.Sprintf("register %s exactly (scheme, host, port and path) as a redirect URI of client %s in the tenant, or fix -redirect-url", d.t.redirectURL, d.t.clientID)
	req, err := client.AuthCodeURL()
	if err != nil {
		ch.Status, ch.Detail, ch.Hint = statusFail, err.Error(), hint
		return ch
	}
	jar, _ := cookiejar.New(nil) // never fails: the error is always nil
	hc := &http.Client{
		Timeout:       d.t.timeout,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	redirect, err := url.Parse(d.t.redirectURL)
	if err != nil {
		ch.Status, ch.Detail, ch.Hint = statusFail, err.Error(), hint
		return ch
	}
	u := req.URL
	for range maxAuthorizeHops {
		resp, body, err := d.get(ctx, hc, u)
		if err != nil {
			ch.Status, ch.Detail = statusFail, fmt.Sprintf("GET %s: %v", stripQuery(u), err)
			return ch
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
			next, err := url.Parse(u)
			if err == nil {
				next, err = next.Parse(loc)
			}
			if err != nil {
				ch.Status, ch.Detail = statusFail, fmt.Sprintf("unreadable redirect %q: %v", loc, err)
				return ch
			}
			if sameEndpoint(next, redirect) {
				// Back at the app straight away: accepted, but the request
				// was refused.
				q := next.Query()
				if e := q.Get("error"); e != "" {
					ch.Status = statusFail
					ch.Detail = fmt.Sprintf("the redirect URL is accepted, but the provider refused the sign-in: %s: %s", e, q.Get("error_description"))
					ch.Hint = fmt.Sprintf("the tenant refuses this client's authorization request (%s); check the client's allowed scopes and grant types", e)
					return ch
				}
				ch.Status, ch.Detail = statusOK, "the provider redirected straight back with a code"
				return ch
			}
			u = next.String()
			continue
		}
		switch {
		case resp.StatusCode == http.StatusOK && passwordInput.Match(body):
			ch.Status, ch.Detail = statusOK, "the provider shows its sign-in page"
		case resp.StatusCode == http.StatusOK:
			ch.Status = statusWarn
			ch.Detail = fmt.Sprintf("the provider answered 200 at %s without a sign-in form in the HTML (it may be drawn by script): %s", stripQuery(u), pageText(body))
			ch.Hint = "open the login in a browser (nextidentity login) to be sure"
		default:
			ch.Status = statusFail
			ch.Detail = fmt.Sprintf("the provider shows an error page (HTTP %d): %s", resp.StatusCode, pageText(body))
			ch.Hint = hint
		}
		return ch
	}
	ch.Status, ch.Detail = statusFail, fmt.Sprintf("more than %d redirects from /authorize", maxAuthorizeHops)
	return ch
}

// sameEndpoint reports whether u is the redirect URL r, ignoring the query.
func sameEndpoint(u, r *url.URL) bool {
	return strings.EqualFold(u.Scheme, r.Scheme) && strings.EqualFold(u.Host, r.Host) && u.Path == r.Path
}

// stripQuery drops the query of a URL for display: it carries state and
// the PKCE challenge, which are noise.
func stripQuery(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i]
	}
	return s
}

// redeemInvalidCode redeems doctorCode with client.
func redeemInvalidCode(ctx context.Context, client *nextidentity.Client) error {
	req := &nextidentity.AuthRequest{State: "nextidentity-doctor", Nonce: "nextidentity-doctor", CodeVerifier: strings.Repeat("d", 43)}
	_, err := client.Exchange(ctx, url.Values{"code": {doctorCode}, "state": {req.State}}, req)
	return err
}

// authStyleNames are the -auth-style values.
var authStyleNames = map[nextidentity.AuthStyle]string{
	nextidentity.AuthStyleBasic:    "basic (HTTP Basic)",
	nextidentity.AuthStyleInParams: "post (client_secret in the body)",
}

func (d *doctorRun) checkCredentials(ctx context.Context, client *nextidentity.Client, md *discoveryDoc) check {
	ch := check{Name: "credentials"}
	err := redeemInvalidCode(ctx, client)
	kind := "confidential client"
	if d.t.clientSecret == "" {
		kind = "public client (no secret)"
	}
	switch {
	case err == nil || errors.Is(err, nextidentity.ErrInvalidIDToken):
		// A token response came back (then failed verification, or not).
		ch.Status, ch.Detail = statusFail, "the token endpoint accepted a code no provider issued"
		ch.Hint = "this is not a Next Identity token endpoint you can trust"
	case errors.Is(err, nextidentity.ErrInvalidGrant):
		ch.Status = statusOK
		ch.Detail = kind + ": the client is accepted; a deliberately invalid code got invalid_grant"
	case errors.Is(err, nextidentity.ErrInvalidClient), errors.Is(err, nextidentity.ErrUnauthorized):
		ch.Status, ch.Detail = statusFail, kind+": client authentication failed: "+err.Error()
		switch {
		case d.t.clientSecret == "":
			ch.Hint = "this client needs its secret: set NEXTIDENTITY_CLIENT_SECRET (or -client-secret)"
		case d.otherStyleWorks(ctx, md):
			other := nextidentity.AuthStyleInParams
			field := "nextidentity.AuthStyleInParams"
			if d.style == nextidentity.AuthStyleInParams {
				other, field = nextidentity.AuthStyleBasic, "nextidentity.AuthStyleBasic"
			}
			ch.Detail += fmt.Sprintf("; with -auth-style %s the same credentials are accepted", authStyleNames[other])
			ch.Hint = "the tenant wants the other client authentication: set Config.AuthStyle to " + field + " in the app"
		default:
			ch.Hint = "check -client-id and -client-secret (NEXTIDENTITY_CLIENT_SECRET) against the tenant's client settings"
		}
	case errors.Is(err, nextidentity.ErrProvider):
		ch.Status, ch.Detail = statusFail, "unexpected answer from the token endpoint: "+err.Error()
		ch.Hint = "the token endpoint should answer invalid_grant for an unknown code; check the client's grant types in the tenant"
	default:
		ch.Status, ch.Detail = statusFail, err.Error()
		ch.Hint = "the token endpoint could not be reached or answered nonsense"
	}
	return ch
}

// otherStyleWorks reports whether the credentials pass with the other
// client authentication style.
func (d *doctorRun) otherStyleWorks(ctx context.Context, md *discoveryDoc) bool {
	other := nextidentity.AuthStyleInParams
	if d.style == nextidentity.AuthStyleInParams {
		other = nextidentity.AuthStyleBasic
	}
	client, err := nextidentity.New(ctx, d.config(md, other))
	if err != nil {
		return false
	}
	defer client.Close()
	return errors.Is(redeemInvalidCode(ctx, client), nextidentity.ErrInvalidGrant)
}

var (
	tags       = regexp.MustCompile(`(?is)<(script|style|title)[^>]*>.*?</(script|style|title)>|<[^>]*>`)
	maxExcerpt = 200
	// pageMessage is an error page's message: the fake's <p id="message">,
	// or an element whose class or id says it is the error or message.
	pageMessage = regexp.MustCompile(`(?is)<(?:p|div|span)\b[^>]*\b(?:id|class)="(?:message|error|error-message|error-description)"[^>]*>(.*?)</(?:p|div|span)>`)
	// pageChrome is what surrounds a page's message: head, header, title
	// heading, navigation and footer.
	pageChrome = regexp.MustCompile(`(?is)<(head|header|nav|footer|h1)\b[^>]*>.*?</(?:head|header|nav|footer|h1)>`)
)

// pageText is the visible text of an HTML (or any) body, shortened.
func pageText(body []byte) string {
	page := string(body)
	if m := pageMessage.FindStringSubmatch(page); m != nil {
		page = m[1] // the page's own message, without its title and footer
	} else {
		page = pageChrome.ReplaceAllString(page, " ")
	}
	s := html.UnescapeString(tags.ReplaceAllString(page, " "))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxExcerpt {
		s = string(r[:maxExcerpt]) + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return s
}
