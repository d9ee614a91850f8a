package resolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Answer is what a resolver knows of one name.
type Answer struct {
	Addrs  []netip.Addr
	TTL    time.Duration // 0 for pinned names, which do not expire
	Source string        // "hosts:FILE", "dns:SERVER"
	At     time.Time     // when it was asked
}

// Resolver turns a name into addresses.
type Resolver interface {
	Lookup(ctx context.Context, name string) (Answer, error)
}

// NotFoundError says a name has no address where it was looked up.
type NotFoundError struct {
	Name  string
	Where string
	Err   error // the cause, when the lookup failed rather than found nothing
}

func (e *NotFoundError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: not resolved (%s: %v)", e.Name, e.Where, e.Err)
	}
	return fmt.Sprintf("%s: no address (%s)", e.Name, e.Where)
}

func (e *NotFoundError) Unwrap() error { return e.Err }

// NoResolve resolves nothing: names stay without addresses (--no-resolve).
type NoResolve struct{}

// Lookup always reports the name as not resolved.
func (NoResolve) Lookup(_ context.Context, name string) (Answer, error) {
	return Answer{}, &NotFoundError{Name: name, Where: "--no-resolve"}
}

// Chain asks each resolver in turn and returns the first answer.
type Chain []Resolver

// Lookup returns the first resolver's answer that has addresses.
func (c Chain) Lookup(ctx context.Context, name string) (Answer, error) {
	var errs []error
	for _, r := range c {
		a, err := r.Lookup(ctx, name)
		if err == nil && len(a.Addrs) > 0 {
			return a, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return Answer{}, &NotFoundError{Name: name, Where: "no resolver"}
	}
	return Answer{}, errors.Join(errs...)
}

// DNS asks DNS servers for A and AAAA records and keeps the TTL, which the
// system resolver hides. Servers default to /etc/resolv.conf's.
type DNS struct {
	Servers []string // host:port
	Timeout time.Duration
	client  *dns.Client
}

// NewDNS returns a resolver for servers, or for /etc/resolv.conf's when
// servers is empty.
func NewDNS(servers ...string) (*DNS, error) {
	if len(servers) == 0 {
		cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("dns: %v", err)
		}
		for _, s := range cfg.Servers {
			servers = append(servers, net.JoinHostPort(s, cfg.Port))
		}
		if len(servers) == 0 {
			return nil, errors.New("dns: /etc/resolv.conf names no nameserver")
		}
	}
	return &DNS{Servers: servers, Timeout: 3 * time.Second, client: &dns.Client{Timeout: 3 * time.Second}}, nil
}

// Lookup asks for A and AAAA; the TTL is the smallest of the records used,
// CNAMEs included.
func (d *DNS) Lookup(ctx context.Context, name string) (Answer, error) {
	fqdn := dns.Fqdn(strings.ToLower(name))
	ans := Answer{At: time.Now()}
	var ttl uint32 = 0
	have := false
	var lastErr error
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		msg, server, err := d.exchange(ctx, fqdn, qt)
		if errors.Is(err, errNXDomain) {
			lastErr = err
			continue
		}
		if err != nil {
			// A query that failed (timeout, SERVFAIL) says nothing of that
			// family: answering with the other family alone would let a
			// refresh empty a set on a passing DNS fault.
			return Answer{}, &NotFoundError{Name: name, Where: "DNS " + strings.Join(d.Servers, ","),
				Err: fmt.Errorf("%s query: %w", dns.TypeToString[qt], err)}
		}
		ans.Source = "dns:" + server
		for _, rr := range msg.Answer {
			h := rr.Header()
			if !have || h.Ttl < ttl {
				ttl, have = h.Ttl, true
			}
			switch r := rr.(type) {
			case *dns.A:
				if a, ok := netip.AddrFromSlice(r.A.To4()); ok && !slices.Contains(ans.Addrs, a) {
					ans.Addrs = append(ans.Addrs, a)
				}
			case *dns.AAAA:
				// An IPv4-mapped AAAA (::ffff:192.0.2.1) is reached over
				// IPv4: it must become an IPv4 address, never an IPv6 rule
				// that no packet matches.
				if a, ok := netip.AddrFromSlice(r.AAAA); ok && !slices.Contains(ans.Addrs, a.Unmap()) {
					ans.Addrs = append(ans.Addrs, a.Unmap())
				}
			}
		}
	}
	if len(ans.Addrs) == 0 {
		return Answer{}, &NotFoundError{Name: name, Where: "DNS " + strings.Join(d.Servers, ","), Err: lastErr}
	}
	ans.TTL = time.Duration(ttl) * time.Second
	slices.SortFunc(ans.Addrs, netip.Addr.Compare)
	return ans, nil
}

func (d *DNS) exchange(ctx context.Context, fqdn string, qt uint16) (*dns.Msg, string, error) {
	q := new(dns.Msg)
	q.SetQuestion(fqdn, qt)
	q.RecursionDesired = true
	var lastErr error
	for _, s := range d.Servers {
		msg, _, err := d.client.ExchangeContext(ctx, q, s)
		if err != nil {
			lastErr = err
			continue
		}
		if msg.Truncated {
			tcp := &dns.Client{Net: "tcp", Timeout: d.client.Timeout}
			if m2, _, err := tcp.ExchangeContext(ctx, q, s); err == nil {
				msg = m2
			}
		}
		switch msg.Rcode {
		case dns.RcodeSuccess:
			return msg, s, nil
		case dns.RcodeNameError:
			return msg, s, errNXDomain
		default:
			lastErr = fmt.Errorf("%s from %s", dns.RcodeToString[msg.Rcode], s)
		}
	}
	return nil, "", lastErr
}

var errNXDomain = errors.New("NXDOMAIN")

// Cache remembers answers for the life of one command, so that a name
// shared by several flows is asked once; lookups of different names run
// at the same time.
type Cache struct {
	R  Resolver
	mu sync.Mutex
	m  map[string]*cached
}

type cached struct {
	once sync.Once
	a    Answer
	err  error
}

// Lookup answers from the cache or asks R once.
func (c *Cache) Lookup(ctx context.Context, name string) (Answer, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*cached{}
	}
	e, ok := c.m[name]
	if !ok {
		e = &cached{}
		c.m[name] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.a, e.err = c.R.Lookup(ctx, name) })
	return e.a, e.err
}
