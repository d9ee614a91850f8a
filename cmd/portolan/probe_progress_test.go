package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/reflector"
)

// loopbackReflector runs a reflector on 127.0.0.1 answering on a block of
// n free UDP ports inside lo-hi; it returns its control address.
func loopbackReflector(t *testing.T, token string, lo, hi uint16, n int) string {
	t.Helper()
	var block model.PortRange
	for base := int(lo); base+n <= int(hi) && block.Lo == 0; base += n {
		free := true
		for p := base; p < base+n && free; p++ {
			c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				free = false
				continue
			}
			c.Close()
		}
		if free {
			block = model.PortRange{Lo: uint16(base), Hi: uint16(base + n - 1)}
		}
	}
	if block.Lo == 0 {
		t.Fatalf("no %d free UDP ports in %d-%d", n, lo, hi)
	}
	srv, err := reflector.New(reflector.Config{Listen: fmt.Sprintf("127.0.0.1:%d", block.Lo), UDPPorts: model.NewPortSet(block), Token: []byte(token)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

// TestProbeProgressLines: with stderr not a terminal, a probe states how
// long it is expected to take, then writes a progress line every few
// seconds (here every 200 ms), and no progress bar.
func TestProbeProgressLines(t *testing.T) {
	defer func(d time.Duration) { progressEvery = d }(progressEvery)
	progressEvery = 200 * time.Millisecond
	const token = "progress-test-token-01"
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte(token+"\n"), 0o600)
	refl := loopbackReflector(t, token, 40000, 50000, 300)
	// 300 ports at 150 a second: 2 s of scanning.
	_, errs, code := portolan("probe", "tw-solutions", "--no-resolve", "--check", "udp", "--reflector", refl,
		"--token-file", tokFile, "--rate", "150", "--timeout", "500ms")
	if code != 0 && code != 1 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	t.Logf("stderr:\n%s", errs)
	lines := strings.Count(errs, " done (")
	if !strings.Contains(errs, "units of work (ports, connections, trials); expected to take about 3s") || lines < 5 || strings.Contains(errs, "\r[") {
		t.Errorf("stderr (%d progress lines, want at least 5, and the expected duration first):\n%s", lines, errs)
	}
	if i, j := strings.Index(errs, "expected to take"), strings.Index(errs, " done ("); i < 0 || j < i {
		t.Errorf("the expected duration is not stated before the progress lines:\n%s", errs)
	}
}
