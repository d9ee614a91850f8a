package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestParseHosts(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		look    string
		want    string
		wantErr string
	}{
		{"basic", "198.51.100.7 config.starleaf.com\n", "config.starleaf.com", "198.51.100.7", ""},
		{"aliases and comments", "# pins\n198.51.100.8 a.example b.example # two\n2001:db8::8 a.example\n", "a.example", "198.51.100.8 2001:db8::8", ""},
		{"case and trailing dot", "198.51.100.9 Acme.Call.SL.\n", "acme.call.sl", "198.51.100.9", ""},
		{"blank lines", "\n\n   \n198.51.100.1 x.example\n", "x.example", "198.51.100.1", ""},
		{"bad address", "198.51.100.300 x.example\n", "", "", "hosts:1: address \"198.51.100.300\""},
		{"name missing", "198.51.100.1\n", "", "", "hosts:1: address 198.51.100.1 has no name"},
		{"wildcard", "\n198.51.100.1 *.librestream.com\n", "", "", "hosts:2: name \"*.librestream.com\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHosts("hosts", strings.NewReader(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			a, err := h.Lookup(context.Background(), tt.look)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range a.Addrs {
				got = append(got, x.String())
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("addrs = %v, want %s", got, tt.want)
			}
		})
	}
}

func FuzzParseHosts(f *testing.F) {
	f.Add("198.51.100.7 config.starleaf.com\n2001:db8::1 a.example b.example # c\n")
	f.Add("# only a comment\n\n")
	f.Add("fe80::1%eth0 x.example\n")
	f.Fuzz(func(t *testing.T, src string) {
		h, err := ParseHosts("fuzz", strings.NewReader(src))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz:") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for name := range h.addrs {
			if _, err := h.Lookup(context.Background(), name); err != nil {
				t.Fatalf("pinned name %q does not resolve: %v", name, err)
			}
		}
	})
}

// startDNS serves a small zone on loopback and returns its address.
func startDNS(t *testing.T, zone map[string][]dns.RR) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		if q.Name == "half.call.sl." && q.Qtype == dns.TypeAAAA {
			m.Rcode = dns.RcodeServerFailure
			w.WriteMsg(m)
			return
		}
		rrs, ok := zone[q.Name]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype || rr.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDNSKeepsTTL(t *testing.T) {
	addr := startDNS(t, map[string][]dns.RR{
		"acme.call.sl.": {
			rr(t, "acme.call.sl. 300 IN CNAME edge.call.sl."),
			rr(t, "edge.call.sl. 60 IN A 198.51.100.20"),
			rr(t, "edge.call.sl. 60 IN A 198.51.100.21"),
			rr(t, "edge.call.sl. 120 IN AAAA 2001:db8::20"),
		},
		"half.call.sl.": {rr(t, "half.call.sl. 60 IN A 198.51.100.22")},
	})
	d, err := NewDNS(addr)
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Lookup(context.Background(), "acme.call.sl")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Addrs) != 3 || a.TTL != 60*time.Second || !strings.HasPrefix(a.Source, "dns:127.0.0.1:") {
		t.Errorf("answer = %+v, want 3 addresses, TTL 60s", a)
	}
	_, err = d.Lookup(context.Background(), "nope.call.sl")
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Errorf("unknown name: err = %v, want NotFoundError", err)
	}
	// A name whose AAAA query fails is not answered with its A records alone.
	_, err = d.Lookup(context.Background(), "half.call.sl")
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "AAAA query") {
		t.Errorf("failing AAAA: err = %v, want a NotFoundError naming the AAAA query", err)
	}
}

func TestConcretize(t *testing.T) {
	hosts, err := ParseHosts("pins", strings.NewReader("198.51.100.20 acme.call.sl\n198.51.100.30 config.starleaf.com\n2001:db8::30 config.starleaf.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	cs := choose(t, Selection{Params: []string{"company=acme"}}, "starleaf")
	flows, err := cs[0].Flows(true)
	if err != nil {
		t.Fatal(err)
	}
	con, warns, err := Concretize(context.Background(), flows, hosts)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	for _, c := range con {
		switch c.ID {
		case "config-https":
			if got := c.Prefixes(6); len(got) != 1 || got[0] != netip.MustParsePrefix("2001:db8::30/128") {
				t.Errorf("config v6 = %v", got)
			}
		case "tunnel-udp":
			if !c.Remote.Contains(netip.MustParseAddr("198.51.100.20")) || c.Preferred().String() != "24704" || c.Ports.Len() != 5 {
				t.Errorf("tunnel-udp: remote %v preferred %s ports %s", c.Remote.Prefixes(), c.Preferred(), c.Ports)
			}
		}
	}

	// Unresolved names and wildcards are warnings; any and lan are flags.
	cs = choose(t, Selection{}, "onsight")
	flows, _ = cs[0].Flows(true)
	con, warns, err = Concretize(context.Background(), flows, NoResolve{})
	if err != nil {
		t.Fatal(err)
	}
	var wild, anyFlag bool
	for _, c := range con {
		if c.ID == "proxy-https" && len(c.Wildcards) == 1 && len(c.Remote.Prefixes()) == 0 {
			wild = true
		}
		if c.ID == "firebase-push" && c.Any {
			anyFlag = true
		}
	}
	if !wild || !anyFlag || len(warns) == 0 || !strings.Contains(warns[0].String(), "wildcard") {
		t.Errorf("wildcard %v any %v warnings %v", wild, anyFlag, warns)
	}

	// Placeholders are refused.
	cs = choose(t, Selection{}, "starleaf")
	flows, _ = cs[0].Flows(false)
	if _, _, err := Concretize(context.Background(), flows, NoResolve{}); err == nil || !strings.Contains(err.Error(), "params not set") {
		t.Errorf("placeholder flows: err = %v", err)
	}
}

// countingResolver counts lookups per name.
type countingResolver struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingResolver) Lookup(_ context.Context, name string) (Answer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[name]++
	return Answer{Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.1")}}, nil
}

func TestCacheAsksOnce(t *testing.T) {
	r := &countingResolver{n: map[string]int{}}
	c := &Cache{R: r}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Lookup(context.Background(), "a.example"); err != nil {
				t.Error(err)
			}
			c.Lookup(context.Background(), "b.example")
		}()
	}
	wg.Wait()
	if r.n["a.example"] != 1 || r.n["b.example"] != 1 {
		t.Errorf("lookups = %v, want one per name", r.n)
	}
}
