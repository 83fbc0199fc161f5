package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Kind is an instrumented operation.
type Kind uint8

// The instrumented operations. docs/operations.md lists them with their
// span names and metrics; keep it in step.
const (
	Discovery Kind = iota
	JWKSFetch
	TokenRequest
	UserInfo
	Introspection
	Revocation
	SignIn  // Client.Exchange: redeem the code, verify the ID token
	Refresh // Client.Refresh
	LogoutTokenVerify
	EventVerify
	Login          // nihttp: start a sign-in
	Callback       // nihttp: finish it and start a session
	SessionRefresh // nihttp: refresh a session's tokens under its lock
	StoreLoad
	StoreSave
	StoreDelete
	StoreLock
	numKinds
)

// kind describes an operation: its span and, when it has them, its
// counter and duration histogram (counter "" means none).
type kind struct {
	span      string
	spanKind  trace.SpanKind
	spanAttr  attribute.KeyValue // set on the span at start when Valid
	childOnly bool               // span only under a recording parent

	counter, counterDesc, unit string
	histogram, histDesc        string
	metricAttr                 attribute.KeyValue // added to the metrics when Valid
}

var kinds = [numKinds]kind{
	Discovery: {span: "nextidentity.discovery", spanKind: trace.SpanKindClient},
	JWKSFetch: {span: "nextidentity.jwks.fetch", spanKind: trace.SpanKindClient,
		counter: "nextidentity.jwks.fetches", unit: "{fetch}", counterDesc: "JWKS fetches, by outcome.",
		histogram: "nextidentity.jwks.fetch.duration", histDesc: "Duration of JWKS fetches."},
	TokenRequest: {span: "nextidentity.token", spanKind: trace.SpanKindClient,
		counter: "nextidentity.token.requests", unit: "{request}", counterDesc: "Token endpoint requests, by grant type and outcome.",
		histogram: "nextidentity.token.request.duration", histDesc: "Duration of token endpoint requests."},
	UserInfo:      {span: "nextidentity.userinfo", spanKind: trace.SpanKindClient},
	Introspection: {span: "nextidentity.introspection", spanKind: trace.SpanKindClient},
	Revocation:    {span: "nextidentity.revocation", spanKind: trace.SpanKindClient},
	SignIn: {span: "nextidentity.signin", spanKind: trace.SpanKindInternal,
		counter: "nextidentity.signins", unit: "{signin}", counterDesc: "Completed sign-ins (code exchanges with a verified ID token), by outcome and failure reason.",
		histogram: "nextidentity.signin.duration", histDesc: "Duration of a code exchange and its ID token verification."},
	Refresh: {span: "nextidentity.refresh", spanKind: trace.SpanKindInternal,
		counter: "nextidentity.refreshes", unit: "{refresh}", counterDesc: "Token refreshes, by outcome and failure reason.",
		histogram: "nextidentity.refresh.duration", histDesc: "Duration of token refreshes."},
	LogoutTokenVerify: {span: "nextidentity.logout_token.verify", spanKind: trace.SpanKindInternal},
	EventVerify:       {span: "nextidentity.event.verify", spanKind: trace.SpanKindInternal},
	Login:             {span: "nihttp.login", spanKind: trace.SpanKindInternal},
	Callback:          {span: "nihttp.callback", spanKind: trace.SpanKindInternal},
	SessionRefresh:    {span: "nihttp.session.refresh", spanKind: trace.SpanKindInternal},
	StoreLoad:         storeKind("load"),
	StoreSave:         storeKind("save"),
	StoreDelete:       storeKind("delete"),
	StoreLock:         storeKind("lock"),
}

func storeKind(op string) kind {
	a := KeyStoreOperation.String(op)
	return kind{span: "nihttp.store." + op, spanKind: trace.SpanKindInternal, spanAttr: a, childOnly: true,
		counter: "nextidentity.store.calls", unit: "{call}", counterDesc: "Session store calls, by operation and outcome.",
		histogram: "nextidentity.store.call.duration", histDesc: "Duration of session store calls.",
		metricAttr: a}
}
