package reflector

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
)

// tcpConns bounds the TCP connections open at once, in all and per
// source, apart from the rate-limit table: an entry lives only as long
// as its connection, so connecting and resetting from many addresses
// fills nothing. When every slot is taken, the connection that has waited
// longest without proving the token is closed to make room: clients that
// connect and send nothing (slowloris) cannot keep a prompt one out.
type tcpConns struct {
	mu      sync.Mutex
	max     int
	perAddr int
	open    int
	by      map[netip.Addr]int
	waiting list.List // *tcpConn not yet proven, oldest first
}

type tcpConn struct {
	c    net.Conn
	key  netip.Addr
	elem *list.Element // in waiting, until proven
	gone bool          // closed to make room: already uncounted
}

func newTCPConns(max, perAddr int) *tcpConns {
	return &tcpConns{max: max, perAddr: perAddr, by: map[netip.Addr]int{}}
}

// add counts a new connection from key; it returns nil when key has its
// share open already, or every slot is taken by proven connections.
// evicted tells how many waiting connections were closed for it.
func (t *tcpConns) add(c net.Conn, key netip.Addr) (tc *tcpConn, evicted int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.by[key] >= t.perAddr {
		return nil, 0
	}
	if t.open >= t.max {
		front := t.waiting.Front()
		if front == nil {
			return nil, 0
		}
		old := front.Value.(*tcpConn)
		t.waiting.Remove(front)
		old.elem, old.gone = nil, true
		t.uncount(old.key)
		old.c.Close()
		evicted = 1
	}
	tc = &tcpConn{c: c, key: key}
	tc.elem = t.waiting.PushBack(tc)
	t.open++
	t.by[key]++
	return tc, evicted
}

// proven takes tc off the list of connections that may be closed for room.
func (t *tcpConns) proven(tc *tcpConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc.elem != nil {
		t.waiting.Remove(tc.elem)
		tc.elem = nil
	}
}

// evicted reports whether tc was closed to make room.
func (t *tcpConns) evicted(tc *tcpConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return tc.gone
}

// done uncounts a connection that ended.
func (t *tcpConns) done(tc *tcpConn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc.gone {
		return
	}
	tc.gone = true
	if tc.elem != nil {
		t.waiting.Remove(tc.elem)
		tc.elem = nil
	}
	t.uncount(tc.key)
}

func (t *tcpConns) uncount(key netip.Addr) {
	t.open--
	if t.by[key]--; t.by[key] <= 0 {
		delete(t.by, key)
	}
}

func (t *tcpConns) len() (open, addrs int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open, len(t.by)
}
