package probe

import (
	"context"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// choices loads services from the embedded catalog and the test catalog.
func choices(t testing.TB, sel resolve.Selection, slugs ...string) []*resolve.Choice {
	t.Helper()
	c, err := catalog.Open(filepath.Join("testdata", "catalog"))
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := c.Select(slugs)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := resolve.Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func pins(t testing.TB, text string) resolve.Resolver {
	t.Helper()
	h, err := resolve.ParseHosts("pins", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func flowPlanOf(p *Plan, id string) *flowPlan {
	for _, fp := range p.flows {
		if fp.c.ID == id {
			return fp
		}
	}
	return nil
}

// TestPlanRoutes: each flow goes where it can be probed without sending
// to an address nobody named, or says why not.
func TestPlanRoutes(t *testing.T) {
	ctx := context.Background()
	type want struct {
		id        string
		direct    int    // endpoints probed directly
		reflector bool   // through the reflector
		proxy     bool   // through the proxy
		skip      string // a word of the reason, "" when probed
	}
	for _, tc := range []struct {
		name      string
		slugs     []string
		sel       resolve.Selection
		hosts     string
		reflector string
		proxy     bool
		endpoints []string
		want      []want
	}{
		{
			name: "starleaf without reflector", slugs: []string{"starleaf"},
			sel:   resolve.Selection{Params: []string{"company=acme"}, Features: []string{"webrtc"}},
			hosts: "198.51.100.20 config.starleaf.com\n198.51.100.21 acme.call.sl\n2001:db8:2::21 acme.call.sl\n",
			want: []want{
				{id: "config-https", direct: 1},
				{id: "tunnel-https", direct: 2},
				{id: "tunnel-udp", skip: "do not answer arbitrary UDP"},
				{id: "webrtc-https", skip: "no host named"},
				{id: "webrtc-media", skip: "no host named"},
			},
		},
		{
			name: "starleaf with reflector", slugs: []string{"starleaf"},
			sel:       resolve.Selection{Params: []string{"company=acme"}, Features: []string{"webrtc"}},
			hosts:     "198.51.100.20 config.starleaf.com\n198.51.100.21 acme.call.sl\n",
			reflector: "198.51.100.10",
			want: []want{
				{id: "config-https", direct: 1},
				{id: "tunnel-udp", reflector: true},
				{id: "webrtc-https", reflector: true},
				{id: "webrtc-media", reflector: true},
			},
		},
		{
			name: "onsight: wildcard, proxy, endpoint", slugs: []string{"onsight"},
			hosts: "198.51.100.30 app.librestream.com\n", proxy: true,
			endpoints: []string{"app.librestream.com"},
			want: []want{
				{id: "proxy-https", proxy: true, direct: 1},
				{id: "stun", skip: "address block"},
				{id: "sip", skip: "address block"},
				{id: "apple-push", skip: "address block"},
				{id: "firebase-push", skip: "no host named"},
			},
		},
		{
			name: "onsight wildcard without endpoint", slugs: []string{"onsight"},
			want: []want{{id: "proxy-https", skip: "wildcard *.librestream.com"}},
		},
		{
			name: "lab: endpoint inside a block", slugs: []string{"lab"},
			hosts:     "198.51.100.40 stun.lab.test web.lab.test\n",
			endpoints: []string{"203.0.113.5"},
			want: []want{
				{id: "stun", direct: 1},
				{id: "web", direct: 1},
				{id: "block-tls", direct: 1},
			},
		},
		{
			name: "starface: inbound and lan", slugs: []string{"starface"},
			sel: resolve.Selection{Features: []string{"active-directory"}},
			want: []want{
				{id: "web-http", skip: "inbound"},
				{id: "ad-auth-out", skip: "inside the site"},
				{id: "license-https", skip: "no address"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Reflector: tc.reflector, Token: []byte("token-for-tests"), Endpoints: tc.endpoints}
			if tc.proxy {
				cfg.Proxy = fixedProxy("http://proxy.example:3128")
			}
			var r resolve.Resolver = resolve.NoResolve{}
			if tc.hosts != "" {
				r = pins(t, tc.hosts)
			}
			p, err := NewPlan(ctx, choices(t, tc.sel, tc.slugs...), r, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				fp := flowPlanOf(p, w.id)
				if fp == nil {
					t.Fatalf("no flow %s", w.id)
				}
				if w.skip != "" {
					if !strings.Contains(fp.skip, w.skip) {
						t.Errorf("%s: skip %q, want it to say %q", w.id, fp.skip, w.skip)
					}
					continue
				}
				if fp.skip != "" {
					t.Errorf("%s: skipped: %s", w.id, fp.skip)
				}
				if len(fp.direct) != w.direct || fp.reflector != w.reflector || fp.proxy != w.proxy {
					t.Errorf("%s: direct %v reflector %v proxy %v; want %d, %v, %v", w.id, fp.direct, fp.reflector, fp.proxy, w.direct, w.reflector, w.proxy)
				}
			}
		})
	}
}

// TestPlanNeverInventsTargets: over every service, feature and a reflector,
// every address probed directly is one the catalog or the user named.
func TestPlanNeverInventsTargets(t *testing.T) {
	ctx := context.Background()
	sel := resolve.Selection{AllFeatures: true, Params: []string{
		"company=acme", "pbx_address=192.0.2.5", "sip_provider=sip.example.net", "pbx_peers=198.51.100.0/24",
		"service_network=203.0.113.0/24", "sbc_address=192.0.2.20", "sbc_media_ports=36000-36010",
		"h323_media_ports=40000-40010", "custom_domains=onsight.example.com",
	}}
	cs := choices(t, sel, "starleaf", "starface", "tw-solutions", "pexip", "onsight")
	r := pins(t, "198.51.100.20 config.starleaf.com acme.call.sl push.starface.de sip.example.net\n")
	p, err := NewPlan(ctx, cs, r, Config{Reflector: "198.51.100.10", Token: []byte("token-for-tests")})
	if err != nil {
		t.Fatal(err)
	}
	named := netip.MustParseAddr("198.51.100.20")
	for _, fp := range p.flows {
		for _, e := range fp.direct {
			lit := fp.c.Literal != nil && fp.c.Literal.Contains(e.Addr)
			if e.Addr != named && !lit {
				t.Errorf("%s/%s probes %s, which nobody named", fp.c.Service, fp.c.ID, e.Addr)
			}
			if lit && e.Name == "" {
				if pfx := fp.c.LiteralPrefixes(4); len(pfx) > 0 && !slices.ContainsFunc(pfx, func(q netip.Prefix) bool { return q.IsSingleIP() && q.Addr() == e.Addr }) {
					t.Errorf("%s/%s probes %s inside a block without --endpoint", fp.c.Service, fp.c.ID, e.Addr)
				}
			}
		}
		if fp.skip == "" && !fp.reflector && !fp.proxy && len(fp.direct) == 0 {
			t.Errorf("%s/%s is neither probed nor skipped", fp.c.Service, fp.c.ID)
		}
	}
}

func TestPlanErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		slugs []string
		sel   resolve.Selection
		cfg   Config
		want  string
	}{
		{[]string{"starleaf"}, resolve.Selection{}, Config{}, "missing param company"},
		{[]string{"onsight"}, resolve.Selection{}, Config{Endpoints: []string{"app.example.com"}}, "no selected flow goes to a wildcard"},
		{[]string{"lab"}, resolve.Selection{}, Config{Endpoints: []string{"198.51.100.7"}}, "no selected flow goes to an address block"},
		{[]string{"lab"}, resolve.Selection{}, Config{Endpoints: []string{"not a name"}}, "a host name"},
		{[]string{"lab"}, resolve.Selection{}, Config{Reflector: "198.51.100.10"}, "needs --token"},
		{[]string{"lab"}, resolve.Selection{}, Config{Reflector: "198.51.100.10:0", Token: []byte("x")}, "is not a port"},
		{[]string{"lab"}, resolve.Selection{}, Config{Reflector: "nowhere.invalid", Token: []byte("x")}, "cannot resolve"},
	} {
		_, err := NewPlan(ctx, choices(t, tc.sel, tc.slugs...), resolve.NoResolve{}, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %+v: error %v, want %q", tc.slugs, tc.cfg, err, tc.want)
		}
	}
}

func TestParseChecks(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
		err  bool
	}{
		{nil, strings.Join(AllChecks, ","), false},
		{[]string{"tls,tcp"}, "tcp,tls", false},
		{[]string{"udp", "sip-alg"}, "udp,sip-alg", false},
		{[]string{"all"}, strings.Join(AllChecks, ","), false},
		{[]string{"tpc"}, "", true},
		{[]string{","}, "", true},
	} {
		got, err := ParseChecks(tc.in)
		if (err != nil) != tc.err || strings.Join(got, ",") != tc.want {
			t.Errorf("ParseChecks(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestSample(t *testing.T) {
	set := func(rs ...model.PortRange) model.PortSet { return model.NewPortSet(rs...) }
	for _, tc := range []struct {
		s    model.PortSet
		n    int
		want []uint16
	}{
		{set(model.PortRange{Lo: 10, Hi: 12}), 0, []uint16{10, 11, 12}},
		{set(model.PortRange{Lo: 10, Hi: 12}), 5, []uint16{10, 11, 12}},
		{set(model.PortRange{Lo: 10000, Hi: 60000}), 3, []uint16{10000, 35000, 60000}},
		{set(model.PortRange{Lo: 1, Hi: 2}, model.PortRange{Lo: 100, Hi: 101}), 2, []uint16{1, 101}},
		{set(model.PortRange{Lo: 5, Hi: 5}), 1, []uint16{5}},
	} {
		if got := sample(tc.s, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("sample(%s, %d) = %v, want %v", tc.s, tc.n, got, tc.want)
		}
	}
	if got := runs([]uint16{1, 2, 3, 7, 9, 10}); model.NewPortSet(got...).String() != "1-3,7,9-10" {
		t.Errorf("runs = %v", got)
	}
}

func TestOneOfVerdict(t *testing.T) {
	order := []model.PortRange{{Lo: 24704, Hi: 24704}, {Lo: 3478, Hi: 3478}, {Lo: 1194, Hi: 1194}}
	for _, tc := range []struct {
		open []uint16
		want Status
		says string
	}{
		{[]uint16{24704, 3478}, OK, "24704 open (the preferred one)"},
		{[]uint16{1194}, Warn, "24704, 3478 blocked; 1194 open"},
		{nil, Fail, "none open"},
	} {
		st, sum := oneOfVerdict(order, func(p uint16) (bool, bool) { return slices.Contains(tc.open, p), true })
		if st != tc.want || !strings.Contains(sum, tc.says) {
			t.Errorf("open %v: %s %q", tc.open, st, sum)
		}
	}
}

func fixedProxy(s string) func(string) (*url.URL, error) {
	u, _ := url.Parse(s)
	return func(string) (*url.URL, error) { return u, nil }
}

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// TestH323ALGNotProbed: Pexip's H.323 ALG constraint is reported as not
// probed, not silently dropped; a run of nothing but that proves nothing,
// so it is not OK.
func TestH323ALGNotProbed(t *testing.T) {
	sel := resolve.Selection{Features: []string{"h323"}, Params: []string{"service_network=198.51.100.0/24", "h323_media_ports=40000-40010"}}
	p, err := NewPlan(context.Background(), choices(t, sel, "pexip"), resolve.NoResolve{}, Config{Checks: []string{CheckSIPALG}})
	if err != nil {
		t.Fatal(err)
	}
	rep := p.Run(context.Background())
	if len(rep.Results) != 1 || rep.Results[0].Constraint != "h323-alg-off" || rep.Results[0].Status != Skip || rep.OK {
		t.Errorf("results %+v", rep.Results)
	}
}

// TestReportNothingProbed: a run whose every result is "not probed" proves
// nothing and is not OK; one probed result that passes is.
func TestReportNothingProbed(t *testing.T) {
	tests := []struct {
		name     string
		statuses []Status
		ok       bool
	}{
		{"nothing at all", nil, false},
		{"only skipped", []Status{Skip, Skip}, false},
		{"one passed, rest skipped", []Status{Skip, OK}, true},
		{"a required failure", []Status{OK, Fail}, false},
	}
	for _, tt := range tests {
		r := &Report{}
		for _, s := range tt.statuses {
			r.Results = append(r.Results, Result{Status: s, Required: true})
		}
		r.summarize()
		if r.OK != tt.ok {
			t.Errorf("%s: OK = %v, want %v", tt.name, r.OK, tt.ok)
		}
	}
}
