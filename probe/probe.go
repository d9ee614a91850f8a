// Package probe checks, from where it runs, that the flows a service needs
// really get through, and finds the middleboxes that break calls while
// ports look open: SIP ALGs, short NAT timeouts, SSL-inspecting and
// NTLM-only proxies.
//
// What to probe comes from the catalog: the flows of the chosen services,
// resolved to addresses, and their constraints (TLS minimum, proxy auth,
// SSL inspection, NAT timeout, ALG). Each check is a small prober in a file
// of its own (dns.go, tcp.go, tls.go, proxy.go, stun.go, udp.go, sipalg.go,
// nattimeout.go, fallback.go); plan.go decides which flow goes where and
// run.go runs the plan with bounded concurrency and a shared packet rate.
//
// It is safe by default: it sends only to the hosts the catalog names (as
// resolved), to the --endpoint names and addresses the user gives within
// them, to the reflector and to the proxy; never to an address nobody
// named. What it cannot probe it reports as not probed, with the reason.
package probe

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/portolan/portolan/model"
)

// Checks, in the order they are planned.
const (
	CheckDNS        = "dns"
	CheckTCP        = "tcp"
	CheckTLS        = "tls"
	CheckProxy      = "proxy"
	CheckSTUN       = "stun"
	CheckUDP        = "udp"
	CheckSIPALG     = "sip-alg"
	CheckNATTimeout = "nat-timeout"
	CheckFallback   = "fallback"
)

// AllChecks lists every check.
var AllChecks = []string{CheckDNS, CheckTCP, CheckTLS, CheckProxy, CheckSTUN, CheckUDP, CheckSIPALG, CheckNATTimeout, CheckFallback}

// ParseChecks reads a --check list ("tcp,tls"); empty means every check.
func ParseChecks(list []string) ([]string, error) {
	if len(list) == 0 {
		return AllChecks, nil
	}
	want := map[string]bool{}
	for _, item := range list {
		for _, c := range strings.Split(item, ",") {
			c = strings.TrimSpace(c)
			if c == "" {
				continue
			}
			if c == "all" {
				return AllChecks, nil
			}
			known := false
			for _, k := range AllChecks {
				known = known || k == c
			}
			if !known {
				return nil, fmt.Errorf("--check %q: one of %s (or all)", c, strings.Join(AllChecks, ", "))
			}
			want[c] = true
		}
	}
	var out []string
	for _, k := range AllChecks {
		if want[k] {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--check: no check named")
	}
	return out, nil
}

// Status is a result's verdict.
type Status string

// Statuses. Fail and Error of a required flow or of a constraint make the
// whole probe fail; Skip ("not probed") never does.
const (
	OK    Status = "ok"    // it works
	Warn  Status = "warn"  // it works, but not the way the document prefers
	Fail  Status = "fail"  // it does not work, or a middlebox breaks it
	Error Status = "error" // the probe could not decide
	Skip  Status = "skip"  // not probed, and why
)

// Statuses lists them from worst to best, the order summaries use.
var Statuses = []Status{Fail, Error, Warn, OK, Skip}

// Result is the outcome of one check of one flow, target or constraint.
type Result struct {
	Check   string `json:"check"`
	Service string `json:"service"`
	// Flow is the flow id; Constraint the id of the constraint the result
	// also checks (tls-min, proxy-auth, alg-off…).
	Flow       string          `json:"flow,omitempty"`
	Constraint string          `json:"constraint,omitempty"`
	Necessity  model.Necessity `json:"necessity,omitempty"`
	// Required: a failure of this result means calls will not work.
	Required bool `json:"required"`
	// Target says what was probed ("config.starleaf.com 198.51.100.20
	// tcp/443"), Via how ("direct", "proxy …", "reflector …").
	Target  string   `json:"target"`
	Via     string   `json:"via,omitempty"`
	Status  Status   `json:"status"`
	Summary string   `json:"summary"`
	Details []string `json:"details,omitempty"`
	Elapsed Millis   `json:"elapsed_ms"`

	Addrs    []string      `json:"addresses,omitempty"`
	Ports    *PortReport   `json:"ports,omitempty"`
	TLS      *TLSInfo      `json:"tls,omitempty"`
	Proxy    *ProxyInfo    `json:"proxy,omitempty"`
	STUN     *STUNInfo     `json:"stun,omitempty"`
	SIP      *SIPInfo      `json:"sip,omitempty"`
	NAT      *NATInfo      `json:"nat,omitempty"`
	Fallback *FallbackInfo `json:"fallback,omitempty"`
}

// Failed reports whether the result makes the probe fail.
func (r *Result) Failed() bool { return r.Required && (r.Status == Fail || r.Status == Error) }

// Millis is a duration written in JSON as whole milliseconds.
type Millis time.Duration

// MarshalJSON writes milliseconds.
func (m Millis) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(m).Milliseconds())
}

// UnmarshalJSON reads milliseconds.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var ms int64
	if err := json.Unmarshal(b, &ms); err != nil {
		return err
	}
	*m = Millis(time.Duration(ms) * time.Millisecond)
	return nil
}

func (m Millis) String() string { return time.Duration(m).Round(time.Millisecond).String() }

// Report is a whole probe run.
type Report struct {
	Services  []string  `json:"services"`
	Checks    []string  `json:"checks"`
	Reflector string    `json:"reflector,omitempty"`
	Proxy     string    `json:"proxy,omitempty"`
	Started   time.Time `json:"started"`
	Elapsed   Millis    `json:"elapsed_ms"`
	// Warnings are what resolution found (names without address, wildcards).
	Warnings []string       `json:"warnings,omitempty"`
	Results  []Result       `json:"results"`
	Counts   map[Status]int `json:"counts"`
	Failures int            `json:"failures"`
	OK       bool           `json:"ok"`
}

// summarize fills Counts, Failures and OK. A run that probed nothing at
// all is not OK: it proves nothing works.
func (r *Report) summarize() {
	r.Counts = map[Status]int{}
	r.Failures = 0
	for i := range r.Results {
		r.Counts[r.Results[i].Status]++
		if r.Results[i].Failed() {
			r.Failures++
		}
	}
	r.OK = r.Failures == 0 && r.Probed() > 0
}

// Probed counts the results that were really probed (not skipped).
func (r *Report) Probed() int { return len(r.Results) - r.Counts[Skip] }

// Network makes the sockets a probe uses; tests make them inside network
// namespaces.
type Network interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
	ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
}

// HostNetwork is the machine's own network.
type HostNetwork struct{}

// DialContext dials like net.Dialer.
func (HostNetwork) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

// ListenPacket listens like net.ListenConfig.
func (HostNetwork) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, network, address)
}

// Config is how to probe.
type Config struct {
	// Checks to run; nil means all.
	Checks []string
	// Reflector is HOST[:PORT] of a portolan reflector ("" for none);
	// Token proves we may use it.
	Reflector string
	Token     []byte
	// Proxy returns the web proxy for a host:port, nil for none (direct).
	// ProxyName says where it came from ("--proxy", "HTTPS_PROXY").
	Proxy     func(hostport string) (*url.URL, error)
	ProxyName string
	// Endpoints are names under wildcard domains and addresses inside
	// address blocks that the catalog covers without naming them.
	Endpoints []string
	// RootCAs verify certificates; nil means the system's.
	RootCAs *x509.CertPool
	// Concurrency bounds connections and exchanges at once; Rate the
	// packets (datagrams, connection attempts) per second; Sample, when
	// above 0, probes that many ports of each range instead of every one;
	// Timeout bounds each attempt.
	Concurrency int
	Rate        float64
	Sample      int
	Timeout     time.Duration
	// Limiter, when set, paces this run together with every other run
	// given the same limiter (the exporter's concurrent scrapes of one
	// module), instead of a limiter of the run's own at Rate.
	Limiter *rate.Limiter
	// NATMeasure measures the NAT binding lifetime to the second instead
	// of only checking the document's minimum; NATMax is the longest
	// lifetime it tries.
	NATMeasure bool
	NATMax     time.Duration
	// Net makes sockets; nil means HostNetwork.
	Net Network
	// Progress, when set, is told how far the run is, in units of work.
	Progress func(done, total int)
	// Start, when set, is told before probing begins how many units of
	// work the run holds, how long it is expected to take and the longest
	// it may (a NAT measurement depends on what it finds).
	Start func(total int, expected, longest time.Duration)
}

// Defaults for Config.
const (
	DefaultConcurrency = 8
	DefaultRate        = 100
	DefaultTimeout     = 3 * time.Second
	// DefaultTCPSample is how many ports of a TCP range to a vendor's
	// host are probed when --sample is not given: scanning a vendor's
	// host is not the probe's business.
	DefaultTCPSample = 3
)

func (c *Config) defaults() {
	if c.Checks == nil {
		c.Checks = AllChecks
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Rate <= 0 {
		c.Rate = DefaultRate
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Net == nil {
		c.Net = HostNetwork{}
	}
}

func (c *Config) has(check string) bool {
	for _, k := range c.Checks {
		if k == check {
			return true
		}
	}
	return false
}

// redactURL writes a proxy URL without its password.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Redacted()
}
