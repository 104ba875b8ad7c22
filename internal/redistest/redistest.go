// Package redistest gives tests a real Redis: a shared server (URL, with a
// key prefix per test from Prefix), a private one that can be stopped and
// restarted on the same port (Start), and a Redis Cluster (StartCluster).
//
// Servers it starts are redis-server processes on free loopback ports, with
// persistence off and their files in a temporary directory; they are killed
// at the test's cleanup and, on Linux, also when the test binary dies.
// Tests that need a server fail (not skip) when none can be had: install
// redis-server (Debian: apt-get install redis-server; it brings redis-cli).
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

	"github.com/redis/go-redis/v9"
)

// EnvURL names the environment variable that points tests at a Redis of
// their own choosing: redis://host:port/db.
const EnvURL = "TUTTI_TEST_REDIS"

const defaultAddr = "127.0.0.1:6379"

var shared struct {
	once sync.Once
	url  string
	err  error
}

// URL returns the URL of a Redis shared by the tests of this process: the
// one in $TUTTI_TEST_REDIS if set, else 127.0.0.1:6379 if it answers PING,
// else a redis-server started once for the whole test binary. Tests share
// it, so each keeps to its own keys: use Prefix.
func URL(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared.url = u
			return
		}
		if rawPing(defaultAddr) == nil {
			shared.url = "redis://" + defaultAddr + "/0"
			return
		}
		s, err := start(nil)
		if err != nil {
			shared.err = err
			return
		}
		// It lives as long as the test binary and writes no files (its
		// open log stays valid), so nothing needs its directory.
		os.RemoveAll(s.dir)
		shared.url = s.URL()
	})
	if shared.err != nil {
		t.Fatalf("redistest: no Redis for tests (set %s, run one on %s, or install redis-server): %v", EnvURL, defaultAddr, shared.err)
	}
	return shared.url
}

// Prefix returns a key prefix no other test uses ("test:<name>:<random>:")
// on the shared Redis of URL; the keys under it are deleted at cleanup.
func Prefix(t testing.TB) string {
	t.Helper()
	u := URL(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, t.Name())
	p := "test:" + name + ":" + hex.EncodeToString(rnd[:]) + ":"
	t.Cleanup(func() {
		opt, err := redis.ParseURL(u)
		if err != nil {
			return
		}
		c := redis.NewClient(opt)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return p
}

// Server is a redis-server process of this test's own.
type Server struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// Port is the TCP port, the same across Restart.
	Port int

	t    testing.TB
	dir  string
	args []string

	mu   sync.Mutex
	proc *process
}

// URL is redis://Addr/0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Start starts a private redis-server on a free port, with extra
// redis-server arguments (such as "--maxmemory", "1mb"), and stops it at
// cleanup.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s, err := start(args)
	if err != nil {
		t.Fatalf("redistest: start redis-server (install redis-server): %v", err)
	}
	s.t = t
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(s.dir)
	})
	return s
}

// Stop kills the server (as a crash would: no shutdown, no save) and waits
// until it has exited. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// Restart starts the server again on the same port (stopping it first if
// it runs) and waits until it answers PING. The data is gone.
func (s *Server) Restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
	p, err := launch(s.dir, s.Port, s.args)
	if err != nil {
		s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.Port, err)
	}
	s.proc = p
}

// start launches a redis-server on a free port, trying a few ports.
func start(args []string) (*Server, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	var last error
	for range 5 {
		port, err := freePort(strings.Contains(strings.Join(args, " "), "cluster-enabled"))
		if err != nil {
			return nil, err
		}
		p, err := launch(dir, port, args)
		if err != nil {
			last = err
			continue
		}
		return &Server{Addr: addr(port), Port: port, dir: dir, args: args, proc: p}, nil
	}
	os.RemoveAll(dir)
	return nil, last
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// freePort returns a loopback port that is free now; for a cluster node
// the bus port (port+10000) must be free too.
func freePort(bus bool) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !bus {
			return port, nil
		}
		if port+10000 > 65535 {
			continue
		}
		lb, err := net.Listen("tcp", addr(port+10000))
		if err != nil {
			continue
		}
		lb.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}

// launch runs redis-server on port and waits until it answers PING.
func launch(dir string, port int, args []string) (*process, error) {
	logPath := filepath.Join(dir, fmt.Sprintf("redis-%d.log", port))
	argv := append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", logPath,
	}, args...)
	p, err := spawn(exec.Command("redis-server", argv...))
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := rawPing(addr(port)); err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("redis-server on port %d exited: %s", port, tail(log))
		default:
		}
		if time.Now().After(deadline) {
			p.kill()
			return nil, fmt.Errorf("redis-server on port %d did not answer PING within 10s", port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return s
}

// rawPing sends PING to a plain (no TLS, no password) server at addr and
// wants +PONG, without go-redis, whose pool logs every refused dial.
func rawPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", buf)
	}
	return nil
}

// process is a started redis-server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
}

func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}
