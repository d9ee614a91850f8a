package probe

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/reflector"
	"github.com/portolan/portolan/resolve"
)

// NATInfo is what the nat-timeout check measured: a UDP binding that
// stayed alive AliveAfter of silence and one gone after GoneAfter, so
// the lifetime lies between.
type NATInfo struct {
	Port uint16 `json:"port"`
	Mode string `json:"mode"` // "quick" or "measure"
	// Min is the lifetime the document asks for, when it says one.
	Min        Millis     `json:"min_ms,omitempty"`
	AliveAfter Millis     `json:"alive_after_ms"`
	GoneAfter  Millis     `json:"gone_after_ms,omitempty"`
	Trials     []NATTrial `json:"trials"`
}

// NATTrial is one binding left idle for Delay: alive (the delayed reply
// came back through it), gone, or lost (no acknowledgement at all).
type NATTrial struct {
	Delay   Millis `json:"delay_ms"`
	Outcome string `json:"outcome"`
}

// Trial outcomes.
const (
	natAlive = "alive"
	natGone  = "gone"
	natLost  = "lost"
)

// natChecks lists the nat-timeout constraints of a service; with
// --nat-measure and no constraint anywhere, the first service gets a
// measurement without one (nil).
func (p *Plan) natChecks(svc string) []*resolve.Constraint {
	var out []*resolve.Constraint
	any := false
	for i := range p.cons {
		k := &p.cons[i]
		if k.Kind == model.KindNATTimeout {
			any = true
			if k.Service == svc {
				out = append(out, k)
			}
		}
	}
	if !any && p.cfg.NATMeasure && len(p.services) > 0 && p.services[0] == svc {
		out = append(out, nil)
	}
	return out
}

// natGrace is how long past a trial's delay its reply may still come.
const natGrace = 1500 * time.Millisecond

// natTrial opens a fresh socket (a fresh NAT binding), asks the reflector
// for an acknowledgement now and a reply after d, and reports whether the
// reply came back through the binding after d of silence.
func natTrial(ctx context.Context, env *runEnv, dst netip.AddrPort, d time.Duration) string {
	network := "udp4"
	if dst.Addr().Is6() {
		network = "udp6"
	}
	conn, err := env.cfg.Net.DialContext(ctx, network, dst.String())
	if err != nil {
		return natLost
	}
	defer conn.Close()
	// A trial waits up to its delay: closing the socket ends it early
	// when the run is interrupted.
	defer context.AfterFunc(ctx, func() { conn.Close() })()
	buf := make([]byte, reflector.MaxLen+1)
	var acked [16]byte
	ok := false
	// One request, one acknowledgement: only two packets before the
	// silence, so that Linux conntrack does not yet count it a stream.
	for _, wait := range stunSchedule {
		nonce := reflector.NewNonce()
		if err := env.reflectorPacket(ctx); err != nil {
			return natLost
		}
		conn.Write(reflector.Encode(env.cfg.Token, reflector.TypeDelay, nonce, time.Now(), reflector.DelayBody(dst.Port(), d), reflector.DelayRequestLen))
		conn.SetReadDeadline(time.Now().Add(wait))
		for !ok {
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			m, err := reflector.Decode(env.cfg.Token, buf[:n])
			if err == nil && m.Type == reflector.TypeDelayAck && m.Nonce == nonce {
				acked, ok = nonce, true
			}
		}
		if ok {
			break
		}
	}
	if !ok {
		return natLost
	}
	deadline := time.Now().Add(d + natGrace)
	for {
		conn.SetReadDeadline(deadline)
		n, err := conn.Read(buf)
		if err != nil {
			if ctx.Err() != nil {
				return natLost
			}
			return natGone
		}
		m, err := reflector.Decode(env.cfg.Token, buf[:n])
		if err == nil && m.Type == reflector.TypeDelayReply && m.Nonce == acked {
			return natAlive
		}
	}
}

// natWave runs trials for the delays at once, each on its own binding,
// retrying a lost one once.
func natWave(ctx context.Context, env *runEnv, dst netip.AddrPort, delays []time.Duration, info *NATInfo) map[time.Duration]string {
	out := map[time.Duration]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, d := range delays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := natTrial(ctx, env, dst, d)
			if o == natLost && ctx.Err() == nil {
				o = natTrial(ctx, env, dst, d)
			}
			mu.Lock()
			out[d] = o
			info.Trials = append(info.Trials, NATTrial{Millis(d), o})
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// natWidth is the precision a measurement stops at.
const natWidth = time.Second

// measureNAT brackets the binding lifetime: waves of four trials at
// doubling delays (1, 2, 4, 8 s, then 16…128 s) until one is gone, then
// waves of four splitting the bracket until it is narrower than a second.
func measureNAT(ctx context.Context, env *runEnv, dst netip.AddrPort, maxD time.Duration, info *NATInfo) (alive, gone time.Duration, err error) {
	var ladder []time.Duration
	for d := time.Second; d < maxD; d *= 2 {
		ladder = append(ladder, d)
	}
	ladder = append(ladder, maxD)
	for len(ladder) > 0 && gone == 0 {
		n := min(4, len(ladder))
		wave := ladder[:n]
		ladder = ladder[n:]
		res := natWave(ctx, env, dst, wave, info)
		if err := ctx.Err(); err != nil {
			return alive, gone, err
		}
		for _, d := range wave {
			switch res[d] {
			case natAlive:
				alive = max(alive, d)
			case natGone:
				if gone == 0 || d < gone {
					gone = d
				}
			}
		}
		if alive == 0 && gone == 0 {
			return 0, 0, fmt.Errorf("no trial was acknowledged by the reflector on udp/%d", dst.Port())
		}
	}
	if gone == 0 {
		return alive, 0, nil
	}
	for gone-alive > natWidth {
		step := (gone - alive) / 5
		var wave []time.Duration
		for i := 1; i <= 4; i++ {
			wave = append(wave, (alive + time.Duration(i)*step).Round(100*time.Millisecond))
		}
		res := natWave(ctx, env, dst, wave, info)
		if err := ctx.Err(); err != nil {
			return alive, gone, err
		}
		changed := false
		for _, d := range wave {
			switch res[d] {
			case natAlive:
				if d > alive && d < gone {
					alive, changed = d, true
				}
			case natGone:
				if d < gone && d > alive {
					gone, changed = d, true
				}
			}
		}
		if !changed {
			return alive, gone, fmt.Errorf("the trials between %s and %s were all lost", alive, gone)
		}
	}
	return alive, gone, nil
}

// natPlan says how a nat-timeout check runs: quick (one trial at the
// document's minimum) or a measurement up to maxD.
func (p *Plan) natPlan(env *runEnv, k *resolve.Constraint) (quick bool, least, maxD time.Duration) {
	if k != nil {
		least, _ = time.ParseDuration(k.MinTimeout)
	}
	if !p.cfg.NATMeasure && least > 0 {
		return true, least, 0
	}
	maxD = p.cfg.NATMax
	if maxD <= 0 {
		maxD = 3 * time.Minute
		if least > 0 {
			maxD = 2 * least
		}
	}
	return false, least, min(maxD, env.info.MaxDelay)
}

// natDuration is how long a nat-timeout check takes: the quick trial;
// for a measurement, typical is the ladder of waves up to maxD (every
// binding lives that long) and longest the worst case, a lifetime just
// short of the last rung, bracketed by waves that each wait nearly as
// long.
func natDuration(quick bool, least, maxD time.Duration) (typical, longest time.Duration) {
	if quick {
		return least + natGrace, least + natGrace
	}
	var ladder []time.Duration
	for d := time.Second; d < maxD; d *= 2 {
		ladder = append(ladder, d)
	}
	ladder = append(ladder, maxD)
	var sum, alive time.Duration
	for len(ladder) > 0 {
		wave := ladder[:min(4, len(ladder))]
		ladder = ladder[len(wave):]
		sum += wave[len(wave)-1] + natGrace
		longest = max(longest, sum)
		for _, gone := range wave {
			// Gone at this rung, alive at the one before: each wave
			// splits the bracket in five and, at worst, keeps the top
			// fifth.
			split := sum
			for w := gone - alive; w > natWidth; w /= 5 {
				split += gone - w/5 + natGrace
			}
			longest = max(longest, split)
			alive = gone
		}
	}
	return sum, longest
}

// probeNATTimeout checks a nat-timeout constraint (k nil: measures only).
func (p *Plan) probeNATTimeout(ctx context.Context, env *runEnv, svc string, k *resolve.Constraint) Result {
	r := Result{Check: CheckNATTimeout, Service: svc, Required: k != nil, Via: "reflector " + p.reflector.String()}
	var min time.Duration
	var ports model.PortSet
	if k != nil {
		r.Constraint = k.ID
		r.Flow = strings.Join(k.Flows, ",")
		min, _ = time.ParseDuration(k.MinTimeout)
		var rs []model.PortRange
		for _, s := range k.Ports {
			if pr, err := model.ParsePortRange(s); err == nil {
				rs = append(rs, pr)
			}
		}
		ports = model.NewPortSet(rs...)
	}
	r.Target = "udp binding lifetime"
	if !p.reflector.IsValid() {
		r.Status, r.Summary = Skip, "not probed: a NAT binding's lifetime needs a far end that answers late; give --reflector"
		return r
	}
	if env.infoErr != nil {
		r.Status, r.Summary = Error, env.infoErr.Error()
		return r
	}
	port := p.reflector.Port()
	if served := ports.Intersect(env.info.UDP); !served.Empty() {
		port = served.Ranges()[0].Lo
	} else if !ports.Empty() {
		r.Details = append(r.Details, fmt.Sprintf("the reflector serves none of udp %s; measured on its control port %d (a firewall may time ports differently)", ports, port))
	}
	dst := netip.AddrPortFrom(p.reflector.Addr(), port)
	r.Target = fmt.Sprintf("udp/%d binding lifetime", port)
	info := &NATInfo{Port: port, Min: Millis(min)}
	r.NAT = info
	defer func() {
		sort.Slice(info.Trials, func(i, j int) bool { return info.Trials[i].Delay < info.Trials[j].Delay })
	}()

	quick, min, maxD := p.natPlan(env, k)
	if quick {
		info.Mode = "quick"
		if min > env.info.MaxDelay {
			r.Status, r.Summary = Error, fmt.Sprintf("the reflector delays replies by %s at most, less than the %s to check", env.info.MaxDelay, min)
			return r
		}
		res := natWave(ctx, env, dst, []time.Duration{min}, info)
		switch res[min] {
		case natAlive:
			info.AliveAfter = Millis(min)
			r.Status, r.Summary = OK, fmt.Sprintf("UDP bindings live at least %s, as the document asks (%s)", min, k.ID)
		case natGone:
			info.GoneAfter = Millis(min)
			r.Status = Fail
			r.Summary = fmt.Sprintf("UDP bindings expire before %s of silence; the document asks for at least %s (%s): phones can call out but miss incoming calls", min, min, k.ID)
			r.Details = append(r.Details, "measure how long they live with --nat-measure")
		default:
			r.Status, r.Summary = Error, fmt.Sprintf("the reflector did not acknowledge on udp/%d: cannot measure", port)
		}
		return r
	}

	info.Mode = "measure"
	alive, gone, err := measureNAT(ctx, env, dst, maxD, info)
	info.AliveAfter, info.GoneAfter = Millis(alive), Millis(gone)
	switch {
	case err != nil:
		r.Status, r.Summary = Error, err.Error()
		return r
	case gone == 0:
		r.Summary = fmt.Sprintf("UDP bindings live longer than %s (the longest tried)", alive)
	case alive == 0:
		r.Summary = fmt.Sprintf("UDP bindings expire in less than %s", gone)
	default:
		r.Summary = fmt.Sprintf("UDP bindings live between %s and %s of silence", alive, gone)
	}
	r.Status = OK
	if min > 0 {
		switch {
		case gone != 0 && gone <= min:
			r.Status = Fail
			r.Summary += fmt.Sprintf("; the document asks for at least %s (%s): phones can call out but miss incoming calls", min, k.ID)
		case alive >= min:
			r.Summary += fmt.Sprintf(", at least the %s asked", min)
		default:
			r.Status = Warn
			r.Summary += fmt.Sprintf("; the %s asked lies inside that bracket", min)
		}
	}
	return r
}
