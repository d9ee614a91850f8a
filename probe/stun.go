package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/stun/v3"
)

// STUNInfo is what an RFC 5389 binding exchange showed.
type STUNInfo struct {
	Server string `json:"server"`
	Local  string `json:"local"`
	// Mapped is the XOR-MAPPED-ADDRESS: this host as the server saw it.
	Mapped string `json:"mapped,omitempty"`
	// PlainMapped is the MAPPED-ADDRESS, when the server sent one; an ALG
	// that rewrites addresses it finds in packets changes it, and only it.
	PlainMapped string `json:"plain_mapped,omitempty"`
	NAT         bool   `json:"nat"`
	Mismatch    bool   `json:"mismatch"`
	Software    string `json:"software,omitempty"`
	Tries       int    `json:"tries"`
	RTT         Millis `json:"rtt_ms"`
}

// stunSchedule is how long each try waits for an answer: three tries, not
// RFC 5389's 39 seconds.
var stunSchedule = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}

// stunBinding sends binding requests to server until one is answered.
func stunBinding(ctx context.Context, env *runEnv, server netip.AddrPort) (*STUNInfo, error) {
	release, err := env.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	network := "udp4"
	if server.Addr().Is6() {
		network = "udp6"
	}
	conn, err := env.cfg.Net.DialContext(ctx, network, server.String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	info := &STUNInfo{Server: server.String(), Local: conn.LocalAddr().String()}
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewSoftware("portolan-probe"), stun.Fingerprint)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1500)
	for _, wait := range stunSchedule {
		if err := env.packet(ctx); err != nil {
			return nil, err
		}
		info.Tries++
		t0 := time.Now()
		if _, err := conn.Write(req.Raw); err != nil {
			return info, err
		}
		conn.SetReadDeadline(t0.Add(wait))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() != nil || res.TransactionID != req.TransactionID {
				continue
			}
			info.RTT = Millis(time.Since(t0))
			if res.Type != stun.BindingSuccess {
				return info, fmt.Errorf("the server answered %s", res.Type)
			}
			return info, readMapped(res, info, conn.LocalAddr())
		}
	}
	return info, fmt.Errorf("no STUN answer after %d tries in %s", len(stunSchedule), scheduleTotal())
}

// scheduleTotal is how long all the tries of stunSchedule wait.
func scheduleTotal() time.Duration {
	var total time.Duration
	for _, w := range stunSchedule {
		total += w
	}
	return total
}

// readMapped fills the mapped addresses and what they say.
func readMapped(res *stun.Message, info *STUNInfo, local net.Addr) error {
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(res); err != nil {
		return errors.New("the answer has no XOR-MAPPED-ADDRESS")
	}
	mapped := addrPort(xor.IP, xor.Port)
	info.Mapped = mapped.String()
	var plain stun.MappedAddress
	if plain.GetFrom(res) == nil {
		pm := addrPort(plain.IP, plain.Port)
		info.PlainMapped = pm.String()
		info.Mismatch = pm != mapped
	}
	var sw stun.Software
	if sw.GetFrom(res) == nil {
		info.Software = sw.String()
	}
	if ua, ok := local.(*net.UDPAddr); ok {
		info.NAT = ua.AddrPort() != mapped && netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port()) != mapped
	}
	return nil
}

func addrPort(ip net.IP, port int) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

// probeSTUNFlow sends a binding request to every host and port of a STUN
// flow.
func probeSTUNFlow(ctx context.Context, env *runEnv, fp *flowPlan) []Result {
	jobs := cross(fp.direct, tcpPorts(fp.c.Ports, env.cfg.Sample))
	out := make([]Result, len(jobs))
	env.each(len(jobs), func(i int) {
		j := jobs[i]
		r := base(fp, CheckSTUN)
		r.Target = fmt.Sprintf("%s udp/%d", j.e, j.port)
		r.Via = "direct"
		info, err := stunBinding(ctx, env, netip.AddrPortFrom(j.e.Addr, j.port))
		r.STUN = info
		switch {
		case err != nil:
			r.Status, r.Summary = Fail, err.Error()
		case info.Mismatch:
			r.Status = Warn
			r.Summary = fmt.Sprintf("MAPPED-ADDRESS %s differs from XOR-MAPPED-ADDRESS %s: something on the way rewrites addresses in packets (an ALG)", info.PlainMapped, info.Mapped)
		case info.NAT:
			r.Status, r.Summary = OK, fmt.Sprintf("answered in %s; NAT: %s is seen as %s", time.Duration(info.RTT).Round(time.Millisecond), info.Local, info.Mapped)
		default:
			r.Status, r.Summary = OK, fmt.Sprintf("answered in %s; no NAT (seen as %s)", time.Duration(info.RTT).Round(time.Millisecond), info.Mapped)
		}
		if info != nil && info.PlainMapped == "" && err == nil {
			r.Details = append(r.Details, "the server sent no MAPPED-ADDRESS, so an ALG rewriting it cannot be seen")
		}
		out[i] = r
	})
	return out
}
