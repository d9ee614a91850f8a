package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/reflector"
)

// PortReport is the per-port outcome of probing a flow's ports through
// the reflector, as ranges: every port probed is in Open or Blocked.
type PortReport struct {
	Proto   string   `json:"proto"`
	Probed  int      `json:"probed"`
	Open    []string `json:"open"`
	Blocked []string `json:"blocked"`
	// NotProbed are ports of the flow the reflector does not serve.
	NotProbed []string `json:"not_probed,omitempty"`
	// Sampled: --sample chose the ports probed out of larger ranges.
	Sampled bool `json:"sampled,omitempty"`
	// Redirected lists "aimed→reached" where the reply came from a port
	// other than the one aimed at (a port forward on the way).
	Redirected []string `json:"redirected,omitempty"`
}

// reflectorInfo asks the reflector what it serves: over UDP to its
// control port, with a short retransmission schedule, then, when UDP gets
// no answer, over TCP to the same port.
func reflectorInfo(ctx context.Context, env *runEnv) (reflector.Info, error) {
	info, err := reflectorInfoUDP(ctx, env)
	if err == nil || ctx.Err() != nil {
		return info, err
	}
	info, terr := reflectorInfoTCP(ctx, env)
	if terr == nil {
		return info, nil
	}
	return info, fmt.Errorf("no answer from the reflector at %s, over UDP (%v) nor TCP (%v): it is not running there, the token is wrong, the clocks differ by more than 2 minutes, or port %d is blocked on the way",
		env.refl, err, terr, env.refl.Port())
}

func reflectorInfoUDP(ctx context.Context, env *runEnv) (reflector.Info, error) {
	network := "udp4"
	if env.refl.Addr().Is6() {
		network = "udp6"
	}
	conn, err := env.cfg.Net.DialContext(ctx, network, env.refl.String())
	if err != nil {
		return reflector.Info{}, err
	}
	defer conn.Close()
	sent := map[[16]byte]bool{}
	buf := make([]byte, reflector.MaxLen+1)
	for _, wait := range stunSchedule {
		nonce := reflector.NewNonce()
		sent[nonce] = true
		if err := env.packet(ctx); err != nil {
			return reflector.Info{}, err
		}
		conn.Write(reflector.Encode(env.cfg.Token, reflector.TypeInfo, nonce, time.Now(), reflector.RequestBody(env.refl.Port()), reflector.InfoRequestLen))
		conn.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			m, err := reflector.Decode(env.cfg.Token, buf[:n])
			if err != nil || m.Type != reflector.TypeInfoReply || !sent[m.Nonce] {
				continue
			}
			return reflector.ParseInfo(m.Body)
		}
	}
	return reflector.Info{}, fmt.Errorf("%d tries in %s", len(stunSchedule), scheduleTotal())
}

func reflectorInfoTCP(ctx context.Context, env *runEnv) (reflector.Info, error) {
	c, _, release, err := dialTCP(ctx, env, env.refl.String())
	if err != nil {
		return reflector.Info{}, errors.New(describeDialError(err, env.cfg.Timeout))
	}
	defer release()
	defer c.Close()
	c.SetDeadline(time.Now().Add(env.cfg.Timeout))
	nonce := reflector.NewNonce()
	if err := reflector.WriteFrame(c, reflector.Encode(env.cfg.Token, reflector.TypeInfo, nonce, time.Now(), reflector.RequestBody(env.refl.Port()), reflector.InfoRequestLen)); err != nil {
		return reflector.Info{}, err
	}
	b, err := reflector.ReadFrame(c)
	if err != nil {
		return reflector.Info{}, fmt.Errorf("connected, no answer: %v", err)
	}
	m, err := reflector.Decode(env.cfg.Token, b)
	if err != nil || m.Type != reflector.TypeInfoReply || m.Nonce != nonce {
		return reflector.Info{}, errors.New("connected, but the answer is not the reflector's")
	}
	return reflector.ParseInfo(m.Body)
}

// reflectorLimiter paces traffic to the reflector below the rate it
// grants one source, so that its limit does not pass for a blocked port.
func reflectorLimiter(info reflector.Info) *rate.Limiter {
	if info.Rate <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(info.Rate*0.8), max(1, info.Burst/2))
}

// portScan is which ports answered through the reflector.
type portScan struct {
	err        error
	probed     bitset
	open       bitset
	redirected map[uint16]uint16
	rate       float64
}

type bitset [65536 / 64]uint64

func (b *bitset) set(p uint16)      { b[p/64] |= 1 << (p % 64) }
func (b *bitset) has(p uint16) bool { return b[p/64]&(1<<(p%64)) != 0 }

// scanPorts lists the UDP ports the plan's flows and fallbacks need
// through the reflector, sampled, within what the reflector serves.
func (p *Plan) scanPorts(env *runEnv) []uint16 {
	if !p.reflector.IsValid() || env.infoErr != nil || !(p.cfg.has(CheckUDP) || p.cfg.has(CheckFallback)) {
		return nil
	}
	var all model.PortSet
	for _, fp := range p.flows {
		if !fp.reflector || fp.c.Proto != model.UDP {
			continue
		}
		if !p.cfg.has(CheckUDP) && !hasFallback(fp.c) {
			continue
		}
		for _, r := range runs(sample(fp.c.Ports.Intersect(env.info.UDP), p.cfg.Sample)) {
			all = all.Add(r)
		}
		if fp.c.OneOf {
			for _, r := range fp.c.PortOrder {
				all = all.Add(model.PortRange{Lo: r.Lo, Hi: r.Lo})
			}
		}
	}
	return sample(all.Intersect(env.info.UDP), 0)
}

// scanUDP sends one echo request to each port of the reflector, paced by
// the rate, and repeats for the ports that did not answer (three passes
// in all, waiting longer after each). A port that never answers is
// blocked.
func scanUDP(ctx context.Context, env *runEnv, ports []uint16) *portScan {
	s := &portScan{redirected: map[uint16]uint16{}}
	network := "udp4"
	if env.refl.Addr().Is6() {
		network = "udp6"
	}
	pc, err := env.cfg.Net.ListenPacket(ctx, network, ":0")
	if err != nil {
		s.err = err
		env.step(len(ports))
		return s
	}
	defer pc.Close()
	if uc, ok := pc.(*net.UDPConn); ok {
		uc.SetReadBuffer(4 << 20)
	}
	s.rate = env.cfg.Rate
	if env.rlim != nil {
		s.rate = min(s.rate, float64(env.rlim.Limit()))
	}

	var mu sync.Mutex
	aimed := make(map[[16]byte]uint16, len(ports))
	answered := 0
	stop := make(chan struct{})
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		buf := make([]byte, reflector.MaxLen+1)
		for {
			select {
			case <-stop:
				return
			default:
			}
			pc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				continue
			}
			ua, ok := from.(*net.UDPAddr)
			if !ok || ua.AddrPort().Addr().Unmap() != env.refl.Addr() {
				continue
			}
			m, err := reflector.Decode(env.cfg.Token, buf[:n])
			if err != nil || m.Type != reflector.TypeEchoReply {
				continue
			}
			obs, err := reflector.ParseObserved(m.Body)
			if err != nil {
				continue
			}
			mu.Lock()
			p, ok := aimed[m.Nonce]
			fresh := ok && !s.open.has(p)
			if fresh {
				s.open.set(p)
				answered++
				if obs.Port != p {
					s.redirected[p] = obs.Port
				}
			}
			mu.Unlock()
			if fresh {
				env.step(1)
			}
		}
	}()

	waits := []time.Duration{min(env.cfg.Timeout, 500*time.Millisecond), min(env.cfg.Timeout, time.Second), env.cfg.Timeout}
	for _, p := range ports {
		s.probed.set(p)
	}
	msgs := 0
	for _, wait := range waits {
		for _, p := range ports {
			mu.Lock()
			done := s.open.has(p)
			mu.Unlock()
			if done {
				continue
			}
			if err := env.reflectorPacket(ctx); err != nil {
				s.err = err
				break
			}
			nonce := reflector.NewNonce()
			mu.Lock()
			aimed[nonce] = p
			mu.Unlock()
			msg := reflector.Encode(env.cfg.Token, reflector.TypeEcho, nonce, time.Now(), reflector.RequestBody(p), reflector.EchoRequestLen)
			pc.WriteTo(msg, net.UDPAddrFromAddrPort(netip.AddrPortFrom(env.refl.Addr(), p)))
			msgs++
		}
		if s.err != nil {
			break
		}
		mu.Lock()
		all := answered == len(ports)
		mu.Unlock()
		if all {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			s.err = ctx.Err()
		}
		if s.err != nil {
			break
		}
	}
	close(stop)
	<-recvDone
	env.step(len(ports) - answered)
	return s
}

// udpFlowResult reads a flow's ports out of the scan.
func udpFlowResult(env *runEnv, fp *flowPlan, scan *portScan) Result {
	r := base(fp, CheckUDP)
	r.Target = "udp " + strings.Join(fp.c.Ports.Strings(), ",")
	r.Via = "reflector " + env.refl.String()
	r.Details = append(r.Details, "the reflector stands in for "+fp.standsFor)
	if fp.stun {
		r.Details = append(r.Details, "a STUN flow without a single host named: its ports are tested through the reflector, not with STUN")
	}
	if env.infoErr != nil {
		r.Status, r.Summary = Error, env.infoErr.Error()
		return r
	}
	if scan.err != nil && !errors.Is(scan.err, context.Canceled) {
		r.Status, r.Summary = Error, "scan: "+scan.err.Error()
		return r
	}
	ports, pr, notServed := servedPorts(&r, env, fp, model.UDP, env.info.UDP)
	var open, blocked []uint16
	for _, p := range ports {
		switch {
		case scan.open.has(p):
			open = append(open, p)
		case scan.probed.has(p):
			blocked = append(blocked, p)
		}
		if to, ok := scan.redirected[p]; ok {
			pr.Redirected = append(pr.Redirected, fmt.Sprintf("%d→%d", p, to))
		}
	}
	pr.Probed = len(open) + len(blocked)
	pr.Open, pr.Blocked = rangeStrings(runs(open)), rangeStrings(runs(blocked))
	if len(pr.Redirected) > 0 {
		r.Details = append(r.Details, "answered from another port than aimed at (a port forward on the way): "+strings.Join(pr.Redirected, ", "))
	}
	if len(blocked) > 0 {
		r.Details = append(r.Details, "blocked: "+strings.Join(pr.Blocked, ","))
	}
	if pr.Probed == 0 {
		r.Status, r.Summary = Skip, "not probed: the reflector serves none of these ports"
		return r
	}
	r.Status, r.Summary = portsVerdict(fp, pr, len(open), len(blocked), notServed, func(p uint16) (bool, bool) {
		return scan.open.has(p), scan.probed.has(p)
	})
	return r
}

// servedPorts splits a flow's ports by what the reflector serves (of
// proto): it returns the ports to probe (sampled with --sample), the port
// report r now holds, and the ports not served, told in r's details.
func servedPorts(r *Result, env *runEnv, fp *flowPlan, proto string, serves model.PortSet) ([]uint16, *PortReport, model.PortSet) {
	served := fp.c.Ports.Intersect(serves)
	ports := sample(served, env.cfg.Sample)
	notServed := fp.c.Ports.Subtract(serves)
	pr := &PortReport{Proto: proto, Sampled: len(ports) < served.Len(), NotProbed: notServed.Strings()}
	r.Ports = pr
	if pr.Sampled {
		r.Details = append(r.Details, fmt.Sprintf("--sample %d: %s of %d probed", env.cfg.Sample, plural(len(ports), "port"), served.Len()))
	}
	if !notServed.Empty() {
		r.Details = append(r.Details, fmt.Sprintf("not probed (the reflector does not serve them; add them to its --%s-ports): %s", proto, abbreviate(pr.NotProbed, 8)))
	}
	return ports, pr, notServed
}

// portsVerdict judges a flow's ports probed through the reflector: nOpen
// open and nBlocked blocked (pr.Blocked), the others not served; a one-of
// group by its order, with state telling whether a port is open and
// whether it was probed.
func portsVerdict(fp *flowPlan, pr *PortReport, nOpen, nBlocked int, notServed model.PortSet, state func(uint16) (open, probed bool)) (Status, string) {
	switch {
	case fp.c.OneOf:
		return oneOfVerdict(fp.c.PortOrder, state)
	case nBlocked == 0 && notServed.Empty():
		return OK, allOpen(nOpen)
	case nBlocked == 0:
		return Warn, fmt.Sprintf("%s open; %d not probed (the reflector does not serve them)", plural(nOpen, "port"), notServed.Len())
	}
	sum := fmt.Sprintf("%d of %s blocked: %s", nBlocked, plural(nOpen+nBlocked, "port"), abbreviate(pr.Blocked, 8))
	if !notServed.Empty() {
		sum += fmt.Sprintf(" (%d more not probed)", notServed.Len())
	}
	return Fail, sum
}

// oneOfVerdict judges a one-of group: the preferred port open is ok,
// another one open a warning, none a failure. state tells whether a port
// is open and whether it was probed.
func oneOfVerdict(order []model.PortRange, state func(uint16) (open, probed bool)) (Status, string) {
	var blocked []string
	for i, r := range order {
		open, probed := state(r.Lo)
		switch {
		case open && i == 0:
			return OK, fmt.Sprintf("%d open (the preferred one)", r.Lo)
		case open:
			return Warn, fmt.Sprintf("%s blocked; %d open, clients fall back to it", strings.Join(blocked, ", "), r.Lo)
		case probed:
			blocked = append(blocked, fmt.Sprint(r.Lo))
		default:
			blocked = append(blocked, fmt.Sprintf("%d (not probed)", r.Lo))
		}
	}
	return Fail, "none open: " + strings.Join(blocked, ", ")
}

// allOpen says that n ports are open.
func allOpen(n int) string {
	if n == 1 {
		return "open"
	}
	return fmt.Sprintf("all %d ports open", n)
}

// abbreviate joins at most n items and says how many more there are.
func abbreviate(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ",")
	}
	return strings.Join(items[:n], ",") + fmt.Sprintf(" and %d more", len(items)-n)
}
