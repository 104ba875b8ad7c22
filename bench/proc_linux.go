package main

import "syscall"

// childAttr makes the kernel send SIGTERM to a gateway child if the harness
// dies without stopping it (kill -9 included).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
