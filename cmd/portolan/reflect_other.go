//go:build !linux

package main

import "syscall"

// shardAttr: outside Linux a shard does not learn of its parent's death.
func shardAttr() *syscall.SysProcAttr { return nil }
