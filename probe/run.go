package probe

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/reflector"
	"github.com/portolan/portolan/resolve"
)

// runEnv is what the probers of one run share: the packet rate, the bound
// on concurrent exchanges, the reflector and the progress count.
type runEnv struct {
	cfg  Config
	lim  *rate.Limiter
	sem  chan struct{}
	refl netip.AddrPort

	info    reflector.Info
	infoErr error
	// rlim paces everything sent to the reflector below the rate it
	// grants one source.
	rlim *rate.Limiter

	done  atomic.Int64
	total int64
	pmu   sync.Mutex
}

func newEnv(cfg Config, refl netip.AddrPort) *runEnv {
	lim := cfg.Limiter
	if lim == nil {
		lim = NewLimiter(cfg.Rate)
	}
	return &runEnv{
		cfg:  cfg,
		lim:  lim,
		sem:  make(chan struct{}, cfg.Concurrency),
		refl: refl,
	}
}

// NewLimiter returns the limiter a run paces its packets and connection
// attempts with at r per second; runs given the same one (Config.Limiter)
// share the rate.
func NewLimiter(r float64) *rate.Limiter {
	return rate.NewLimiter(rate.Limit(r), max(1, int(r/20)))
}

// packet waits until the rate allows one more packet or connection attempt.
func (e *runEnv) packet(ctx context.Context) error { return e.lim.Wait(ctx) }

// reflectorPacket waits until both the run's rate and the reflector's
// allow one more packet to the reflector.
func (e *runEnv) reflectorPacket(ctx context.Context) error {
	if err := e.lim.Wait(ctx); err != nil {
		return err
	}
	if e.rlim != nil {
		return e.rlim.Wait(ctx)
	}
	return nil
}

// acquire takes one of the concurrent-exchange slots.
func (e *runEnv) acquire(ctx context.Context) (func(), error) {
	select {
	case e.sem <- struct{}{}:
		return func() { <-e.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// step counts n units of work as done.
func (e *runEnv) step(n int) {
	if n == 0 || e.cfg.Progress == nil {
		return
	}
	d := e.done.Add(int64(n))
	e.pmu.Lock()
	e.cfg.Progress(int(d), int(e.total))
	e.pmu.Unlock()
}

// each runs fn(0) … fn(n-1) on at most Concurrency goroutines at once.
func (e *runEnv) each(n int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, e.cfg.Concurrency) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// future is a value computed once by one goroutine and awaited by others.
type future[T any] struct {
	ch  chan struct{}
	val T
}

func newFuture[T any]() *future[T] { return &future[T]{ch: make(chan struct{})} }
func (f *future[T]) set(v T)       { f.val = v; close(f.ch) }
func (f *future[T]) get() T        { <-f.ch; return f.val }

// task is one unit of the run; its results keep the plan's order.
type task struct {
	units int
	run   func(ctx context.Context) []Result
	// late tasks run after every other task: they read others' results.
	late bool
	// counts: the task reports its progress itself.
	counts bool
}

// SetProgress sets the function told how far the run is.
func (p *Plan) SetProgress(fn func(done, total int)) { p.cfg.Progress = fn }

// SetStart sets the function told, before probing begins, the units of
// work, the expected duration and the longest it may take.
func (p *Plan) SetStart(fn func(total int, expected, longest time.Duration)) { p.cfg.Start = fn }

// Run probes and returns the report. Its verdicts are in the report; the
// run itself only stops early when ctx ends.
func (p *Plan) Run(ctx context.Context) *Report {
	start := time.Now()
	env := newEnv(p.cfg, p.reflector)
	rep := &Report{Services: p.services, Checks: p.cfg.Checks, Started: start}
	if p.reflector.IsValid() {
		rep.Reflector = p.reflector.String()
	}
	if p.cfg.ProxyName != "" {
		rep.Proxy = p.cfg.ProxyName
	}
	for _, w := range p.warnings {
		rep.Warnings = append(rep.Warnings, w.String())
	}

	if p.reflector.IsValid() && p.needsReflector() {
		env.info, env.infoErr = reflectorInfo(ctx, env)
	}

	var tasks []task
	add := func(units int, late bool, fn func(context.Context) []Result) {
		tasks = append(tasks, task{units: units, run: fn, late: late})
	}
	if env.infoErr == nil {
		env.rlim = reflectorLimiter(env.info)
	}

	// The UDP ports every flow and fallback needs, scanned once.
	scanPorts := p.scanPorts(env)
	scan := newFuture[*portScan]()
	if len(scanPorts) > 0 {
		add(len(scanPorts), false, func(ctx context.Context) []Result {
			scan.set(scanUDP(ctx, env, scanPorts))
			return nil
		})
		tasks[len(tasks)-1].counts = true
	} else {
		scan.set(&portScan{})
	}
	tcpByFlow := map[string]*future[[]Result]{}
	// The longest NAT check, which runs beside the rest: typically and
	// at worst.
	var natTime, natLongest time.Duration
	sipDone := newFuture[Result]()
	sipStarted := false

	for _, svc := range p.services {
		if p.cfg.has(CheckDNS) {
			for _, n := range p.names {
				if n.service == svc {
					add(0, false, func(context.Context) []Result { return []Result{dnsResult(n)} })
				}
			}
		}
		for _, fp := range p.flows {
			if fp.c.Service != svc {
				continue
			}
			fp := fp
			switch {
			case fp.skip != "":
				if p.cfg.has(checkOf(fp)) {
					add(0, false, func(context.Context) []Result { return []Result{skipResult(fp, checkOf(fp), fp.skip)} })
				}
			case fp.c.Proto == model.TCP:
				if !p.tcpNeeded(fp) {
					break
				}
				fut := newFuture[[]Result]()
				tcpByFlow[key(fp.c)] = fut
				add(1, false, func(ctx context.Context) []Result {
					rs := p.probeTCPFlow(ctx, env, fp)
					fut.set(rs) // every result: the fallback check reads them
					return p.shown(rs)
				})
			case fp.stun && len(fp.direct) > 0:
				if p.cfg.has(CheckSTUN) {
					add(1, false, func(ctx context.Context) []Result { return probeSTUNFlow(ctx, env, fp) })
				}
			default:
				if p.cfg.has(CheckUDP) {
					add(0, false, func(context.Context) []Result { return []Result{udpFlowResult(env, fp, scan.get())} })
				}
			}
			if p.cfg.has(CheckFallback) && fp.skip == "" && hasFallback(fp.c) {
				add(0, true, func(context.Context) []Result {
					return []Result{fallbackResult(env, p, fp, scan.get(), tcpByFlow)}
				})
			}
		}
		if p.cfg.has(CheckSIPALG) {
			for _, k := range p.sipALGChecks(svc) {
				if !sipStarted && p.reflector.IsValid() {
					sipStarted = true
					add(1, false, func(ctx context.Context) []Result {
						sipDone.set(probeSIPALG(ctx, env, p.sipPort(env)))
						return nil
					})
				}
				add(0, false, func(context.Context) []Result { return []Result{p.sipALGResult(env, svc, k, sipDone)} })
			}
		}
		if p.cfg.has(CheckSIPALG) {
			for i := range p.cons {
				k := &p.cons[i]
				if k.Service == svc && k.Kind == model.KindALGOff && len(k.Apps) > 0 && !slices.Contains(k.Apps, "sip") {
					r := Result{Check: CheckSIPALG, Service: svc, Constraint: k.ID, Target: strings.Join(k.Apps, ", ") + " ALG",
						Status: Skip, Summary: "not probed: only SIP ALGs are probed; check " + strings.Join(k.Apps, ", ") + " on the firewall by hand"}
					add(0, false, func(context.Context) []Result { return []Result{r} })
				}
			}
		}
		if p.cfg.has(CheckNATTimeout) {
			for _, k := range p.natChecks(svc) {
				if p.reflector.IsValid() && env.infoErr == nil {
					typical, longest := natDuration(p.natPlan(env, k))
					natTime, natLongest = max(natTime, typical), max(natLongest, longest)
				}
				add(1, false, func(ctx context.Context) []Result { return []Result{p.probeNATTimeout(ctx, env, svc, k)} })
			}
		}
	}

	total := 0
	for _, t := range tasks {
		total += t.units
	}
	env.total = int64(total)
	if p.cfg.Start != nil {
		pt := p.packetTime(env, total, len(scanPorts))
		p.cfg.Start(total, max(natTime, pt), max(natLongest, pt))
	}
	if p.cfg.Progress != nil {
		p.cfg.Progress(0, total)
	}

	out := make([][]Result, len(tasks))
	var wg sync.WaitGroup
	for _, late := range []bool{false, true} {
		for i, t := range tasks {
			if t.late != late {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				t0 := time.Now()
				rs := t.run(ctx)
				for j := range rs {
					if rs[j].Elapsed == 0 {
						rs[j].Elapsed = Millis(time.Since(t0))
					}
				}
				out[i] = rs
				if !t.counts {
					env.step(t.units)
				}
			}()
		}
		wg.Wait()
	}
	for _, rs := range out {
		rep.Results = append(rep.Results, rs...)
	}
	rep.Results = p.everyCheck(rep.Results)
	if rep.Results == nil {
		rep.Results = []Result{}
	}
	rep.Elapsed = Millis(time.Since(start))
	rep.summarize()
	return rep
}

// packetTime is how long the run's packets take at its rate: units of
// work, the UDP scan paced below the reflector's rate too, and the wait
// of the scan's later passes for the ports that did not answer.
func (p *Plan) packetTime(env *runEnv, units, scan int) time.Duration {
	r := p.cfg.Rate
	if scan > 0 && env.infoErr == nil && env.info.Rate > 0 {
		r = min(r, env.info.Rate*0.8)
	}
	d := time.Duration(float64(units) / r * float64(time.Second))
	if scan > 0 {
		d += 2 * p.cfg.Timeout
	}
	return d
}

// everyCheck gives each check asked for a row for each service: one
// that produced none for a service gets a "not probed" row saying why,
// after the service's last row.
func (p *Plan) everyCheck(rs []Result) []Result {
	for _, svc := range p.services {
		last := -1
		seen := map[string]bool{}
		for i, r := range rs {
			if r.Service == svc {
				last, seen[r.Check] = i, true
			}
		}
		var add []Result
		for _, c := range p.cfg.Checks {
			if !seen[c] {
				add = append(add, Result{Check: c, Service: svc, Target: "-", Status: Skip, Summary: "not probed: " + nothingFor(c, svc)})
			}
		}
		if last < 0 {
			last = len(rs) - 1
		}
		rs = slices.Concat(rs[:last+1], add, rs[last+1:])
	}
	return rs
}

// nothingFor says why a check has nothing to probe for a service.
func nothingFor(check, svc string) string {
	switch check {
	case CheckDNS:
		return "no name among the selected flows of " + svc + " (addresses, wildcards or any address only)"
	case CheckTCP:
		return "no TCP flow of " + svc + " to probe from here (selected features)"
	case CheckTLS:
		return "no flow of " + svc + " speaks TLS to a host probed directly or through the proxy (a flow to any address or an address block is probed through the reflector, without TLS)"
	case CheckProxy:
		return "no flow of " + svc + " goes through a web proxy"
	case CheckSTUN:
		return "no STUN server among the selected flows of " + svc
	case CheckUDP:
		return "no UDP flow of " + svc + " to probe from here (selected features)"
	case CheckSIPALG:
		return svc + " sends no SIP over UDP and states no ALG constraint"
	case CheckNATTimeout:
		return svc + " states no NAT timeout; --nat-measure measures one anyway"
	case CheckFallback:
		return "no flow of " + svc + " has ways out to fall back on"
	}
	return "nothing to probe for " + svc
}

func key(c *resolve.Concrete) string { return c.Service + "\x00" + c.Flow.Flow + "\x00" + c.Proto }

// shown keeps the results of the checks asked for. A TCP flow may be
// connected to only for the fallback check, which reads every result;
// through a proxy, CONNECT is the connection, so the tcp check shows it.
func (p *Plan) shown(rs []Result) []Result {
	var out []Result
	for _, r := range rs {
		if p.cfg.has(r.Check) || r.Check == CheckProxy && p.cfg.has(CheckTCP) {
			out = append(out, r)
		}
	}
	return out
}

// checkOf names the check a flow's result belongs to.
func checkOf(fp *flowPlan) string {
	switch {
	case fp.c.Proto == model.TCP:
		return CheckTCP
	case fp.stun:
		return CheckSTUN
	}
	return CheckUDP
}

// tcpNeeded reports whether a TCP flow is connected to at all: for the
// tcp, tls or proxy check, or as a way out in a fallback check.
func (p *Plan) tcpNeeded(fp *flowPlan) bool {
	return p.cfg.has(CheckTCP) || p.cfg.has(CheckTLS) || p.cfg.has(CheckProxy) || p.fallbackReads(fp)
}

// fallbackReads reports whether the fallback check reads a TCP flow's
// results: the flow has ways out of its own, or is another's way out.
func (p *Plan) fallbackReads(fp *flowPlan) bool {
	if !p.cfg.has(CheckFallback) {
		return false
	}
	if hasFallback(fp.c) {
		return true
	}
	for _, other := range p.flows {
		if other.c.Service == fp.c.Service && slices.Contains(other.c.Fallback, fp.c.Flow.Flow) {
			return true
		}
	}
	return false
}

// needsReflector reports whether any planned check talks to the reflector.
func (p *Plan) needsReflector() bool {
	for _, fp := range p.flows {
		if !fp.reflector {
			continue
		}
		if fp.c.Proto == model.UDP && (p.cfg.has(CheckUDP) || p.cfg.has(CheckFallback)) || fp.c.Proto == model.TCP && (p.cfg.has(CheckTCP) || p.fallbackReads(fp)) {
			return true
		}
	}
	if p.cfg.has(CheckSIPALG) || p.cfg.has(CheckNATTimeout) {
		for _, svc := range p.services {
			if len(p.sipALGChecks(svc)) > 0 || len(p.natChecks(svc)) > 0 {
				return true
			}
		}
	}
	return false
}

// base is a result with the flow's identity filled in.
func base(fp *flowPlan, check string) Result {
	return Result{
		Check: check, Service: fp.c.Service, Flow: fp.c.ID, Necessity: fp.c.Necessity,
		Required: fp.c.Necessity == model.Required,
	}
}

func skipResult(fp *flowPlan, check, why string) Result {
	r := base(fp, check)
	r.Target = fmt.Sprintf("%s %s %s", fp.c.Proto, strings.Join(fp.c.Ports.Strings(), ","), strings.Join(fp.c.Dest, " "))
	r.Status = Skip
	r.Summary = "not probed: " + why
	return r
}

// plural writes "1 port" or "3 ports".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
