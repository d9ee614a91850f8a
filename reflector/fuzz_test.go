package reflector

import (
	"bytes"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// FuzzDecode: any datagram decodes or fails cleanly; what decodes
// re-encodes to the same bytes, and info bodies parse or fail cleanly.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(5060), EchoRequestLen))
	f.Add(Encode(testToken, TypeInfoReply, NewNonce(), time.Now(), Info{Version: "1", Rate: 1}.Encode(), 0))
	f.Add(Encode(testToken, TypeDelay, NewNonce(), time.Now(), DelayBody(5060, time.Second), DelayRequestLen))
	f.Add([]byte("PTL1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(testToken, b)
		if err != nil {
			ParseInfo(b)
			ParseObserved(b)
			return
		}
		again := Encode(testToken, m.Type, m.Nonce, m.Time, m.Body, len(b))
		if !bytes.Equal(again[:HeaderLen+len(m.Body)], b[:HeaderLen+len(m.Body)]) {
			t.Errorf("re-encoding differs")
		}
		ParseInfo(m.Body)
		ParseObserved(m.Body)
		ParseDelay(m.Body)
	})
}

// FuzzParseSIP: any text parses or fails cleanly; what parses writes out
// and parses again to the same message.
func FuzzParseSIP(f *testing.F) {
	f.Add(testInvite().Bytes())
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: a\r\nFrom: b\r\nTo: c\r\nCall-ID: d\r\nCSeq: 1 X\r\nl: 0\r\n\r\n"))
	f.Add([]byte("OPTIONS sip:x SIP/2.0\r\nv: a\r\n b\r\nf: x\r\nt: y\r\ni: z\r\nCSeq: 2 OPTIONS\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("ACK sip:x SIP/2.0\r\nVia: a\r\nFrom: b\r\nTo: c\r\ni: d\r\n \r\n\te\r\nCSEQ: 1\r\n  ACK\r\nx-portolan-auth: nonce=1;ts=2;\r\n port=3;mac=4\r\nl: 0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSIP(b)
		if err != nil {
			return
		}
		m.Method()
		m.Status()
		ParseSIPAuth(m.Get(HdrAuth))
		// The scan that checks a proof before parsing reads what the
		// parser reads.
		if method, callID, cseq, auth, ok := scanSIPAuth(b); m.Method() != "" {
			if m.Get(HdrAuth) != "" && !ok || ok && (method != m.Method() || string(callID) != m.Get("Call-ID") || string(cseq) != m.Get("CSeq") || string(auth) != m.Get(HdrAuth)) {
				t.Errorf("scan %v %q %q %q %q; parser %q %q %q %q", ok, method, callID, cseq, auth, m.Method(), m.Get("Call-ID"), m.Get("CSeq"), m.Get(HdrAuth))
			}
		}
		m2, err := ParseSIP(m.Bytes())
		if err != nil {
			t.Fatalf("written message does not parse: %v\n%q", err, m.Bytes())
		}
		if !bytes.Equal(m2.Bytes(), m.Bytes()) {
			t.Errorf("round trip changed the message")
		}
	})
}

// FuzzDecodeReceived: any answer body decodes or fails cleanly, within
// bounds.
func FuzzDecodeReceived(f *testing.F) {
	f.Add(EncodeReceived(Received{Source: netip.MustParseAddrPort("198.51.100.1:5060"), Port: 5060, Raw: testInvite().Bytes()}))
	f.Add([]byte("source 1.2.3.4:5\r\nport 6\r\n" + strings.Repeat("A", 100)))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReceived(b)
		if err == nil && len(r.Raw) > maxReceived {
			t.Errorf("decoded %d bytes, more than %d", len(r.Raw), maxReceived)
		}
	})
}

// FuzzServe feeds datagrams to the server's handler: no panic, and never
// more bytes out than in.
func FuzzServe(f *testing.F) {
	s, err := New(Config{Listen: "127.0.0.1:7478", Token: testToken, Rate: 1e9, Burst: 1 << 30, MaxDelay: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	inv := testInvite()
	SignSIPRequest(testToken, inv, NewNonce(), time.Now(), 5060)
	inv.Set(HdrPad, strings.Repeat("x", 1200))
	f.Add(inv.Bytes())
	f.Add(Encode(testToken, TypeEcho, NewNonce(), time.Now(), RequestBody(5060), EchoRequestLen))
	f.Add(Encode(testToken, TypeDelay, NewNonce(), time.Now(), DelayBody(5060, 0), DelayRequestLen))
	f.Add(Encode(testToken, TypeInfo, NewNonce(), time.Now(), RequestBody(5060), InfoRequestLen))
	from := netip.MustParseAddrPort("192.0.2.10:40000")
	f.Fuzz(func(t *testing.T, b []byte) {
		var sent atomic.Int64
		s.handleUDP(b, from, 5060, func(r []byte) { sent.Add(int64(len(r))) })
		// A delayed reply (1 ms at most) counts against the same request.
		for i := 0; i < 100 && s.Pending() > 0; i++ {
			time.Sleep(time.Millisecond)
		}
		if n := sent.Load(); n > int64(len(b)) {
			t.Errorf("sent %d bytes for a request of %d", n, len(b))
		}
	})
}
