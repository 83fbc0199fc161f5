// Package telemetry is the OpenTelemetry instrumentation the library's
// packages share: a span per operation (discovery, a JWKS fetch, a token
// request, a sign-in, a session store call, ...) and the counters and
// duration histograms operators watch. It uses the OpenTelemetry API only.
//
// Nothing secret goes in: span names, attribute values and metric
// attributes are fixed strings chosen here (operation names, grant types,
// failure reasons drawn from sentinel errors), the HTTP method, the
// provider's host and port and the response status. Error texts, which can
// quote a provider's error description, are never recorded.
//
// With no-op providers (the default: the global providers before the
// application sets any) the hot paths cost no allocation: Active says
// whether anything would be recorded before an Op is built, and attributes
// are only built for a recording span.
package telemetry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every tracer and meter.
const ScopeName = "github.com/oidc-kit/nextidentity"

// Attribute keys of the library's own attributes; the others follow the
// OpenTelemetry semantic conventions.
const (
	// KeyGrantType is the token request's grant_type.
	KeyGrantType = attribute.Key("nextidentity.grant_type")
	// KeyOutcome is "success", "failure" or a benign non-success of a
	// store call ("no_session", "locked").
	KeyOutcome = attribute.Key("nextidentity.outcome")
	// KeyFailureReason names the failure: a fixed word per sentinel error.
	KeyFailureReason = attribute.Key("nextidentity.failure_reason")
	// KeyEndpoint names the provider endpoint of a request span.
	KeyEndpoint = attribute.Key("nextidentity.endpoint")
	// KeyTokenKind says what a verification failure was about.
	KeyTokenKind = attribute.Key("nextidentity.token_kind")
	// KeyStoreOperation is load, save, delete or lock.
	KeyStoreOperation = attribute.Key("nextidentity.store.operation")

	keyMethod   = attribute.Key("http.request.method")
	keyStatus   = attribute.Key("http.response.status_code")
	keyAddress  = attribute.Key("server.address")
	keyPort     = attribute.Key("server.port")
	keyErrorTyp = attribute.Key("error.type")
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Token kinds of the verification failure counter.
const (
	IDToken     = "id_token"
	AccessToken = "access_token"
	LogoutToken = "logout_token"
	Event       = "event"
)

// Reason maps an error to a failure reason: the first entry whose Err
// matches (errors.Is) gives it, so finer sentinels come first.
type Reason struct {
	Err  error
	Word string
	// Benign marks an answer that is not a failure (no such session, a
	// held lock): it becomes the outcome and the span status stays unset.
	Benign bool
}

// Telemetry holds one tracer and the instruments, created once.
type Telemetry struct {
	tracer  trace.Tracer
	reasons []Reason

	counters  [numKinds]metric.Int64Counter
	durations [numKinds]metric.Float64Histogram
	failures  metric.Int64Counter
}

// libraryReasons classify the root package's errors in every package; set
// once by the root package's init, before any New.
var libraryReasons []Reason

// SetLibraryReasons records the root package's failure reasons, which
// every Telemetry consults after its own.
func SetLibraryReasons(rs []Reason) { libraryReasons = rs }

// New creates the tracer and instruments from tp and mp; nil means the
// global provider (otel.GetTracerProvider, otel.GetMeterProvider), as
// otelhttp does. reasons classify the package's errors.
func New(tp trace.TracerProvider, mp metric.MeterProvider, reasons []Reason) *Telemetry {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &Telemetry{
		tracer:  tp.Tracer(ScopeName),
		reasons: slices.Concat(reasons, libraryReasons, commonReasons),
	}
	m := mp.Meter(ScopeName)
	made := map[string]metric.Int64Counter{}
	madeH := map[string]metric.Float64Histogram{}
	for k := range numKinds {
		d := kinds[k]
		if d.counter == "" {
			continue
		}
		if _, ok := made[d.counter]; !ok {
			// Instrument creation errors are reported to otel's error
			// handler; the returned instrument is usable (a no-op) anyway.
			made[d.counter], _ = m.Int64Counter(d.counter, metric.WithUnit(d.unit), metric.WithDescription(d.counterDesc))
			madeH[d.counter], _ = m.Float64Histogram(d.histogram, metric.WithUnit("s"), metric.WithDescription(d.histDesc))
		}
		t.counters[k], t.durations[k] = made[d.counter], madeH[d.counter]
	}
	t.failures, _ = m.Int64Counter("nextidentity.verification.failures", metric.WithUnit("{failure}"),
		metric.WithDescription("Tokens and events refused by verification, by token kind and failure reason."))
	return t
}

// commonReasons classify what every package can meet.
var commonReasons = []Reason{
	{Err: context.DeadlineExceeded, Word: "timeout"},
	{Err: context.Canceled, Word: "canceled"},
}

// reason returns the failure reason of err.
func (t *Telemetry) reason(err error) Reason {
	for _, r := range t.reasons {
		if errors.Is(err, r.Err) {
			return r
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return Reason{Word: "timeout"}
		}
		return Reason{Word: "network"}
	}
	return Reason{Word: "_OTHER"}
}

// Active reports whether an operation of kind would record anything: a
// span (for a store call, only under a recording parent) or a metric. It
// allocates nothing.
func (t *Telemetry) Active(ctx context.Context, k Kind) bool {
	if t == nil {
		return false
	}
	if trace.SpanFromContext(ctx).IsRecording() {
		return true
	}
	if !kinds[k].childOnly {
		return true // a root span may be recorded: only the tracer knows
	}
	c, h := t.counters[k], t.durations[k]
	return c != nil && c.Enabled(ctx) || h != nil && h.Enabled(ctx)
}

// Op is an operation in progress: its span, its start and what End needs.
type Op struct {
	t         *Telemetry
	ctx       context.Context
	kind      Kind
	span      trace.Span
	start     time.Time
	grantType string
	tokenKind string // a verification: End counts its failure
	failed    error  // recorded by Fail, see StartRecorded
}

// Start begins an operation of kind and returns the context that carries
// its span. A nil Telemetry starts nothing. A store call gets a span only under a recording parent (the
// login, callback or refresh span, or the application's request span).
func (t *Telemetry) Start(ctx context.Context, k Kind) (context.Context, Op) {
	if t == nil {
		return ctx, Op{}
	}
	op := Op{t: t, kind: k, start: time.Now()}
	d := &kinds[k]
	if !d.childOnly || trace.SpanFromContext(ctx).IsRecording() {
		ctx, op.span = t.tracer.Start(ctx, d.span, trace.WithSpanKind(d.spanKind))
		if d.spanAttr.Valid() && op.span.IsRecording() {
			op.span.SetAttributes(d.spanAttr)
		}
	}
	op.ctx = ctx
	return ctx, op
}

// StartToken begins a token request span with its grant type.
func (t *Telemetry) StartToken(ctx context.Context, grantType string) (context.Context, Op) {
	ctx, op := t.Start(ctx, TokenRequest)
	op.grantType = grantType
	if op.span != nil && op.span.IsRecording() {
		op.span.SetAttributes(KeyGrantType.String(grantType))
	}
	return ctx, op
}

// StartVerify begins the verification of a token or event of tokenKind
// (LogoutToken, Event): End also counts its failure in the verification
// failure counter.
func (t *Telemetry) StartVerify(ctx context.Context, k Kind, tokenKind string) (context.Context, Op) {
	ctx, op := t.Start(ctx, k)
	op.tokenKind = tokenKind
	return ctx, op
}

// End ends the operation with the error *errp (nil: success), recording
// the span's status and the kind's metrics. Use it as defer op.End(&err).
func (o *Op) End(errp *error) {
	if o.t == nil {
		return
	}
	var err error
	if errp != nil {
		err = *errp
	}
	outcome, r := OutcomeSuccess, Reason{}
	if err != nil {
		r = o.t.reason(err)
		outcome = OutcomeFailure
		if r.Benign {
			outcome = r.Word
		}
	}
	if o.tokenKind != "" && err != nil {
		o.t.VerifyFailed(o.ctx, o.tokenKind, &err)
	}
	if o.span != nil {
		if o.span.IsRecording() {
			o.span.SetAttributes(KeyOutcome.String(outcome))
			if err != nil && !r.Benign {
				o.span.SetAttributes(KeyFailureReason.String(r.Word), keyErrorTyp.String(r.Word))
				// The description is the reason, never err.Error(): a
				// provider's error text is not ours to export.
				o.span.SetStatus(codes.Error, r.Word)
			}
		}
		o.span.End()
	}
	c, h := o.t.counters[o.kind], o.t.durations[o.kind]
	if c == nil || !c.Enabled(o.ctx) && !h.Enabled(o.ctx) {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 4)
	attrs = append(attrs, KeyOutcome.String(outcome))
	if err != nil && !r.Benign {
		attrs = append(attrs, KeyFailureReason.String(r.Word))
	}
	if o.grantType != "" {
		attrs = append(attrs, KeyGrantType.String(o.grantType))
	}
	if a := kinds[o.kind].metricAttr; a.Valid() {
		attrs = append(attrs, a)
	}
	opt := metric.WithAttributes(attrs...)
	c.Add(o.ctx, 1, opt)
	h.Record(o.ctx, time.Since(o.start).Seconds(), opt)
}

// VerifyFailed counts *errp, when not nil, as a refused token or event of
// kind (IDToken, AccessToken, LogoutToken, Event) by failure reason. Use it
// as defer t.VerifyFailed(ctx, kind, &err): a successful verification costs
// a nil check.
func (t *Telemetry) VerifyFailed(ctx context.Context, kind string, errp *error) {
	if t == nil || *errp == nil || !t.failures.Enabled(ctx) {
		return
	}
	t.failures.Add(ctx, 1, metric.WithAttributes(KeyTokenKind.String(kind), KeyFailureReason.String(t.reason(*errp).Word)))
}

// HTTP annotates the span in req's context, when it records, with the
// request's method and server and the response status (0: no response).
// It reads nothing else of the request: not the URL's path or query, and
// no header.
func HTTP(req *http.Request, endpoint string, status int) {
	span := trace.SpanFromContext(req.Context())
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		KeyEndpoint.String(endpoint),
		keyMethod.String(req.Method),
		keyAddress.String(req.URL.Hostname()),
	}
	if p := req.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			attrs = append(attrs, keyPort.Int(n))
		}
	} else if req.URL.Scheme == "https" {
		attrs = append(attrs, keyPort.Int(443))
	} else if req.URL.Scheme == "http" {
		attrs = append(attrs, keyPort.Int(80))
	}
	if status != 0 {
		attrs = append(attrs, keyStatus.Int(status))
	}
	span.SetAttributes(attrs...)
}

// opKey is the context key of an operation started with StartRecorded.
type opKey struct{}

// StartRecorded is Start for an operation whose failure is reported from
// deeper down, with Fail on its context, instead of returned (an HTTP
// handler that answers through an error callback). End it with
// EndRecorded. It allocates: use it for handlers, not on hot paths.
func (t *Telemetry) StartRecorded(ctx context.Context, k Kind) (context.Context, *Op) {
	ctx, op := t.Start(ctx, k)
	p := &op
	return context.WithValue(ctx, opKey{}, p), p
}

// Fail records err as the failure of the operation StartRecorded put in
// ctx; the first failure recorded wins. Without one it does nothing.
func Fail(ctx context.Context, err error) {
	if op, ok := ctx.Value(opKey{}).(*Op); ok && op.failed == nil {
		op.failed = err
	}
}

// EndRecorded ends an operation started with StartRecorded, with the
// failure Fail recorded, if any.
func (o *Op) EndRecorded() { o.End(&o.failed) }
