package main

// The -table proxy comparison: one authenticated GET through an app that
// protects itself in process with nihttp.RequireLogin (cookie store, and
// Redis store), and through oauth2-proxy in front of the same app, beside
// the app unprotected. Every server is a process of its own, so each one's
// CPU time is its own; the load generator and the fake provider run in this
// process and are not counted.

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/oidc-kit/nextidentity/nextidentitytest"
)

// The peer measured, built from the Go module proxy.
const (
	oauth2ProxyVersion = "v7.15.6"
	oauth2ProxyModule  = "github.com/oauth2-proxy/oauth2-proxy/v7@" + oauth2ProxyVersion
)

// The fake provider's clients: the nihttp app and oauth2-proxy. Their
// loopback redirect URIs are accepted on any port (RFC 8252 §7.3).
const (
	appClientID   = "bench-app"
	appSecret     = "bench-app-secret"
	proxyClientID = "bench-oauth2-proxy"
	proxySecret   = "bench-oauth2-proxy-secret"
)

// benchCookieKey seals the nihttp sessions (32 bytes, hex), and
// proxyCookieSecret oauth2-proxy's (32 bytes): fixed, so a session cookie
// made by one process opens in the next (the start-up measurement).
const (
	benchCookieKey    = "6e6962656e63682d636f6f6b69652d6b65792d30313233343536373839616263"
	proxyCookieSecret = "0123456789abcdef0123456789abcdef"
)

// serveEnv names the environment that turns this program into one of the
// measured servers (see serveChild).
const serveEnv = "NIBENCH_SERVE"

// proxyOptions configure the comparison.
type proxyOptions struct {
	Requests    int    // measured requests per target per round
	Concurrency int    // requests in flight
	Rounds      int    // rounds; each measures every target once, in a rotating order
	Starts      int    // process starts per target for the start-up column
	Peer        string // the oauth2-proxy binary; "" skips the peer
	Out         io.Writer
}

// target is one measured server.
type target struct {
	name  string
	url   string       // where requests go
	pids  []func() int // the processes whose CPU time a request costs
	jar   http.CookieJar
	start func(ctx context.Context, addr string) (*exec.Cmd, error) // a fresh process, for the start-up column
}

// result is one target's numbers in one round.
type result struct {
	p50, p99  time.Duration
	rps       float64
	cpuPerReq time.Duration
}

// proxyTable runs the comparison and prints it.
func proxyTable(ctx context.Context, o proxyOptions) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	provider := nextidentitytest.NewServer(nextidentitytest.Options{Clients: []nextidentitytest.Client{
		{ID: appClientID, Secret: appSecret, RedirectURIs: []string{"http://127.0.0.1/callback"}},
		{ID: proxyClientID, Secret: proxySecret, RedirectURIs: []string{"http://127.0.0.1/oauth2/callback"}},
	}})
	defer provider.Close()

	var procs procSet
	defer procs.stopAll()

	redisAddr, err := procs.startRedis(ctx)
	if err != nil {
		return fmt.Errorf("redis-server: %w", err)
	}
	redisPID := procs.last()
	childEnv := func(kind, addr string, extra ...string) []string {
		return append(append(os.Environ(), serveEnv+"="+kind, "NIBENCH_ADDR="+addr,
			"NIBENCH_ISSUER="+provider.Issuer(), "NIBENCH_CLIENT_ID="+appClientID,
			"NIBENCH_CLIENT_SECRET="+appSecret, "NIBENCH_KEY="+benchCookieKey), extra...)
	}
	startSelf := func(kind string, extra ...string) func(ctx context.Context, addr string) (*exec.Cmd, error) {
		return func(ctx context.Context, addr string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, self)
			cmd.Env = childEnv(kind, addr, extra...)
			cmd.Stderr = os.Stderr // a child's failure says why
			return cmd, cmd.Start()
		}
	}

	upAddr, err := procs.run(ctx, startSelf("upstream"))
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	up := procs.last()
	targets := []*target{{name: "upstream (unprotected)", url: "http://" + upAddr + "/", pids: []func() int{up}, start: startSelf("upstream")}}

	for _, store := range []struct {
		name, redis string
		pids        []func() int // besides the app's: the store's server
	}{{"cookie", "", nil}, {"redis", redisAddr, []func() int{redisPID}}} {
		start := startSelf("nihttp", "NIBENCH_REDIS="+store.redis)
		addr, err := procs.run(ctx, start)
		if err != nil {
			return fmt.Errorf("nihttp (%s store): %w", store.name, err)
		}
		t := &target{name: "nihttp, " + store.name + " store", url: "http://" + addr + "/",
			pids: append([]func() int{procs.last()}, store.pids...), start: start}
		jar, _ := cookiejar.New(nil)
		t.jar = jar
		if _, err := provider.NewBrowser().SignIn(ctx, &http.Client{Jar: jar}, "http://"+addr+"/login?return_to=/",
			nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword); err != nil {
			return fmt.Errorf("signing in to nihttp (%s store): %w", store.name, err)
		}
		targets = append(targets, t)
	}

	if o.Peer != "" {
		start := func(ctx context.Context, addr string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, o.Peer,
				"--provider=oidc", "--oidc-issuer-url="+provider.Issuer(),
				"--client-id="+proxyClientID, "--client-secret="+proxySecret,
				"--redirect-url=http://"+addr+"/oauth2/callback", "--http-address="+addr,
				"--upstream=http://"+upAddr+"/", "--cookie-secret="+proxyCookieSecret, "--cookie-secure=false",
				"--email-domain=*", "--code-challenge-method=S256", "--skip-provider-button=true",
				"--scope=openid email profile",
				// Logging off, as nihttp logs nothing per request.
				"--request-logging=false", "--auth-logging=false", "--standard-logging=false")
			cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
			return cmd, cmd.Start()
		}
		addr, err := procs.run(ctx, start)
		if err != nil {
			return fmt.Errorf("oauth2-proxy: %w", err)
		}
		t := &target{name: "oauth2-proxy " + strings.TrimPrefix(oauth2ProxyVersion, "v"),
			url: "http://" + addr + "/", pids: []func() int{procs.last(), up}, start: start}
		jar, _ := cookiejar.New(nil)
		t.jar = jar
		if err := signInThroughProxy(ctx, provider, jar, "http://"+addr); err != nil {
			return fmt.Errorf("signing in through oauth2-proxy: %w", err)
		}
		targets = append(targets, t)
	}

	for _, t := range targets { // every target answers the signed-in request
		if err := check(ctx, t); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}

	results := make([][]result, len(targets))
	for r := range o.Rounds {
		for k := range targets {
			i := (k + r) % len(targets) // rotate, so no target always goes first
			res, err := load(ctx, targets[i], o.Requests, o.Concurrency)
			if err != nil {
				return fmt.Errorf("%s: %w", targets[i].name, err)
			}
			results[i] = append(results[i], res)
		}
	}
	starts := make([]time.Duration, len(targets))
	for i, t := range targets {
		var ds []time.Duration
		for range o.Starts {
			d, err := startToFirstAnswer(ctx, t)
			if err != nil {
				return fmt.Errorf("%s start-up: %w", t.name, err)
			}
			ds = append(ds, d)
		}
		starts[i] = medianDuration(ds)
	}
	printProxyTable(o, targets, results, starts)
	return nil
}

// signInThroughProxy signs the default user in through oauth2-proxy at base:
// its /oauth2/start sends the browser to the provider, whose answer goes to
// the proxy's /oauth2/callback, which sets the session cookie in jar.
func signInThroughProxy(ctx context.Context, provider *nextidentitytest.Server, jar http.CookieJar, base string) error {
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := ctxGet(ctx, hc, base+"/oauth2/start?rd=%2F")
	if err != nil {
		return err
	}
	authURL, err := resp.Location()
	if err != nil {
		return fmt.Errorf("/oauth2/start answered %s without a redirect", resp.Status)
	}
	q, err := provider.NewBrowser().Login(ctx, authURL.String(), nextidentitytest.DefaultUserEmail, nextidentitytest.DefaultUserPassword)
	if err != nil {
		return err
	}
	resp, err = ctxGet(ctx, hc, base+"/oauth2/callback?"+q.Encode())
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusFound {
		return fmt.Errorf("/oauth2/callback answered %s", resp.Status)
	}
	return nil
}

// ctxGet is a GET whose body is read and closed.
func ctxGet(ctx context.Context, hc *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}

// cookieHeader is the Cookie header the target's session sends.
func (t *target) cookieHeader() string {
	if t.jar == nil {
		return ""
	}
	u, _ := url.Parse(t.url)
	var parts []string
	for _, c := range t.jar.Cookies(u) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}

// check makes one signed-in request and wants the app's answer.
func check(ctx context.Context, t *target) error {
	code, body, err := getWithCookie(ctx, http.DefaultClient, t.url, t.cookieHeader())
	if err != nil {
		return err
	}
	if code != http.StatusOK || !strings.HasPrefix(body, "hello") {
		return fmt.Errorf("the signed-in request got %d %q, not the app's answer", code, body)
	}
	return nil
}

func getWithCookie(ctx context.Context, hc *http.Client, u, cookie string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), err
}

// load sends n signed-in requests to t, c at a time, after a warm-up, and
// measures their latency, the rate and the CPU time t's processes spent.
func load(ctx context.Context, t *target, n, c int) (result, error) {
	tr := &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	cookie := t.cookieHeader()
	run := func(count int, lat []time.Duration) error {
		var next int64 = -1
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		for range c {
			wg.Go(func() {
				for {
					mu.Lock()
					next++
					i := next
					stop := i >= int64(count) || firstErr != nil
					mu.Unlock()
					if stop {
						return
					}
					t0 := time.Now()
					code, _, err := getWithCookie(ctx, hc, t.url, cookie)
					d := time.Since(t0)
					if err == nil && code != http.StatusOK {
						err = fmt.Errorf("HTTP %d", code)
					}
					mu.Lock()
					if err != nil && firstErr == nil {
						firstErr = err
					}
					if lat != nil {
						lat[i] = d
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return firstErr
	}
	if err := run(min(n/5+c, 500), nil); err != nil { // warm-up: connections, caches
		return result{}, err
	}
	cpu0 := cpuOf(t.pids)
	lat := make([]time.Duration, n)
	t0 := time.Now()
	if err := run(n, lat); err != nil {
		return result{}, err
	}
	wall := time.Since(t0)
	cpu := cpuOf(t.pids) - cpu0
	slices.Sort(lat)
	return result{
		p50:       lat[n/2],
		p99:       lat[min(n-1, n*99/100)],
		rps:       float64(n) / wall.Seconds(),
		cpuPerReq: cpu / time.Duration(n),
	}, nil
}

// startToFirstAnswer starts a fresh process of t on a free port and times
// it from the start to its first answer to the signed-in request (the
// session cookie made by the first process still opens: same keys, same
// Redis).
func startToFirstAnswer(ctx context.Context, t *target) (time.Duration, error) {
	addr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	cookie := t.cookieHeader()
	t0 := time.Now()
	cmd, err := t.start(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for {
		code, body, err := getWithCookie(ctx, hc, "http://"+addr+"/", cookie)
		if err == nil && code == http.StatusOK && strings.HasPrefix(body, "hello") {
			return time.Since(t0), nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("no signed-in answer within 30 s (last: %d %v)", code, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func printProxyTable(o proxyOptions, targets []*target, results [][]result, starts []time.Duration) {
	w := o.Out
	fmt.Fprintf(w, "one signed-in GET, %d concurrent; %s; %d requests x %d rotating rounds, medians\n\n",
		o.Concurrency, machine(), o.Requests, o.Rounds)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tp50\tp99\treq/s\tCPU/req\tstart to first answer\tp50/up\tCPU/up\tp50/proxy\tCPU/proxy\t")
	med := func(rs []result, f func(result) float64) float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	p50 := func(r result) float64 { return float64(r.p50) }
	cpu := func(r result) float64 { return float64(r.cpuPerReq) }
	peer := -1
	if o.Peer != "" {
		peer = len(targets) - 1
	}
	// Ratios are medians of per-round ratios: a round measures every target.
	perRound := func(i, j int, f func(result) float64) string {
		if j < 0 {
			return "-"
		}
		var xs []float64
		for k := range results[i] {
			xs = append(xs, f(results[i][k])/f(results[j][k]))
		}
		return fmt.Sprintf("%.2fx", median(xs))
	}
	for i, t := range targets {
		rs := results[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", t.name,
			time.Duration(med(rs, p50)).Round(time.Microsecond), time.Duration(med(rs, func(r result) float64 { return float64(r.p99) })).Round(time.Microsecond),
			med(rs, func(r result) float64 { return r.rps }), time.Duration(med(rs, cpu)).Round(time.Microsecond),
			starts[i].Round(100*time.Microsecond),
			perRound(i, 0, p50), perRound(i, 0, cpu), perRound(i, peer, p50), perRound(i, peer, cpu))
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nCPU/req: user+system time of the target's processes per request (the redis row: the app and redis-server;")
	fmt.Fprintln(w, "oauth2-proxy: the proxy and the app behind it);")
	fmt.Fprintln(w, "up: the unprotected app; proxy: oauth2-proxy. The load generator and the fake provider are not counted.")
}

func medianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}

// procSet owns the started processes.
type procSet struct {
	mu    sync.Mutex
	cmds  []*exec.Cmd
	exits []chan error // each process's Wait result
}

// run starts a process on a free loopback port and waits until it accepts
// connections; it returns the address.
func (p *procSet) run(ctx context.Context, start func(ctx context.Context, addr string) (*exec.Cmd, error)) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	cmd, err := start(context.WithoutCancel(ctx), addr)
	if err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p.mu.Lock()
	p.cmds = append(p.cmds, cmd)
	p.exits = append(p.exits, exited)
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return addr, nil
		}
		select {
		case err := <-exited:
			exited <- err // for stopAll
			return "", fmt.Errorf("%s exited before it listened: %v", filepath.Base(cmd.Path), err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	return "", fmt.Errorf("%s did not listen on %s within 30 s", filepath.Base(cmd.Path), addr)
}

// last is the PID of the process started last, as a func for target.pids.
func (p *procSet) last() func() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := p.cmds[len(p.cmds)-1]
	return func() int { return cmd.Process.Pid }
}

func (p *procSet) startRedis(ctx context.Context) (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", err
	}
	return p.run(ctx, func(ctx context.Context, addr string) (*exec.Cmd, error) {
		_, port, _ := net.SplitHostPort(addr)
		cmd := exec.CommandContext(ctx, bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
		return cmd, cmd.Start()
	})
}

func (p *procSet) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, cmd := range p.cmds {
		_ = cmd.Process.Kill()
		<-p.exits[i]
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuOf is the CPU time the processes have used: the sum of their threads'
// /proc/PID/task/*/schedstat (nanoseconds), or /proc/PID/stat's utime and
// stime (clock ticks) where schedstat is missing.
func cpuOf(pids []func() int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		total += processCPU(pid())
	}
	return total
}

func processCPU(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var ns int64
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			v, _ := strconv.ParseInt(fields[0], 10, 64)
			ns += v
		}
	}
	if ns > 0 {
		return time.Duration(ns)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// ensureOAuth2Proxy returns an oauth2-proxy binary: path when it is set,
// else one built with "go install" from the Go module proxy into the
// user's cache directory (once; later runs reuse it).
func ensureOAuth2Proxy(ctx context.Context, path string, log io.Writer) (string, error) {
	if path != "" {
		return path, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "nextidentity-bench", "oauth2-proxy-"+oauth2ProxyVersion)
	bin := filepath.Join(dir, "oauth2-proxy")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	fmt.Fprintf(log, "building %s into %s (once; a few minutes)...\n", oauth2ProxyModule, dir)
	cmd := exec.CommandContext(ctx, "go", "install", oauth2ProxyModule)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.Dir = os.TempDir() // outside this module: its go.mod must not change
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", oauth2ProxyModule, err, out)
	}
	return bin, nil
}

// serveChild runs this program as one of the measured servers, configured
// by NIBENCH_* variables, until it is killed.
func serveChild(kind string) error {
	addr := os.Getenv("NIBENCH_ADDR")
	var h http.Handler
	switch kind {
	case "upstream":
		h = http.HandlerFunc(app)
	case "nihttp":
		key, err := hex.DecodeString(os.Getenv("NIBENCH_KEY"))
		if err != nil {
			return err
		}
		if h, err = protectedApp(context.Background(), addr, key); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown %s %q", serveEnv, kind)
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	return srv.ListenAndServe()
}

// app is the application every target serves: it greets the user that
// oauth2-proxy names in X-Forwarded-Email (or nobody, unprotected).
func app(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "hello %s\n", r.Header.Get("X-Forwarded-Email"))
}
