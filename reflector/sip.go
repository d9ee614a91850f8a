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
	for i, l := range lines[1:] {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("sip: header line %d: bare CR or LF", i+2)
		}
		if l != "" && (l[0] == ' ' || l[0] == '\t') {
			if len(m.Headers) == 0 {
				return nil, fmt.Errorf("sip: header line %d: continuation before any header", i+2)
			}
			h := &m.Headers[len(m.Headers)-1]
			h.Value = strings.TrimSpace(h.Value + " " + strings.TrimSpace(l))
			continue
		}
		name, val, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("sip: header line %d: %q is not NAME: VALUE", i+2, l)
		}
		m.Headers = append(m.Headers, Header{name, strings.TrimSpace(val)})
	}
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
// X-Portolan-Auth header: "nonce=HEX;ts=MS;mac=HEX".
type SIPAuth struct {
	Nonce [16]byte
	Time  time.Time
	MAC   []byte
}

func (a SIPAuth) String() string {
	return fmt.Sprintf("nonce=%s;ts=%d;mac=%s", hex.EncodeToString(a.Nonce[:]), a.Time.UnixMilli(), hex.EncodeToString(a.MAC))
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

// SignSIPRequest adds the X-Portolan-Auth header to a request: the MAC
// covers the method, Call-ID and CSeq, which ALGs leave alone.
func SignSIPRequest(token []byte, m *SIP, nonce [16]byte, at time.Time) {
	a := SIPAuth{Nonce: nonce, Time: at}
	a.MAC = sipMAC(token, "sip-request", a, m.Method(), m.Get("Call-ID"), m.Get("CSeq"))
	m.Set(HdrAuth, a.String())
}

// VerifySIPRequest checks a request's proof and returns it.
func VerifySIPRequest(token []byte, m *SIP) (SIPAuth, error) {
	a, err := ParseSIPAuth(m.Get(HdrAuth))
	if err != nil {
		return a, err
	}
	want := sipMAC(token, "sip-request", a, m.Method(), m.Get("Call-ID"), m.Get("CSeq"))
	if !hmac.Equal(want, a.MAC) {
		return a, ErrBadMAC
	}
	return a, nil
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
