package redistest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Children get SIGKILL when the thread that started them dies (Pdeathsig).
// That is a thread, not the process, so they are all started from one OS
// thread that lives as long as the test binary: a server then never
// outlives its test binary, even one killed without running cleanups.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

func spawn(cmd *exec.Cmd) (*process, error) {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread stays
			for r := range spawner.reqs {
				r.err <- r.cmd.Start()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	req := spawnReq{cmd: cmd, err: make(chan error, 1)}
	spawner.reqs <- req
	if err := <-req.err; err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}
