package reflector

import (
	"bytes"
	"compress/flate"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// SIP is one SIP message, kept as it stands on the wire: the start line,
// the headers in order (names as written), the body. It is strict about
// syntax, as a SIP ALG is: CRLF line ends, a Content-Length that matches.
type SIP struct {
	StartLine string
	Headers   []Header
	Body      []byte
}

// Header is one header line.
type Header struct{ Name, Value string }

// SIP headers the probe and the reflector use.
const (
	HdrAuth = "X-Portolan-Auth"
	HdrPad  = "X-Portolan-Pad"
	// ReceivedType is the content type of the reflector's answer body:
	// what arrived, compressed and base64-encoded so that no ALG on the
	// way back takes it for SDP and rewrites it.
	ReceivedType = "application/x-portolan-received"
)

// compact maps SIP's one-letter header forms to full names.
var compact = map[string]string{
	"v": "Via", "m": "Contact", "i": "Call-ID", "l": "Content-Length", "c": "Content-Type",
	"f": "From", "t": "To", "k": "Supported", "s": "Subject", "e": "Content-Encoding",
}

// CanonicalName returns a header name in its full, canonical-case form for
// comparing: "v" and "VIA" both give "via".
func CanonicalName(name string) string {
	if full, ok := compact[strings.ToLower(name)]; ok {
		name = full
	}
	return strings.ToLower(name)
}

// MaxSIPLen bounds what ParseSIP reads.
const MaxSIPLen = 8192

// ParseSIP parses one SIP message.
func ParseSIP(b []byte) (*SIP, error) {
	if len(b) > MaxSIPLen {
		return nil, fmt.Errorf("sip: message of %d bytes, more than %d", len(b), MaxSIPLen)
	}
	head, body, ok := bytes.Cut(b, []byte("\r\n\r\n"))
	if !ok {
		return nil, errors.New("sip: no empty line (CRLF CRLF) after the headers")
	}
	lines := strings.Split(string(head), "\r\n")
	m := &SIP{StartLine: lines[0], Body: body}
	if strings.ContainsAny(m.StartLine, "\r\n") {
		return nil, errors.New("sip: bare CR or LF in the start line")
	}
	if _, _, err := m.parseStart(); err != nil {
		return nil, err
	}
	// A folded value is joined in one builder, in time linear in its
	// length: joining line by line would be quadratic, which a datagram
	// of continuation lines turns into work for the sender's asking.
	var fold strings.Builder
	folding := false
	unfold := func() {
		if folding {
			m.Headers[len(m.Headers)-1].Value = fold.String()
			folding = false
		}
	}
	for i, l := range lines[1:] {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("sip: header line %d: bare CR or LF", i+2)
		}
		if l != "" && (l[0] == ' ' || l[0] == '\t') {
			if len(m.Headers) == 0 {
				return nil, fmt.Errorf("sip: header line %d: continuation before any header", i+2)
			}
			if !folding {
				fold = strings.Builder{}
				fold.WriteString(m.Headers[len(m.Headers)-1].Value)
				folding = true
			}
			if p := strings.TrimSpace(l); p != "" {
				if fold.Len() > 0 {
					fold.WriteByte(' ')
				}
				fold.WriteString(p)
			}
			continue
		}
		unfold()
		name, val, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("sip: header line %d: %q is not NAME: VALUE", i+2, l)
		}
		m.Headers = append(m.Headers, Header{name, strings.TrimSpace(val)})
	}
	unfold()
	cl := m.Get("Content-Length")
	if cl == "" {
		return nil, errors.New("sip: no Content-Length")
	}
	n, err := strconv.Atoi(cl)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("sip: Content-Length %q is not a number", cl)
	}
	if n != len(body) {
		return nil, fmt.Errorf("sip: Content-Length %d, but the body has %d bytes", n, len(body))
	}
	for _, h := range []string{"Via", "From", "To", "Call-ID", "CSeq"} {
		if m.Get(h) == "" {
			return nil, fmt.Errorf("sip: no %s header", h)
		}
	}
	return m, nil
}

// parseStart splits the start line: a request gives its method, a
// response its status code.
func (m *SIP) parseStart() (method string, code int, err error) {
	f := strings.SplitN(m.StartLine, " ", 3)
	if len(f) < 3 {
		return "", 0, fmt.Errorf("sip: start line %q has not three parts", m.StartLine)
	}
	if f[0] == "SIP/2.0" {
		code, err := strconv.Atoi(f[1])
		if err != nil || code < 100 || code > 699 {
			return "", 0, fmt.Errorf("sip: status %q is not a SIP status code", f[1])
		}
		return "", code, nil
	}
	if f[2] != "SIP/2.0" {
		return "", 0, fmt.Errorf("sip: request line %q does not end in SIP/2.0", m.StartLine)
	}
	if f[0] == "" {
		return "", 0, fmt.Errorf("sip: request line %q has no method", m.StartLine)
	}
	for _, c := range f[0] {
		if c < 'A' || c > 'Z' {
			return "", 0, fmt.Errorf("sip: method %q is not upper-case letters", f[0])
		}
	}
	if !strings.HasPrefix(f[1], "sip:") && !strings.HasPrefix(f[1], "sips:") {
		return "", 0, fmt.Errorf("sip: request URI %q is not a sip: URI", f[1])
	}
	return f[0], 0, nil
}

// Method returns the request's method, "" for a response.
func (m *SIP) Method() string { meth, _, _ := m.parseStart(); return meth }

// Status returns the response's status code, 0 for a request.
func (m *SIP) Status() int { _, code, _ := m.parseStart(); return code }

// Get returns the first value of the header (any case, compact forms too).
func (m *SIP) Get(name string) string {
	c := CanonicalName(name)
	for _, h := range m.Headers {
		if CanonicalName(h.Name) == c {
			return h.Value
		}
	}
	return ""
}

// All returns every value of the header, in order.
func (m *SIP) All(name string) []string {
	c := CanonicalName(name)
	var out []string
	for _, h := range m.Headers {
		if CanonicalName(h.Name) == c {
			out = append(out, h.Value)
		}
	}
	return out
}

// Without returns a copy of m without the named header.
func (m *SIP) Without(name string) *SIP {
	c := CanonicalName(name)
	out := &SIP{StartLine: m.StartLine, Body: m.Body}
	for _, h := range m.Headers {
		if CanonicalName(h.Name) != c {
			out.Headers = append(out.Headers, h)
		}
	}
	return out
}

// Bytes writes the message with CRLF line ends; Content-Length is written
// as the headers say (callers keep it right with SetLength).
func (m *SIP) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString(m.StartLine)
	b.WriteString("\r\n")
	for _, h := range m.Headers {
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(h.Value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(m.Body)
	return b.Bytes()
}

// Set replaces the first value of the header, or adds it at the end.
func (m *SIP) Set(name, value string) {
	c := CanonicalName(name)
	for i, h := range m.Headers {
		if CanonicalName(h.Name) == c {
			m.Headers[i].Value = value
			return
		}
	}
	m.Headers = append(m.Headers, Header{name, value})
}

// SetLength sets Content-Length to the body's length.
func (m *SIP) SetLength() { m.Set("Content-Length", strconv.Itoa(len(m.Body))) }

// SIPAuth is the proof a SIP request or response carries in its
// X-Portolan-Auth header: "nonce=HEX;ts=MS;port=N;mac=HEX" (responses
// have no port).
type SIPAuth struct {
	Nonce [16]byte
	Time  time.Time
	// Port is the reflector port a request is aimed at: signed, so that
	// a captured request is answered on that port only (shards keep
	// nonces of their own, as for the binary protocol's RequestBody).
	Port uint16
	MAC  []byte
}

func (a SIPAuth) String() string {
	port := ""
	if a.Port != 0 {
		port = fmt.Sprintf(";port=%d", a.Port)
	}
	return fmt.Sprintf("nonce=%s;ts=%d%s;mac=%s", hex.EncodeToString(a.Nonce[:]), a.Time.UnixMilli(), port, hex.EncodeToString(a.MAC))
}

// ParseSIPAuth reads an X-Portolan-Auth value.
func ParseSIPAuth(v string) (SIPAuth, error) {
	var a SIPAuth
	var have int
	for _, part := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "nonce":
			b, err := hex.DecodeString(val)
			if err != nil || len(b) != 16 {
				return a, errors.New("sip auth: bad nonce")
			}
			copy(a.Nonce[:], b)
			have |= 1
		case "ts":
			ms, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				return a, errors.New("sip auth: bad ts")
			}
			a.Time = time.UnixMilli(ms)
			have |= 2
		case "mac":
			b, err := hex.DecodeString(val)
			if err != nil || len(b) != MACLen {
				return a, errors.New("sip auth: bad mac")
			}
			a.MAC = b
			have |= 4
		case "port":
			p, err := strconv.ParseUint(val, 10, 16)
			if err != nil || p == 0 {
				return a, errors.New("sip auth: bad port")
			}
			a.Port = uint16(p)
		}
	}
	if have != 7 {
		return a, errors.New("sip auth: nonce, ts and mac are needed")
	}
	return a, nil
}

// sipMAC signs the parts of a SIP message that no ALG has reason to touch.
func sipMAC(token []byte, kind string, a SIPAuth, fields ...string) []byte {
	m := hmac.New(sha256.New, token)
	fmt.Fprintf(m, "portolan-%s\n%x\n%d\n", kind, a.Nonce, a.Time.UnixMilli())
	for _, f := range fields {
		io.WriteString(m, f)
		io.WriteString(m, "\n")
	}
	return m.Sum(nil)
}

// requestMAC is the MAC of a request: the method, Call-ID and CSeq,
// which ALGs leave alone, and the port it is aimed at.
func requestMAC(token []byte, a SIPAuth, method, callID, cseq string) []byte {
	return sipMAC(token, "sip-request", a, method, callID, cseq, strconv.Itoa(int(a.Port)))
}

// SignSIPRequest adds the X-Portolan-Auth header to a request aimed at
// the reflector's port: the MAC covers the method, Call-ID, CSeq and
// the port. ACKs are signed too, so that the reflector tells a probe's
// own ACK from a forged request.
func SignSIPRequest(token []byte, m *SIP, nonce [16]byte, at time.Time, port uint16) {
	a := SIPAuth{Nonce: nonce, Time: at, Port: port}
	a.MAC = requestMAC(token, a, m.Method(), m.Get("Call-ID"), m.Get("CSeq"))
	m.Set(HdrAuth, a.String())
}

// VerifySIPRequest checks a request's proof and returns it; the caller
// checks that its Port is the one the request reached.
func VerifySIPRequest(token []byte, m *SIP) (SIPAuth, error) {
	a, err := ParseSIPAuth(m.Get(HdrAuth))
	if err != nil {
		return a, err
	}
	if !hmac.Equal(requestMAC(token, a, m.Method(), m.Get("Call-ID"), m.Get("CSeq")), a.MAC) {
		return a, ErrBadMAC
	}
	return a, nil
}

// VerifySIPDatagram checks a SIP request's proof before it is parsed: one
// pass over the header lines, in time linear in the datagram and with no
// allocation but the folded values of the three headers it signs, so
// that a datagram without the token costs little more than reading it.
// It returns the proof and the method; the request still has to parse.
func VerifySIPDatagram(token []byte, b []byte) (SIPAuth, string, error) {
	method, callID, cseq, auth, ok := scanSIPAuth(b)
	if !ok {
		return SIPAuth{}, "", ErrBadMAC
	}
	a, err := ParseSIPAuth(string(auth))
	if err != nil {
		return a, "", err
	}
	if !hmac.Equal(requestMAC(token, a, method, string(callID), string(cseq)), a.MAC) {
		return a, "", ErrBadMAC
	}
	return a, method, nil
}

// scanField is one header value being read by scanSIPAuth: a slice of
// the datagram until a continuation line makes it a copy of its own.
type scanField struct {
	v          []byte
	set, owned bool
}

// add appends a continuation piece the way ParseSIP joins them.
func (f *scanField) add(p []byte) {
	switch {
	case len(p) == 0:
	case len(f.v) == 0:
		f.v, f.owned = p, false
	default:
		if !f.owned {
			f.v = append(make([]byte, 0, 2*(len(f.v)+len(p)+1)), f.v...)
			f.owned = true
		}
		f.v = append(append(f.v, ' '), p...)
	}
}

// scanSIPAuth reads the method and the first Call-ID, CSeq and
// X-Portolan-Auth values as ParseSIP and Get would.
func scanSIPAuth(b []byte) (method string, callID, cseq, auth []byte, ok bool) {
	if len(b) > MaxSIPLen {
		return
	}
	head, _, found := bytes.Cut(b, []byte("\r\n\r\n"))
	if !found {
		return
	}
	start, rest, _ := bytes.Cut(head, []byte("\r\n"))
	sp := bytes.IndexByte(start, ' ')
	if sp <= 0 {
		return
	}
	var fs [3]scanField // Call-ID, CSeq, X-Portolan-Auth
	var cur *scanField
	for len(rest) > 0 {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if cur != nil {
				cur.add(bytes.TrimSpace(line))
			}
			continue
		}
		cur = nil
		name, val, _ := bytes.Cut(line, []byte(":"))
		name = bytes.TrimSpace(name)
		i := -1
		switch len(name) { // the length first: most names are none of these
		case 1:
			if name[0] == 'i' || name[0] == 'I' {
				i = 0
			}
		case len("Call-ID"):
			if bytes.EqualFold(name, []byte("Call-ID")) {
				i = 0
			}
		case len("CSeq"):
			if bytes.EqualFold(name, []byte("CSeq")) {
				i = 1
			}
		case len(HdrAuth):
			if bytes.EqualFold(name, []byte(HdrAuth)) {
				i = 2
			}
		}
		if i >= 0 && !fs[i].set {
			fs[i] = scanField{v: bytes.TrimSpace(val), set: true}
			cur = &fs[i]
		}
	}
	if !fs[2].set {
		return
	}
	return string(start[:sp]), fs[0].v, fs[1].v, fs[2].v, true
}

func responseFields(m *SIP) []string {
	sum := sha256.Sum256(m.Body)
	return []string{strconv.Itoa(m.Status()), m.Get("Call-ID"), m.Get("CSeq"), hex.EncodeToString(sum[:])}
}

// SignSIPResponse adds the reflector's proof to a response, under the
// request's nonce: it covers the status, Call-ID, CSeq and the body.
func SignSIPResponse(token []byte, m *SIP, nonce [16]byte, at time.Time) {
	a := SIPAuth{Nonce: nonce, Time: at}
	a.MAC = sipMAC(token, "sip-response", a, responseFields(m)...)
	m.Set(HdrAuth, a.String())
}

// VerifySIPResponse checks that a response comes from the reflector and
// answers the request with nonce.
func VerifySIPResponse(token []byte, m *SIP, nonce [16]byte) error {
	a, err := ParseSIPAuth(m.Get(HdrAuth))
	if err != nil {
		return err
	}
	if a.Nonce != nonce {
		return errors.New("sip auth: the response answers another request")
	}
	if !hmac.Equal(sipMAC(token, "sip-response", a, responseFields(m)...), a.MAC) {
		return ErrBadMAC
	}
	return nil
}

// Received is what the body of a reflector's SIP answer says.
type Received struct {
	Source netip.AddrPort // where the request came from, after NAT
	Port   uint16         // the reflector's port it reached
	Raw    []byte         // the request as it arrived, without X-Portolan-Pad
}

// maxReceived bounds what DecodeReceived inflates.
const maxReceived = MaxSIPLen

// EncodeReceived writes the answer body: "source", "port", then the
// request deflated and base64-encoded without padding (so no line holds
// "="), in lines of 76 characters.
func EncodeReceived(r Received) []byte {
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(r.Raw)
	w.Close()
	enc := base64.RawStdEncoding.EncodeToString(z.Bytes())
	var b bytes.Buffer
	fmt.Fprintf(&b, "source %s\r\nport %d\r\n", r.Source, r.Port)
	for len(enc) > 0 {
		n := min(76, len(enc))
		b.WriteString(enc[:n])
		b.WriteString("\r\n")
		enc = enc[n:]
	}
	return b.Bytes()
}

// DecodeReceived reads an answer body.
func DecodeReceived(body []byte) (Received, error) {
	var r Received
	lines := strings.Split(strings.TrimRight(string(body), "\r\n"), "\r\n")
	if len(lines) < 2 {
		return r, errors.New("received: too short")
	}
	src, ok := strings.CutPrefix(lines[0], "source ")
	if !ok {
		return r, errors.New("received: no source line")
	}
	var err error
	if r.Source, err = netip.ParseAddrPort(src); err != nil {
		return r, fmt.Errorf("received: source: %v", err)
	}
	port, ok := strings.CutPrefix(lines[1], "port ")
	p, err := strconv.ParseUint(port, 10, 16)
	if !ok || err != nil {
		return r, errors.New("received: no port line")
	}
	r.Port = uint16(p)
	z, err := base64.RawStdEncoding.DecodeString(strings.Join(lines[2:], ""))
	if err != nil {
		return r, fmt.Errorf("received: %v", err)
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(z)), maxReceived+1))
	if err != nil {
		return r, fmt.Errorf("received: %v", err)
	}
	if len(raw) > maxReceived {
		return r, errors.New("received: more than a SIP message")
	}
	r.Raw = raw
	return r, nil
}
