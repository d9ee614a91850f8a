package probe

import (
	"context"
	"strings"
	"testing"

	"github.com/portolan/portolan/reflector"
	"github.com/portolan/portolan/resolve"
)

// FuzzFlags: what a user types for --check, --endpoint and --reflector is
// taken or refused with an error, never a panic.
func FuzzFlags(f *testing.F) {
	f.Add("tcp,tls", "app.librestream.com", "198.51.100.10:7478")
	f.Add("all", "203.0.113.5", "[2001:db8::1]")
	f.Add(",,", "fe80::1%eth0", "2001:db8::1")
	f.Add("udp", "*.example.com", "host:0")
	f.Fuzz(func(t *testing.T, checks, endpoint, refl string) {
		if got, err := ParseChecks(strings.Split(checks, ";")); err == nil && len(got) == 0 {
			t.Error("no check and no error")
		}
		parseEndpoints([]string{endpoint})
		a, err := reflectorAddr(context.Background(), refl, resolve.NoResolve{})
		if err == nil && (!a.IsValid() || a.Port() == 0) {
			t.Errorf("reflector %q: %v without an error", refl, a)
		}
	})
}

// FuzzDiffSIP: any two SIP messages that parse can be compared, and a
// message compared with itself shows no change.
func FuzzDiffSIP(f *testing.F) {
	inv := buildInvite(mustAddrPort("192.0.2.10:5060"), mustAddrPort("198.51.100.10:5060"))
	f.Add(inv.Bytes(), []byte(strings.ReplaceAll(string(inv.Bytes()), "192.0.2.10", "198.51.100.1")))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ma, err := reflector.ParseSIP(a)
		if err != nil {
			return
		}
		if d := diffSIP(ma, ma); len(d) != 0 {
			t.Errorf("a message differs from itself: %+v", d)
		}
		if mb, err := reflector.ParseSIP(b); err == nil {
			diffSIP(ma, mb)
		}
	})
}
