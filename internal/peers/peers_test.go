package peers

import (
	"crypto/x509"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
)

// TestCA: a certificate the CA issues verifies for its names and
// addresses against the CA's pool, and against no other CA's.
func TestCA(t *testing.T) {
	ca, other := NewCA(t, "Test CA"), NewCA(t, "Other CA")
	leaf := ca.Issue(t, []string{"a.lab.test", "b.lab.test"}, netip.MustParseAddr("198.51.100.10"))
	cert, err := x509.ParseCertificate(leaf.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if cert.Issuer.CommonName != "Test CA" || cert.Subject.CommonName != "a.lab.test" {
		t.Errorf("issuer %q subject %q", cert.Issuer.CommonName, cert.Subject.CommonName)
	}
	for _, name := range []string{"a.lab.test", "b.lab.test", "198.51.100.10"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool()}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "c.lab.test", Roots: ca.Pool()}); err == nil {
		t.Error("verifies for a name it was not issued for")
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "a.lab.test", Roots: other.Pool()}); err == nil {
		t.Error("verifies against another CA")
	}
	dir := Dir(t, "portolan-peers-")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 || !filepath.IsAbs(dir) {
		t.Errorf("Dir %s: %v %v", dir, fi.Mode(), err)
	}
}

// TestStart: a peer started in a namespace runs there, is found by
// WaitTCP once something listens, and is gone when its test ends.
func TestStart(t *testing.T) {
	l := netlab.New(t)
	var p *Proc
	t.Run("peer", func(t *testing.T) {
		dir := Dir(t, "portolan-peers-")
		p = Start(t, l.Cloud, dir, "", "sleep", "60")
		ln, err := l.Cloud.Listen("tcp", "198.51.100.10:7000")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		p.WaitTCP(t, "198.51.100.10:7000")
		select {
		case <-p.Exited():
			t.Fatal("the peer exited by itself")
		default:
		}
	})
	select {
	case <-p.Exited():
	case <-time.After(time.Second):
		t.Fatal("the peer still runs after its test ended")
	}
	if err := syscall.Kill(p.Cmd.Process.Pid, 0); err != syscall.ESRCH {
		t.Errorf("PID %d: %v, want ESRCH", p.Cmd.Process.Pid, err)
	}
}
