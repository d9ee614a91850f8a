package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/internal/peers"
	"github.com/portolan/portolan/probe/probetest"
	"github.com/portolan/portolan/resolve"
)

// BenchmarkUDPRange probes TW Solutions' whole RTP range, UDP 10000-60000,
// from the LAN through the masquerading router to a reflector in the
// cloud that answers on all 50,001 ports; the router drops five of them.
// Side by side, in the same run and on the same path, nmap -sU scans the
// same range (bounded: no retries, a host timeout).
//
//	go test ./probe -run '^$' -bench UDPRange -benchtime 3x
func BenchmarkUDPRange(b *testing.B) {
	l := netlab.New(b)
	if err := l.Router.Nft(masquerade + `table inet filter {
	chain forward {
		type filter hook forward priority filter; policy accept;
		udp dport { 12345, 23456, 34567-34568, 59999 } drop
	}
}
`); err != nil {
		b.Fatal(err)
	}
	dropped := []string{"12345", "23456", "34567-34568", "59999"}
	// The reflector command itself: 50,001 sockets may take more than one
	// process may open here, and it runs shards then.
	bin := filepath.Join(b.TempDir(), "portolan")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/portolan").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v: %s", err, out)
	}
	t0 := time.Now()
	refl := l.Cloud.Command(bin, "reflect", "--listen", "198.51.100.10:7478", "--udp-ports", "10000-60000",
		"--rate-limit", "1000000", "--stats", "0", "--token", string(labToken))
	stderr, _ := refl.StderrPipe()
	if err := refl.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { refl.Process.Signal(syscall.SIGTERM); refl.Wait() }()
	sc := bufio.NewScanner(stderr)
	up := false
	for sc.Scan() {
		b.Log(sc.Text())
		if line := sc.Text(); strings.HasPrefix(line, "portolan reflect: listening") || strings.Contains(line, "shards up") {
			up = true
			break
		}
	}
	if !up {
		b.Fatal("the reflector did not start")
	}
	go io.Copy(io.Discard, stderr)
	b.Logf("reflector: 50,001 UDP sockets opened in %s", time.Since(t0).Round(time.Millisecond))

	for _, rate := range []float64{20000, 200000} {
		b.Run(fmt.Sprintf("portolan-rate-%.0f", rate), func(b *testing.B) {
			blocked := 0
			for b.Loop() {
				rep := labProbeQuiet(b, l, Config{Reflector: "198.51.100.10", Checks: []string{CheckUDP}, Rate: rate, Timeout: time.Second})
				r := find(rep, CheckUDP, "rtp")
				if r == nil || r.Ports == nil || r.Ports.Probed != 50001 || !slices.Equal(r.Ports.Blocked, dropped) {
					b.Fatalf("rtp: %+v", r)
				}
				blocked = 5
			}
			b.ReportMetric(float64(50001*b.N)/b.Elapsed().Seconds(), "ports/s")
			b.ReportMetric(float64(blocked), "blocked-found/5")
		})
	}

	// nmap as a user would run it on this range: bounded by a host
	// timeout at its own pace, and pushed to the rate portolan used.
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"nmap-T4-timeout-60s", []string{"-T4", "--max-retries", "0", "--host-timeout", "60s"}},
		{"nmap-min-rate-20000", []string{"-T4", "--max-retries", "0", "--min-rate", "20000", "--host-timeout", "60s"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			peers.Need(b, "nmap")
			var states map[string]int
			timedOut := false
			for b.Loop() {
				args := append([]string{"-sU", "-n", "-Pn"}, tc.args...)
				args = append(args, "-p", "10000-60000", "-oG", "-", "198.51.100.10")
				out, err := l.LAN.Command("nmap", args...).CombinedOutput()
				if err != nil {
					b.Fatalf("nmap: %v: %s", err, out)
				}
				states, timedOut = nmapStates(string(out))
			}
			b.Logf("nmap port states: %v; host timeout reached: %v", states, timedOut)
			b.ReportMetric(float64(50001*b.N)/b.Elapsed().Seconds(), "ports/s")
			// nmap sees no answer from a dropped port and none from the
			// reflector's open ports either (it cannot prove the token):
			// only "closed" (ICMP port unreachable) would set them apart.
			b.ReportMetric(float64(states["closed"]+states["filtered"]), "blocked-found/5")
		})
	}
}

// nmapStates counts the port states of nmap's grepable output and says
// whether the host timeout cut the scan short.
func nmapStates(out string) (map[string]int, bool) {
	states := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	timedOut := false
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "Status: Timeout") {
			timedOut = true
		}
		if i := strings.Index(line, "Ignored State:"); i >= 0 {
			if f := strings.Fields(line[i+len("Ignored State:"):]); len(f) >= 2 {
				states[f[0]] += atoiParen(f[1])
			}
		}
		if i := strings.Index(line, "Ports: "); i >= 0 {
			ports := line[i+7:]
			if j := strings.Index(ports, "\t"); j >= 0 {
				ports = ports[:j]
			}
			for _, p := range strings.Split(ports, ",") {
				if fs := strings.Split(strings.TrimSpace(p), "/"); len(fs) > 1 {
					states[fs[1]]++
				}
			}
		}
	}
	return states, timedOut
}

func atoiParen(s string) int {
	n := 0
	for _, c := range strings.Trim(s, "()") {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// labProbeQuiet is labProbe without the per-result log.
func labProbeQuiet(b testing.TB, l *netlab.Lab, cfg Config) *Report {
	cfg.Net = probetest.Network{NS: l.LAN}
	cfg.Token = labToken
	p, err := NewPlan(context.Background(), choices(b, resolve.Selection{}, "tw-solutions"), resolve.NoResolve{}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return p.Run(context.Background())
}
