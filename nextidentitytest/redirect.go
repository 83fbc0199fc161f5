package nextidentitytest

import (
	"net"
	"net/url"
)

// redirectURIAllowed reports whether got may be used as the redirect_uri of
// a client that registered the URIs in registered: an exact match, or, for a
// loopback IP redirect URI (http://127.0.0.1/... or http://[::1]/...), the
// same URI on any port, as RFC 8252 §7.3 asks of providers for native apps
// and command-line tools that listen on a port chosen at run time.
//
// A real Next Identity tenant matches redirect URIs exactly: register there
// the URL, port included, that the app uses.
func redirectURIAllowed(registered []string, got string) bool {
	if got == "" {
		return false
	}
	for _, r := range registered {
		if r == got || sameLoopbackURI(r, got) {
			return true
		}
	}
	return false
}

// sameLoopbackURI reports whether a and b are http loopback IP URIs that
// differ at most in their port.
func sameLoopbackURI(a, b string) bool {
	ua, err := url.Parse(a)
	if err != nil {
		return false
	}
	ub, err := url.Parse(b)
	if err != nil {
		return false
	}
	if ua.Scheme != "http" || ub.Scheme != "http" || !isLoopbackIP(ua.Hostname()) || ua.Hostname() != ub.Hostname() {
		return false
	}
	if ub.User != nil || ub.Fragment != "" || ub.RawFragment != "" {
		return false
	}
	ua.Host, ub.Host = ua.Hostname(), ub.Hostname()
	return ua.String() == ub.String()
}

// isLoopbackIP reports whether host is a loopback IP literal; "localhost"
// is not one (RFC 8252 §8.3).
func isLoopbackIP(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
