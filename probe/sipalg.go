package probe

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/reflector"
	"github.com/portolan/portolan/resolve"
)

// SIPInfo is what the SIP ALG check sent and what arrived.
type SIPInfo struct {
	Port  uint16 `json:"port"`
	Local string `json:"local"`
	// Source is where the reflector saw the request come from.
	Source  string      `json:"source,omitempty"`
	NAT     bool        `json:"nat"`
	ALG     bool        `json:"alg"`
	Changes []SIPChange `json:"changes,omitempty"`
	// Sent and Received are the request as sent and as it arrived
	// (without the padding header).
	Sent     string `json:"sent,omitempty"`
	Received string `json:"received,omitempty"`
}

// SIPChange is one thing rewritten on the way: a header ("Via", "Contact",
// "request line") or an SDP line ("SDP c=").
type SIPChange struct {
	Where    string `json:"where"`
	Sent     string `json:"sent"`
	Received string `json:"received"`
}

// sipALGCheck is one alg-off constraint on SIP, or nil for a service that
// sends SIP over UDP without one.
type sipALGCheck = *resolve.Constraint

// sipALGChecks lists what the sip-alg check answers for a service.
func (p *Plan) sipALGChecks(svc string) []sipALGCheck {
	var out []sipALGCheck
	for i := range p.cons {
		k := &p.cons[i]
		if k.Service == svc && k.Kind == model.KindALGOff && (len(k.Apps) == 0 || slices.Contains(k.Apps, "sip")) {
			out = append(out, k)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, fp := range p.flows {
		if fp.c.Service == svc && fp.c.App == "sip" && fp.c.Proto == model.UDP && fp.c.Direction == model.Outbound {
			return []sipALGCheck{nil}
		}
	}
	return nil
}

// sipPort picks the reflector port for the SIP request: 5060 when the
// flows use it, else the lowest SIP port of the flows, within what the
// reflector serves; 0 when it serves none.
func (p *Plan) sipPort(env *runEnv) uint16 {
	if env.infoErr != nil {
		return 0
	}
	var ports model.PortSet
	for _, fp := range p.flows {
		if fp.c.App == "sip" && fp.c.Proto == model.UDP {
			ports = ports.Union(fp.c.Ports)
		}
	}
	served := ports.Intersect(env.info.UDP)
	switch {
	case env.info.UDP.Contains(5060) && (ports.Empty() || ports.Contains(5060)):
		return 5060
	case !served.Empty():
		return served.Ranges()[0].Lo
	}
	return 0
}

// sipALGResult is the check's result for one service and constraint.
func (p *Plan) sipALGResult(env *runEnv, svc string, k sipALGCheck, done *future[Result]) Result {
	var r Result
	if !p.reflector.IsValid() {
		r = Result{Status: Skip, Summary: "not probed: a SIP ALG shows only in what arrives; give --reflector", Target: "udp/5060"}
	} else {
		r = done.get()
	}
	r.Check, r.Service = CheckSIPALG, svc
	if k == nil {
		r.Required = false
		if r.Status == Fail && r.SIP != nil && r.SIP.ALG {
			r.Status = Warn
		}
		return r
	}
	r.Constraint, r.Required = k.ID, true
	return r
}

// probeSIPALG sends a well-formed INVITE with SDP to the reflector, which
// answers with the request as it arrived; every header and SDP line that
// differs was rewritten on the way.
func probeSIPALG(ctx context.Context, env *runEnv, port uint16) Result {
	r := Result{Check: CheckSIPALG, Via: "reflector " + env.refl.String()}
	r.Target = fmt.Sprintf("udp/%d", port)
	switch {
	case env.infoErr != nil:
		r.Status, r.Summary = Error, env.infoErr.Error()
		return r
	case port == 0:
		r.Status, r.Summary = Skip, "not probed: the reflector serves no SIP port (add 5060 to its --udp-ports)"
		return r
	}
	release, err := env.acquire(ctx)
	if err != nil {
		r.Status, r.Summary = Error, err.Error()
		return r
	}
	defer release()
	dst := netip.AddrPortFrom(env.refl.Addr(), port)
	network := "udp4"
	if dst.Addr().Is6() {
		network = "udp6"
	}
	conn, err := env.cfg.Net.DialContext(ctx, network, dst.String())
	if err != nil {
		r.Status, r.Summary = Error, err.Error()
		return r
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	info := &SIPInfo{Port: port, Local: local.String()}
	r.SIP = info

	invite := buildInvite(local, dst)
	var resp *reflector.SIP
	var sent *reflector.SIP
	buf := make([]byte, reflector.MaxSIPLen+1)
	// RFC 3261's T1 doubling: 500 ms, 1 s, 2 s.
	for _, wait := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		// Each try is signed afresh: the reflector refuses a nonce twice.
		nonce := reflector.NewNonce()
		req := padInvite(env.cfg.Token, invite, local, port, nonce)
		if err := env.reflectorPacket(ctx); err != nil {
			r.Status, r.Summary = Error, err.Error()
			return r
		}
		conn.Write(req.Bytes())
		conn.SetReadDeadline(time.Now().Add(wait))
		for resp == nil {
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			m, err := reflector.ParseSIP(buf[:n])
			if err != nil || m.Status() == 0 || reflector.VerifySIPResponse(env.cfg.Token, m, nonce) != nil {
				continue
			}
			resp, sent = m, req
		}
		if resp != nil {
			break
		}
	}
	if resp == nil {
		if why := udpEchoOnce(ctx, env, conn, port); why == "" {
			r.Status = Fail
			r.Summary = fmt.Sprintf("SIP on udp/%d gets no answer while other UDP on that port does: something on the way drops SIP (a SIP-aware firewall or ALG)", port)
		} else {
			r.Status = Error
			r.Summary = fmt.Sprintf("udp/%d to the reflector gets no answer at all (%s): cannot test for a SIP ALG", port, why)
		}
		return r
	}
	sendACK(conn, sent, resp, env.cfg.Token, port)
	got, err := reflector.DecodeReceived(resp.Body)
	if err != nil {
		r.Status, r.Summary = Error, "the reflector's answer: "+err.Error()
		return r
	}
	info.Source = got.Source.String()
	info.NAT = got.Source != local
	clean := sent.Without(reflector.HdrPad)
	info.Sent, info.Received = string(clean.Bytes()), string(got.Raw)
	arrived, err := reflector.ParseSIP(got.Raw)
	if err != nil {
		info.ALG = true
		r.Status = Fail
		r.Summary = "SIP ALG: the request arrived mangled beyond parsing: " + err.Error()
		return r
	}
	info.Changes = diffSIP(clean, arrived)
	if info.NAT {
		r.Details = append(r.Details, fmt.Sprintf("NAT: sent from %s, arrived from %s", local, got.Source))
	}
	if len(info.Changes) == 0 {
		r.Status, r.Summary = OK, "no SIP ALG: the request arrived exactly as sent"
		return r
	}
	info.ALG = true
	var where []string
	for _, c := range info.Changes {
		if !slices.Contains(where, c.Where) && c.Where != "Content-Length" {
			where = append(where, c.Where)
		}
		r.Details = append(r.Details, fmt.Sprintf("%s: %q → %q", c.Where, c.Sent, c.Received))
	}
	if len(where) == 0 {
		where = []string{"Content-Length"}
	}
	r.Status = Fail
	r.Summary = "SIP ALG detected: rewrote " + strings.Join(where, ", ")
	return r
}

// buildInvite writes the INVITE a phone at local would send to dst, with
// an SDP offer for audio; X-Portolan-Auth and X-Portolan-Pad come later.
func buildInvite(local, dst netip.AddrPort) *reflector.SIP {
	tag := randHex(4)
	ip := local.Addr().String()
	ipv := "IP4"
	if local.Addr().Is6() {
		ipv = "IP6"
	}
	host := ip
	if local.Addr().Is6() {
		host = "[" + ip + "]"
	}
	hostport := net.JoinHostPort(ip, strconv.Itoa(int(local.Port())))
	rtp := int(local.Port())&^1 + 2
	if rtp > 65534 {
		rtp = 40000
	}
	sdp := strings.Join([]string{
		"v=0",
		fmt.Sprintf("o=portolan %d 1 IN %s %s", time.Now().Unix(), ipv, ip),
		"s=portolan probe",
		fmt.Sprintf("c=IN %s %s", ipv, ip),
		"t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0 8 101", rtp),
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=sendrecv",
	}, "\r\n") + "\r\n"
	uri := "sip:reflector@" + dst.String()
	m := &reflector.SIP{StartLine: "INVITE " + uri + " SIP/2.0"}
	m.Headers = []reflector.Header{
		{Name: "Via", Value: "SIP/2.0/UDP " + hostport + ";branch=z9hG4bK" + randHex(8) + ";rport"},
		{Name: "Max-Forwards", Value: "70"},
		{Name: "From", Value: "<sip:portolan@" + host + ">;tag=" + tag},
		{Name: "To", Value: "<" + uri + ">"},
		{Name: "Call-ID", Value: randHex(12) + "@portolan.invalid"},
		{Name: "CSeq", Value: "1 INVITE"},
		{Name: "Contact", Value: "<sip:portolan@" + hostport + ">"},
		{Name: "User-Agent", Value: "portolan-probe"},
		{Name: "Content-Type", Value: "application/sdp"},
	}
	m.Body = []byte(sdp)
	m.SetLength()
	return m
}

// padInvite signs a copy of the INVITE and pads it so that the
// reflector's answer, which carries it back, is no larger than it.
func padInvite(token []byte, invite *reflector.SIP, local netip.AddrPort, port uint16, nonce [16]byte) *reflector.SIP {
	m := &reflector.SIP{StartLine: invite.StartLine, Headers: append([]reflector.Header(nil), invite.Headers...), Body: invite.Body}
	reflector.SignSIPRequest(token, m, nonce, time.Now(), port)
	ans := reflector.BuildSIPAnswer(token, m, local, port, nonce, time.Now())
	// Room for an ALG making the request longer on the way (longer
	// addresses, added parameters), which makes the answer longer too.
	want := len(ans.Bytes()) + 192
	pad := want - len(m.Bytes()) - len(reflector.HdrPad) - 4
	if pad < 1 {
		pad = 1
	}
	m.Headers = append(m.Headers[:len(m.Headers)-1], reflector.Header{Name: reflector.HdrPad, Value: strings.Repeat("x", pad)}, m.Headers[len(m.Headers)-1])
	// X-Portolan-Auth stays last: it was appended by SignSIPRequest.
	return m
}

// sendACK acknowledges a final non-2xx answer to an INVITE, as RFC 3261
// has the client transaction do, so that no middlebox keeps waiting. It
// is signed, so that the reflector counts it as a probe's ACK and not as
// a request without the token.
func sendACK(conn net.Conn, invite, resp *reflector.SIP, token []byte, port uint16) {
	if invite.Method() != "INVITE" || resp.Status() < 300 {
		return
	}
	uri := strings.SplitN(invite.StartLine, " ", 3)[1]
	ack := &reflector.SIP{StartLine: "ACK " + uri + " SIP/2.0"}
	ack.Headers = []reflector.Header{
		{Name: "Via", Value: invite.Get("Via")},
		{Name: "Max-Forwards", Value: "70"},
		{Name: "From", Value: invite.Get("From")},
		{Name: "To", Value: resp.Get("To")},
		{Name: "Call-ID", Value: invite.Get("Call-ID")},
		{Name: "CSeq", Value: strings.Fields(invite.Get("CSeq"))[0] + " ACK"},
	}
	ack.SetLength()
	reflector.SignSIPRequest(token, ack, reflector.NewNonce(), time.Now(), port)
	conn.Write(ack.Bytes())
}

// udpEchoOnce asks the reflector for one echo over conn (already aimed at
// the port in question): "" when it answers, else why not.
func udpEchoOnce(ctx context.Context, env *runEnv, conn net.Conn, port uint16) string {
	buf := make([]byte, reflector.MaxLen+1)
	for _, wait := range []time.Duration{500 * time.Millisecond, time.Second} {
		nonce := reflector.NewNonce()
		if err := env.reflectorPacket(ctx); err != nil {
			return err.Error()
		}
		conn.Write(reflector.Encode(env.cfg.Token, reflector.TypeEcho, nonce, time.Now(), reflector.RequestBody(port), reflector.EchoRequestLen))
		conn.SetReadDeadline(time.Now().Add(wait))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				break
			}
			if m, err := reflector.Decode(env.cfg.Token, buf[:n]); err == nil && m.Type == reflector.TypeEchoReply && m.Nonce == nonce {
				return ""
			}
		}
	}
	return "blocked, or the reflector is down"
}

// diffSIP lists what differs between the request sent and the one that
// arrived: the request line, each header (the n-th Via against the n-th
// Via), and the SDP body line by line.
func diffSIP(sent, got *reflector.SIP) []SIPChange {
	var out []SIPChange
	if sent.StartLine != got.StartLine {
		out = append(out, SIPChange{"request line", sent.StartLine, got.StartLine})
	}
	type hdr struct {
		name string
		vals []string
	}
	group := func(m *reflector.SIP) ([]string, map[string]*hdr) {
		var order []string
		byName := map[string]*hdr{}
		for _, h := range m.Headers {
			c := reflector.CanonicalName(h.Name)
			if _, ok := byName[c]; !ok {
				order = append(order, c)
				byName[c] = &hdr{name: h.Name}
			}
			byName[c].vals = append(byName[c].vals, h.Value)
		}
		return order, byName
	}
	so, sm := group(sent)
	go_, gm := group(got)
	names := so
	for _, n := range go_ {
		if _, ok := sm[n]; !ok {
			names = append(names, n)
		}
	}
	for _, n := range names {
		s, g := sm[n], gm[n]
		label := n
		if s != nil {
			label = s.name
		} else if g != nil {
			label = g.name
		}
		var sv, gv []string
		if s != nil {
			sv = s.vals
		}
		if g != nil {
			gv = g.vals
		}
		multi := len(sv) > 1 || len(gv) > 1
		diffLists(sv, gv, func(i int, a, b string) {
			where := label
			if multi {
				where = fmt.Sprintf("%s #%d", label, i+1)
			}
			out = append(out, SIPChange{where, a, b})
		})
	}
	sl := strings.Split(strings.TrimRight(string(sent.Body), "\r\n"), "\r\n")
	gl := strings.Split(strings.TrimRight(string(got.Body), "\r\n"), "\r\n")
	diffLists(sl, gl, func(i int, a, b string) {
		kind := a
		if len(kind) < 2 || kind[1] != '=' {
			kind = b
		}
		where := "SDP line " + strconv.Itoa(i+1)
		if len(kind) >= 2 && kind[1] == '=' {
			where = "SDP " + kind[:2]
		}
		out = append(out, SIPChange{where, a, b})
	})
	return out
}

// diffLists calls fn for each position where a and b differ, with
// "(absent)" for what the shorter one lacks.
func diffLists(a, b []string, fn func(i int, x, y string)) {
	for i := range max(len(a), len(b)) {
		x, y := "(absent)", "(absent)"
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fn(i, x, y)
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
