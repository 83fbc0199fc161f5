// Package redistest runs a throwaway Redis server for tests: Debian's
// redis-server on a free loopback port, without persistence, stopped when
// the test ends.
//
// Without a redis-server binary the test is skipped, except in CI
// (CI=true), where .ci/run installs it and its absence fails the test.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long Start waits for the server to answer PING.
const startTimeout = 15 * time.Second

// Server is a running redis-server.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
	once sync.Once
}

// Start starts a redis-server for t and returns its address. The server is
// stopped when t and its subtests finish.
func Start(t testing.TB) string {
	t.Helper()
	return StartServer(t).Addr
}

// StartServer is Start returning the Server, for tests that stop Redis
// while they run (Stop).
func StartServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, false)
}

// StartCluster starts a redis-server in cluster mode, as a one-node Redis
// Cluster serving every hash slot, and returns its address (for
// redis.ClusterOptions.Addrs). Like every Redis Cluster it refuses a
// command or script whose keys lie in different hash slots (CROSSSLOT), so
// a store that passes its tests against it respects the Cluster's rules.
func StartCluster(t testing.TB) string {
	t.Helper()
	return startServer(t, true).Addr
}

// StartSentinel starts a Redis Sentinel that monitors the primary at
// primaryAddr (a server from Start) under the name master, and returns the
// Sentinel's address (for redis.FailoverOptions.SentinelAddrs).
func StartSentinel(t testing.TB, primaryAddr, master string) string {
	t.Helper()
	return startMode(t, mode{sentinel: primaryAddr, master: master}).Addr
}

// mode is what kind of server start runs.
type mode struct {
	cluster          bool
	sentinel, master string // the primary a Sentinel monitors, under name master
}

func startServer(t testing.TB, cluster bool) *Server {
	t.Helper()
	return startMode(t, mode{cluster: cluster})
}

func startMode(t testing.TB, m mode) *Server {
	t.Helper()
	bin := binary(t)
	var lastErr error
	// A port found free can be taken before redis-server binds it; try a
	// few times before giving up.
	for range 3 {
		s, err := start(bin, t.TempDir(), m)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// binary finds redis-server, skipping t (failing it under CI=true) when
// there is none.
func binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("redis-server")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("redistest: no redis-server found; CI must install Debian's redis-server (see .ci/run)")
	}
	t.Skip("redistest: no redis-server on this machine; install Debian's redis-server (apt-get install redis-server) to run this test")
	return ""
}

func start(bin, dir string, m mode) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		out:  &lockedBuffer{},
		done: make(chan struct{}),
	}
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
		"--logfile", "",
	}
	if m.sentinel != "" {
		phost, pport, err := net.SplitHostPort(m.sentinel)
		if err != nil {
			return nil, err
		}
		// A Sentinel rewrites its configuration file, so it needs one.
		conf := filepath.Join(dir, "sentinel.conf")
		body := fmt.Sprintf("sentinel monitor %s %s %s 1\n", m.master, phost, pport)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return nil, err
		}
		args = []string{conf, "--sentinel",
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no", "--logfile", ""}
	}
	if m.cluster {
		bus, err := freePort() // the cluster bus; by default port+10000, which may not exist
		if err != nil {
			return nil, err
		}
		args = append(args, "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"))
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.done:
			return nil, fmt.Errorf("redis-server on %s exited before answering PING:\n%s", s.Addr, s.out.String())
		default:
		}
		if ping(s.Addr) == nil {
			if !m.cluster {
				return s, nil
			}
			if err := s.serveAllSlots(deadline); err != nil {
				s.Stop()
				return nil, fmt.Errorf("redis-server on %s: %w:\n%s", s.Addr, err, s.out.String())
			}
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("redis-server on %s did not answer PING within %v:\n%s", s.Addr, startTimeout, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server and waits for it to exit. It is safe to call more
// than once; Start's cleanup calls it too.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

// serveAllSlots gives the one node every hash slot and waits, until
// deadline, for the cluster to report itself ok.
func (s *Server) serveAllSlots(deadline time.Time) error {
	if _, err := command(s.Addr, "CLUSTER ADDSLOTSRANGE 0 16383"); err != nil {
		return err
	}
	for {
		info, err := command(s.Addr, "CLUSTER INFO")
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ok within %v (last: %q, %v)", startTimeout, info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends one PING and expects PONG.
func ping(addr string) error {
	line, err := command(addr, "PING")
	if err != nil {
		return err
	}
	if line != "PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// command sends one inline command on a new connection and returns its
// simple-string or bulk-string answer.
func command(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("%s: %s", cmd, line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 || n > 1<<20 {
			return "", fmt.Errorf("%s: bad answer %q", cmd, line)
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", err
		}
		return string(b[:n]), nil
	}
	return "", fmt.Errorf("%s: unexpected answer %q", cmd, line)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects the server's output for error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 { // keep memory bounded; the start is what matters
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
