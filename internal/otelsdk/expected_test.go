package otelsdk_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSignInTelemetry checks the spans and metrics of the same flow: their
// names, parents and attributes.
func TestSignInTelemetry(t *testing.T) {
	r := newRecorder(t)
	f := newFlow(t, r)
	f.viaHandlers(t)
	f.viaClient(t)
	spans := r.spans.GetSpans()

	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	for _, name := range []string{
		"nextidentity.discovery", "nextidentity.jwks.fetch", "nihttp.login", "nihttp.callback",
		"nextidentity.signin", "nextidentity.token", "nextidentity.userinfo", "nihttp.session.refresh",
		"nextidentity.refresh", "nihttp.store.save", "nihttp.store.load", "nihttp.store.lock",
	} {
		require.NotEmpty(t, byName[name], "no %s span; got %v", name, names(spans))
	}

	// The handlers' sign-in: callback > signin > token, with the HTTP
	// attributes on the token request.
	cb := byName["nihttp.callback"][0]
	signin := childOf(t, spans, cb, "nextidentity.signin")
	tok := childOf(t, spans, signin, "nextidentity.token")
	attrs := attrMap(tok.Attributes)
	require.Equal(t, "authorization_code", attrs["nextidentity.grant_type"])
	require.Equal(t, "POST", attrs["http.request.method"])
	require.Equal(t, "200", attrs["http.response.status_code"])
	require.Equal(t, "127.0.0.1", attrs["server.address"])
	require.Equal(t, "success", attrs["nextidentity.outcome"])
	childOf(t, spans, cb, "nihttp.store.save")

	// The session refresh: lock, load, the client's refresh and its token
	// request, save.
	sr := byName["nihttp.session.refresh"][0]
	for _, name := range []string{"nihttp.store.lock", "nihttp.store.load", "nextidentity.refresh", "nihttp.store.save"} {
		childOf(t, spans, sr, name)
	}
	refresh := childOf(t, spans, sr, "nextidentity.refresh")
	require.Equal(t, "refresh_token", attrMap(childOf(t, spans, refresh, "nextidentity.token").Attributes)["nextidentity.grant_type"])

	rm := r.metrics(t)
	sum := func(name string, want ...attribute.KeyValue) int64 {
		var n int64
		for _, p := range sumPoints(rm, name) {
			if hasAll(p.Attributes, want) {
				n += p.Value
			}
		}
		return n
	}
	success := attribute.String("nextidentity.outcome", "success")
	require.EqualValues(t, 2, sum("nextidentity.signins", success))
	require.EqualValues(t, 2, sum("nextidentity.refreshes", success))
	require.EqualValues(t, 2, sum("nextidentity.token.requests", success, attribute.String("nextidentity.grant_type", "authorization_code")))
	require.EqualValues(t, 2, sum("nextidentity.token.requests", success, attribute.String("nextidentity.grant_type", "refresh_token")))
	require.EqualValues(t, 1, sum("nextidentity.token.requests", success, attribute.String("nextidentity.grant_type", "client_credentials")))
	require.EqualValues(t, 1, sum("nextidentity.jwks.fetches", success))
	require.EqualValues(t, 1, sum("nextidentity.verification.failures",
		attribute.String("nextidentity.token_kind", "id_token"), attribute.String("nextidentity.failure_reason", "nonce_mismatch")))
	require.Positive(t, sum("nextidentity.store.calls", success, attribute.String("nextidentity.store.operation", "load")))
	require.Positive(t, sum("nextidentity.store.calls", success, attribute.String("nextidentity.store.operation", "save")))
	for _, h := range []string{"nextidentity.signin.duration", "nextidentity.refresh.duration", "nextidentity.token.request.duration",
		"nextidentity.jwks.fetch.duration", "nextidentity.store.call.duration"} {
		require.NotZero(t, histCount(rm, h), "no %s measurement", h)
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

// childOf returns the first span named name whose parent is parent.
func childOf(t *testing.T, spans tracetest.SpanStubs, parent tracetest.SpanStub, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name && s.Parent.SpanID() == parent.SpanContext.SpanID() {
			return s
		}
	}
	t.Fatalf("no %s span under %s", name, parent.Name)
	return tracetest.SpanStub{}
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

func sumPoints(rm metricdata.ResourceMetrics, name string) []metricdata.DataPoint[int64] {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				return s.DataPoints
			}
		}
	}
	return nil
}

func histCount(rm metricdata.ResourceMetrics, name string) uint64 {
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == name {
				for _, p := range h.DataPoints {
					n += p.Count
				}
			}
		}
	}
	return n
}

// TestAccountTokenTelemetry: the API integration's code exchange is a
// token request like the hosted flow's: a "nextidentity.token" span with
// its grant type and the account endpoint, and the token request metric.
func TestAccountTokenTelemetry(t *testing.T) {
	r := newRecorder(t)
	f := newFlow(t, r)
	f.viaAccount(t)
	var found bool
	for _, s := range r.spans.GetSpans() {
		if s.Name != "nextidentity.token" {
			continue
		}
		a := attrMap(s.Attributes)
		require.Equal(t, "authorization_code", a["nextidentity.grant_type"])
		require.Equal(t, "account token", a["nextidentity.endpoint"])
		require.Equal(t, "POST", a["http.request.method"])
		require.Equal(t, "200", a["http.response.status_code"])
		found = true
	}
	require.True(t, found, "a token span for the account API's /token")
	var requests bool
	for _, sm := range r.metrics(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			requests = requests || m.Name == "nextidentity.token.requests"
		}
	}
	require.True(t, requests, "the token request counter")
}
