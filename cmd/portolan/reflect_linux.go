package main

import "syscall"

// shardAttr makes a shard process die with its parent.
func shardAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} }
