package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/reflector"
)

// dialTCP connects to addr within the run's rate, concurrency and timeout.
// The caller releases the slot with the returned function once done with
// the connection.
func dialTCP(ctx context.Context, env *runEnv, addr string) (net.Conn, time.Duration, func(), error) {
	release, err := env.acquire(ctx)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := env.packet(ctx); err != nil {
		release()
		return nil, 0, nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, env.cfg.Timeout)
	defer cancel()
	t0 := time.Now()
	c, err := env.cfg.Net.DialContext(dctx, "tcp", addr)
	rtt := time.Since(t0)
	if err != nil {
		release()
		return nil, rtt, nil, err
	}
	return c, rtt, release, nil
}

// describeDialError says what a failed connection attempt means for a
// firewall administrator.
func describeDialError(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused (TCP reset): nothing listens there, or a firewall rejects"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable (ICMP): a firewall rejects it, or there is no route"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "refused by this machine's own firewall"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer in %s: dropped on the way", timeout)
	}
	return err.Error()
}

// tcpPorts are the ports probed of a TCP flow: every port of short
// lists, a sample of ranges (scanning a vendor's host is not our place).
func tcpPorts(c model.PortSet, sampleN int) []uint16 {
	if sampleN <= 0 {
		sampleN = DefaultTCPSample
	}
	var out []uint16
	for _, r := range c.Ranges() {
		if r.Len() <= 16 {
			out = append(out, sample(model.NewPortSet(r), 0)...)
			continue
		}
		out = append(out, sample(model.NewPortSet(r), sampleN)...)
	}
	return out
}

// probeTCPFlow probes a TCP flow the way the plan says: through the
// proxy, directly, or through the reflector. It returns the results of
// every check it can answer; the run shows those asked for.
func (p *Plan) probeTCPFlow(ctx context.Context, env *runEnv, fp *flowPlan) []Result {
	switch {
	case fp.proxy:
		return p.probeProxyFlow(ctx, env, fp)
	case len(fp.direct) > 0:
		rs := p.probeDirectTCP(ctx, env, fp)
		if fp.c.Via == "proxy" && p.cfg.has(CheckProxy) {
			r := base(fp, CheckProxy)
			r.Target = strings.Join(fp.c.Dest, " ")
			r.Status, r.Summary = Skip, "not probed: no proxy given (--proxy or HTTPS_PROXY); the flow was probed directly"
			rs = append([]Result{r}, rs...)
		}
		return rs
	case fp.reflector && (p.cfg.has(CheckTCP) || p.fallbackReads(fp)):
		return []Result{probeTCPReflector(ctx, env, fp)}
	}
	return nil
}

// probeDirectTCP connects to each endpoint on each port, and shakes hands
// with TLS where the flow speaks it and the tls check is asked for.
func (p *Plan) probeDirectTCP(ctx context.Context, env *runEnv, fp *flowPlan) []Result {
	var ports []uint16
	if fp.c.OneOf {
		for _, r := range fp.c.PortOrder {
			ports = append(ports, r.Lo)
		}
	} else {
		ports = tcpPorts(fp.c.Ports, p.cfg.Sample)
	}
	jobs := cross(fp.direct, ports)
	type outcome struct {
		tcp Result
		tls *Result
		ok  bool
	}
	outs := make([]outcome, len(jobs))
	env.each(len(jobs), func(i int) {
		j := jobs[i]
		r := base(fp, CheckTCP)
		addr := netip.AddrPortFrom(j.e.Addr, j.port)
		r.Target = fmt.Sprintf("%s tcp/%d", j.e, j.port)
		r.Via = "direct"
		c, rtt, release, err := dialTCP(ctx, env, addr.String())
		r.Elapsed = Millis(rtt)
		if err != nil {
			r.Status, r.Summary = Fail, describeDialError(err, env.cfg.Timeout)
			o := outcome{tcp: r}
			if fp.tls && p.cfg.has(CheckTLS) && !p.cfg.has(CheckTCP) {
				// Without the tcp check, the failure shows here.
				tr := tlsResult(fp, r.Target, "direct", nil, fmt.Errorf("no connection: %s", r.Summary))
				o.tls = &tr
			}
			outs[i] = o
			return
		}
		defer release()
		defer c.Close()
		r.Status, r.Summary = OK, fmt.Sprintf("connected in %s", rtt.Round(time.Millisecond))
		o := outcome{tcp: r, ok: true}
		if fp.tls && p.cfg.has(CheckTLS) {
			info, err := tlsProbe(ctx, env, c, j.e.Name, j.e.Addr)
			tr := tlsResult(fp, r.Target, "direct", info, err)
			o.tls = &tr
		}
		outs[i] = o
	})

	var out []Result
	if !fp.c.OneOf {
		for _, o := range outs {
			out = append(out, o.tcp)
			if o.tls != nil {
				out = append(out, *o.tls)
			}
		}
		return out
	}
	// A one-of group: one result per endpoint, judged as a group.
	for ei, e := range fp.direct {
		group := outs[ei*len(ports) : (ei+1)*len(ports)]
		r := base(fp, CheckTCP)
		r.Target = fmt.Sprintf("%s tcp/%s (one of)", e, joinPorts(ports))
		r.Via = "direct"
		state := map[uint16]bool{}
		var tlsR *Result
		var open, blocked []uint16
		for k, o := range group {
			state[ports[k]] = o.ok
			if o.ok {
				open = append(open, ports[k])
			} else {
				blocked = append(blocked, ports[k])
			}
			r.Details = append(r.Details, fmt.Sprintf("tcp/%d: %s", ports[k], o.tcp.Summary))
			if o.tls != nil && tlsR == nil {
				tlsR = o.tls
			}
		}
		r.Status, r.Summary = oneOfVerdict(fp.c.PortOrder, func(p uint16) (bool, bool) { return state[p], true })
		r.Ports = &PortReport{Proto: model.TCP, Probed: len(ports), Open: portStrings(open), Blocked: portStrings(blocked)}
		out = append(out, r)
		if tlsR != nil {
			out = append(out, *tlsR)
		}
	}
	return out
}

func portStrings(ps []uint16) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = strconv.Itoa(int(p))
	}
	return out
}

func joinPorts(ps []uint16) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, "|")
}

// probeTCPReflector connects to the reflector on the flow's ports (those
// it serves) and has each connection prove it reached the reflector: a
// transparent proxy or a firewall answering in its place cannot.
func probeTCPReflector(ctx context.Context, env *runEnv, fp *flowPlan) Result {
	r := base(fp, CheckTCP)
	r.Target = "tcp " + strings.Join(fp.c.Ports.Strings(), ",")
	r.Via = "reflector " + env.refl.String()
	r.Details = append(r.Details, "the reflector stands in for "+fp.standsFor)
	if env.infoErr != nil {
		r.Status, r.Summary = Error, env.infoErr.Error()
		return r
	}
	ports, pr, notServed := servedPorts(&r, env, fp, model.TCP, env.info.TCP)
	if len(ports) == 0 {
		r.Status, r.Summary = Skip, "not probed: the reflector serves none of these TCP ports"
		return r
	}
	why := make([]string, len(ports))
	env.each(len(ports), func(i int) { why[i] = tcpEcho(ctx, env, ports[i]) })
	var open, blocked []uint16
	for i, port := range ports {
		if why[i] == "" {
			open = append(open, port)
			continue
		}
		blocked = append(blocked, port)
		r.Details = append(r.Details, fmt.Sprintf("tcp/%d: %s", port, why[i]))
	}
	pr.Probed = len(ports)
	pr.Open, pr.Blocked = rangeStrings(runs(open)), rangeStrings(runs(blocked))
	r.Status, r.Summary = portsVerdict(fp, pr, len(open), len(blocked), notServed, func(p uint16) (bool, bool) {
		return slices.Contains(open, p), env.info.TCP.Contains(p)
	})
	return r
}

// tcpEcho connects to the reflector's port and exchanges one echo; it
// returns "" when the reflector answered, else what happened.
func tcpEcho(ctx context.Context, env *runEnv, port uint16) string {
	addr := netip.AddrPortFrom(env.refl.Addr(), port)
	if env.rlim != nil {
		if err := env.rlim.Wait(ctx); err != nil {
			return err.Error()
		}
	}
	c, _, release, err := dialTCP(ctx, env, addr.String())
	if err != nil {
		return describeDialError(err, env.cfg.Timeout)
	}
	defer release()
	defer c.Close()
	c.SetDeadline(time.Now().Add(env.cfg.Timeout))
	nonce := reflector.NewNonce()
	if err := reflector.WriteFrame(c, reflector.Encode(env.cfg.Token, reflector.TypeEcho, nonce, time.Now(), reflector.RequestBody(port), reflector.EchoRequestLen)); err != nil {
		return "connected, but sending failed: " + err.Error()
	}
	b, err := reflector.ReadFrame(c)
	if err != nil {
		return "connected, but no reflector answer (a transparent proxy or a firewall answering in its place?): " + err.Error()
	}
	m, err := reflector.Decode(env.cfg.Token, b)
	if err != nil || m.Type != reflector.TypeEchoReply || m.Nonce != nonce {
		return "connected, but the answer is not the reflector's (something on the way answers in its place)"
	}
	return ""
}
