package probe

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/portolan/portolan/reflector"
)

// TestSIPACKNotBadToken: the ACK the sip-alg check sends after the
// reflector's 603 proves the token; the reflector counts it as a probe's
// ACK, not as a bad token (which an operator reads as an attack).
func TestSIPACKNotBadToken(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()
	srv, err := reflector.New(reflector.Config{Listen: fmt.Sprintf("127.0.0.1:%d", port), Token: labToken})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := Config{Token: labToken}
	cfg.defaults()
	env := newEnv(cfg, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port))
	r := probeSIPALG(context.Background(), env, port)
	if r.Status != OK {
		t.Fatalf("sip-alg on loopback: %s %q", r.Status, r.Summary)
	}
	var st reflector.Stats
	for range 100 {
		if st = srv.Stats(); st.SIPACK+st.BadMAC >= 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.SIP != 1 || st.SIPACK != 1 || st.BadMAC != 0 {
		t.Errorf("reflector stats %+v: want 1 SIP answered, 1 probe ACK, 0 bad token", st)
	}
}
