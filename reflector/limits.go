package reflector

import (
	"container/heap"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sources rate-limits replies per source address. It holds at most max
// sources; when full it first forgets the ones idle for a while, and
// refuses new sources while none is idle (fail closed: a flood of new
// addresses cannot grow it).
type sources struct {
	mu    sync.Mutex
	rate  rate.Limit
	burst int
	max   int
	m     map[netip.Addr]*source
}

// source is one source that proved the token: entries are made only
// after a request proved it (TCP connections are counted apart, in
// tcpConns), so that unauthenticated traffic cannot fill the table.
type source struct {
	lim     *rate.Limiter
	last    time.Time
	pending int // delayed replies waiting for this source
}

func newSources(pps float64, burst, max int) *sources {
	return &sources{rate: rate.Limit(pps), burst: burst, max: max, m: map[netip.Addr]*source{}}
}

// get returns the source's state, creating it; nil when the table is full.
// The caller holds s.mu.
func (s *sources) get(a netip.Addr, now time.Time) *source {
	if src, ok := s.m[a]; ok {
		src.last = now
		return src
	}
	if len(s.m) >= s.max {
		s.evict(now)
		if len(s.m) >= s.max {
			return nil
		}
	}
	src := &source{lim: rate.NewLimiter(s.rate, s.burst), last: now}
	s.m[a] = src
	return src
}

// evict forgets sources with nothing pending that have been idle long
// enough for their bucket to be full again.
func (s *sources) evict(now time.Time) {
	idle := time.Second
	if s.rate > 0 {
		if d := time.Duration(float64(s.burst) / float64(s.rate) * float64(time.Second)); d > idle {
			idle = d
		}
	}
	for a, src := range s.m {
		if src.pending == 0 && now.Sub(src.last) > idle {
			delete(s.m, a)
		}
	}
}

// allow takes n tokens (replies) from a's bucket.
func (s *sources) allow(a netip.Addr, n int) bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.get(a, now)
	return src != nil && src.lim.AllowN(now, n)
}

// addPending counts one more delayed reply for a, unless a has max already.
func (s *sources) addPending(a netip.Addr, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.get(a, time.Now())
	if src == nil || src.pending >= max {
		return false
	}
	src.pending++
	return true
}

func (s *sources) donePending(a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if src, ok := s.m[a]; ok && src.pending > 0 {
		src.pending--
	}
}

func (s *sources) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// nonces remembers the nonces seen within the replay window, so that a
// captured request cannot be replayed (to a spoofed victim, say) while its
// timestamp is still accepted. A nonce is forgotten when its timestamp
// leaves the window (it would be refused as stale from then on). It holds
// at most max in all and perSource for one source; a full source is
// refused new nonces until its old ones expire, and the others are not.
type nonces struct {
	mu        sync.Mutex
	window    time.Duration
	max       int
	perSource int
	seen      map[[16]byte]struct{}
	per       map[netip.Addr]int
	// byExp holds the nonces by expiry, earliest first.
	byExp nonceHeap
}

type nonceAt struct {
	nonce [16]byte
	src   netip.Addr
	exp   int64 // Unix nanoseconds: its timestamp plus the window
}

type nonceHeap []nonceAt

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].exp < h[j].exp }
func (h nonceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nonceHeap) Push(x any)        { *h = append(*h, x.(nonceAt)) }
func (h *nonceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newNonces(window time.Duration, max, perSource int) *nonces {
	return &nonces{window: window, max: max, perSource: perSource,
		seen: map[[16]byte]struct{}{}, per: map[netip.Addr]int{}}
}

// stale reports whether a message sent at t is outside the window now.
func (c *nonces) stale(t, now time.Time) bool {
	d := now.Sub(t)
	return d > c.window || d < -c.window
}

// remember stores the nonce of a fresh message sent at t by src; it
// returns "" when stored, else why not: "replay", "full" (the store) or
// "source full" (src's share).
func (c *nonces) remember(nonce [16]byte, src netip.Addr, t, now time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	if _, dup := c.seen[nonce]; dup {
		return "replay"
	}
	if c.per[src] >= c.perSource {
		return "source full"
	}
	if len(c.seen) >= c.max {
		return "full"
	}
	c.seen[nonce] = struct{}{}
	c.per[src]++
	heap.Push(&c.byExp, nonceAt{nonce, src, t.Add(c.window).UnixNano()})
	return ""
}

// has reports whether the nonce is remembered.
func (c *nonces) has(nonce [16]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.seen[nonce]
	return ok
}

// expire forgets the nonces whose timestamps have left the window.
func (c *nonces) expire(now time.Time) {
	limit := now.UnixNano()
	for len(c.byExp) > 0 && c.byExp[0].exp < limit {
		n := heap.Pop(&c.byExp).(nonceAt)
		delete(c.seen, n.nonce)
		if c.per[n.src]--; c.per[n.src] <= 0 {
			delete(c.per, n.src)
		}
	}
}

func (c *nonces) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
