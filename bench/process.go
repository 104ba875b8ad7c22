package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tutti-gw/tutti/demo"
)

// coldCacheEnv keeps the gateway from answering from its entity cache
// (gateway/config.go: GATEWAY_CACHE=false sends every call upstream), so
// that every figure is for a cold cache. REDIS_URL is never passed on
// either (inheritedEnv).
var coldCacheEnv = []string{"GATEWAY_CACHE=false"}

// moduleRoot returns the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the tutti module: run from its root (go run ./bench)")
	}
	return filepath.Dir(mod), nil
}

// buildGateway builds the gateway binary once for every mode.
func buildGateway(ctx context.Context, root, bin string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build the gateway: %w", err)
	}
	return nil
}

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}

// gatewayProc is one gateway child process.
type gatewayProc struct {
	mode string
	cmd  *exec.Cmd
	pid  int
	// base is the gateway's URL, without /graphql.
	base    string
	logPath string
	done    chan struct{}
}

// startGateway starts the gateway in mode over the demo services, on a
// loopback port of its choosing (read from what it prints), and waits
// until it is ready.
func startGateway(ctx context.Context, bin, dir, mode string, d *demo.Demo, secret string, warm bool, extra []string) (*gatewayProc, error) {
	logPath := filepath.Join(dir, "gateway-"+mode+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	env := []string{
		"GATEWAY_ADDR=127.0.0.1:0",
		"GATEWAY_MODE=" + mode,
		"JWT_HS256_SECRET=" + secret,
		"GATEWAY_SHUTDOWN_GRACE=2s",
	}
	for _, s := range demo.Services {
		env = append(env, "UPSTREAM_"+strings.ToUpper(s)+"_URL="+d.URL(s))
	}
	if !warm {
		env = append(env, coldCacheEnv...)
	}
	env = append(env, extra...)
	cmd := exec.Command(bin)
	cmd.Env = append(inheritedEnv(), env...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = childAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start gateway %s: %w", mode, err)
	}
	g := &gatewayProc{mode: mode, cmd: cmd, pid: cmd.Process.Pid, logPath: logPath, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		// The gateway announces where it listens on stdout; everything it
		// prints goes to the log.
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if _, after, ok := strings.Cut(line, "serving GraphQL at "); ok {
				select {
				case addr <- strings.TrimSuffix(strings.TrimSpace(after), "/graphql"):
				default:
				}
			}
		}
		_, _ = io.Copy(logFile, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(g.done)
	}()
	fail := func(err error) (*gatewayProc, error) {
		g.stop()
		return nil, fmt.Errorf("gateway %s: %w\n%s", mode, err, tail(logPath, 20))
	}
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	select {
	case g.base = <-addr:
	case <-g.done:
		return fail(errors.New("exited before listening"))
	case <-timeout.C:
		return fail(errors.New("not listening after 30s"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	res, err := http.Get(g.base + "/readyz")
	if err != nil {
		return fail(fmt.Errorf("readyz: %w", err))
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("readyz: status %d", res.StatusCode))
	}
	return g, nil
}

// inheritedEnv is this process's environment less what configures a
// gateway, so that nothing set in the shell (a REDIS_URL, a mode, a URL)
// changes what is measured.
func inheritedEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GATEWAY_") || strings.HasPrefix(k, "UPSTREAM_") ||
			strings.HasPrefix(k, "JWT_") || strings.HasPrefix(k, "REDIS_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// stop ends the process: SIGTERM, then SIGKILL after 5 s.
func (g *gatewayProc) stop() {
	select {
	case <-g.done:
		return
	default:
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-g.done:
	case <-t.C:
		_ = g.cmd.Process.Kill()
		<-g.done
	}
}

// alive reports whether the process still runs.
func (g *gatewayProc) alive() bool {
	select {
	case <-g.done:
		return false
	default:
		return true
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux the harness runs on).
const clockTick = 10 * time.Millisecond

// procCPU returns the CPU time (user + system, all threads) the process
// has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return time.Duration(ut+st) * clockTick, nil
}

// selfCPU returns this process's CPU time so far (load generator and demo
// services).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hostCPU returns the machine's busy and total jiffies from /proc/stat.
func hostCPU() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, s := range f[1:] {
		n, _ := strconv.ParseInt(s, 10, 64)
		total += n
		// idle (4th) and iowait (5th) are not busy.
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total
}
