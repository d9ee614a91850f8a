package reflector

import (
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

type source struct {
	lim      *rate.Limiter
	last     time.Time
	pending  int // delayed replies waiting for this source
	sessions int // TCP connections open from it
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
		if src.pending == 0 && src.sessions == 0 && now.Sub(src.last) > idle {
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

// addSession counts one more TCP connection for a, unless a has max already.
func (s *sources) addSession(a netip.Addr, max int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.get(a, time.Now())
	if src == nil || src.sessions >= max {
		return false
	}
	src.sessions++
	return true
}

func (s *sources) doneSession(a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if src, ok := s.m[a]; ok && src.sessions > 0 {
		src.sessions--
	}
}

func (s *sources) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// nonces remembers the nonces seen within the replay window, so that a
// captured request cannot be replayed (to a spoofed victim, say) while its
// timestamp is still accepted. It holds at most max; when full it refuses
// new nonces until old ones leave the window.
type nonces struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	seen   map[[16]byte]struct{}
	// queue holds the nonces in arrival order, from head on, so that
	// expiry takes from the front; it grows only as far as it is used.
	queue []nonceAt
	head  int
}

type nonceAt struct {
	nonce [16]byte
	at    int64 // arrival, Unix nanoseconds
}

func newNonces(window time.Duration, max int) *nonces {
	return &nonces{window: window, max: max, seen: map[[16]byte]struct{}{}}
}

// fresh reports whether a message sent at t with nonce may be answered
// now, and remembers the nonce when it may; why says why not: "stale",
// "replay" or "full".
func (c *nonces) fresh(nonce [16]byte, t, now time.Time) (ok bool, why string) {
	if d := now.Sub(t); d > c.window || d < -c.window {
		return false, "stale"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// A nonce stays remembered for twice the window after it arrived:
	// long enough that its timestamp is stale by then.
	limit := now.Add(-2 * c.window).UnixNano()
	for c.head < len(c.queue) && c.queue[c.head].at < limit {
		delete(c.seen, c.queue[c.head].nonce)
		c.head++
	}
	if c.head > 1024 && c.head > len(c.queue)/2 {
		c.queue = append(c.queue[:0], c.queue[c.head:]...)
		c.head = 0
	}
	if _, dup := c.seen[nonce]; dup {
		return false, "replay"
	}
	if len(c.seen) >= c.max {
		return false, "full"
	}
	c.seen[nonce] = struct{}{}
	c.queue = append(c.queue, nonceAt{nonce, now.UnixNano()})
	return true, ""
}
