package target_test

import (
	"context"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"go4.org/netipx"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"
)

// TestRemoteAddsUp checks, over the whole syntax matrix, that the named
// sets of every rule say exactly what the plan says, that sets of the
// same name agree, and that HostSet gives the same sets.
func TestRemoteAddsUp(t *testing.T) {
	rules, sets := 0, 0
	for _, m := range targettest.SyntaxMatrix(t) {
		ss, err := m.In.Sets()
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		for i := range m.In.Rules {
			r := &m.In.Rules[i]
			rs, err := m.In.Remote(r)
			if err != nil {
				t.Errorf("%s: %v", m.Name, err)
				continue
			}
			prefixes, names, any := target.RemoteSide(r)
			if any != (rs == nil) {
				t.Errorf("%s %s: any=%v but %d sets", m.Name, target.FlowRef(r.Flow), any, len(rs))
			}
			var b netipx.IPSetBuilder
			for _, s := range rs {
				b.AddSet(s.IPSet())
				if s.Family != r.Match.Family {
					t.Errorf("%s: set %s in an IPv%d rule", m.Name, s.Key(), r.Match.Family)
				}
			}
			got, _ := b.IPSet()
			var w netipx.IPSetBuilder
			for _, p := range prefixes {
				w.AddPrefix(p)
			}
			for _, n := range names {
				for _, a := range n.Answer.Addrs {
					w.Add(a)
				}
			}
			want, _ := w.IPSet()
			if !got.Equal(want) {
				t.Errorf("%s %s: sets %v, plan %v", m.Name, target.FlowRef(r.Flow), got.Prefixes(), want.Prefixes())
			}
			for _, hs := range r.Flow.RemoteSets {
				if !m.In.Serves(r.Flow.Service, hs, r.Match.Family) {
					t.Errorf("%s %s: an IPv%d rule to %s, but Serves says the family is not served", m.Name, target.FlowRef(r.Flow), r.Match.Family, hs)
				}
			}
			rules++
		}
		for _, s := range ss {
			h, err := m.In.HostSet(s.Service, s.HostSet, s.Family)
			if err != nil {
				t.Fatal(err)
			}
			if !h.IPSet().Equal(s.IPSet()) {
				t.Errorf("%s: HostSet(%s) = %v, the rules' set %v", m.Name, s.Key(), h.IPSet().Prefixes(), s.IPSet().Prefixes())
			}
			sets++
		}
	}
	t.Logf("%d rules, %d sets", rules, sets)
}

func TestRemoteSplitsByHostSet(t *testing.T) {
	in := targettest.Prepare(t, []string{"onsight"}, resolve.Selection{Features: []string{"legacy"}}, "203.0.113.9 sip.librestream.com\n2001:db8::9 sip.librestream.com\n", targettest.Site, target.Options{})
	got := map[string]string{}
	for i := range in.Rules {
		r := &in.Rules[i]
		ss, err := in.Remote(r)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, s := range ss {
			keys = append(keys, s.Key()+"="+strings.Join(target.Elements(s.IPSet()), ","))
		}
		got[r.Flow.ID+"/"+string(rune('0'+r.Match.Family))] = strings.Join(keys, " ")
	}
	for k, want := range map[string]string{
		"stun/4":          "onsight_call-services_v4=51.105.215.0/28,52.142.34.48/28,52.253.84.80/28 onsight_redundancy_v4=13.64.48.96/28,13.70.46.96/28,52.146.156.64/28",
		"legacy-sip/4":    "onsight_legacy-sip_v4=54.213.166.17,203.0.113.9",
		"legacy-sip/6":    "onsight_legacy-sip_v6=2001:db8::9",
		"apple-push/4":    "onsight_apple_v4=17.0.0.0/8",
		"firebase-push/4": "",
	} {
		if got[k] != want {
			t.Errorf("%s: %q, want %q", k, got[k], want)
		}
	}
}

func TestPrepareUnresolved(t *testing.T) {
	cat, _ := catalog.Embedded()
	svcs, _ := cat.Select([]string{"starleaf"})
	cs, _ := resolve.Choose(svcs, resolve.Selection{Params: []string{"company=acme"}})
	h, _ := resolve.ParseHosts("pins", strings.NewReader("203.0.113.30 config.starleaf.com\n"))
	_, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: h, Site: targettest.Site})
	if !target.IsUnresolved(err) || !strings.Contains(err.Error(), "1 name has no address: acme.call.sl (starleaf/tunnel-https, starleaf/tunnel-udp: no address (hosts file pins))") {
		t.Errorf("err = %v", err)
	}
	// Optional flows that the options leave out are not resolved at all.
	svcs, _ = cat.Select([]string{"pexip"})
	cs, _ = resolve.Choose(svcs, resolve.Selection{Params: []string{"service_network=198.51.100.0/24"}})
	in, err := target.Prepare(context.Background(), target.Config{Choices: cs, Resolver: resolve.Chain{}, Site: targettest.Site})
	if err != nil {
		t.Fatalf("download.vmr.vc is optional and out, yet: %v", err)
	}
	if len(in.Excluded) != 1 || in.Excluded[0].Flow.ID != "download" || !strings.Contains(in.Notes()[0], "skipped: pexip/download: optional") {
		t.Errorf("excluded %v, notes %q", in.Excluded, in.Notes())
	}
}

func TestElements(t *testing.T) {
	var b netipx.IPSetBuilder
	for _, p := range []string{"198.51.100.0/25", "198.51.100.128/26", "203.0.113.7/32", "203.0.113.8/32", "2001:db8::/127"} {
		b.AddPrefix(netip.MustParsePrefix(p))
	}
	s, _ := b.IPSet()
	got := strings.Join(target.Elements(s), " ")
	want := "198.51.100.0-198.51.100.191 203.0.113.7-203.0.113.8 2001:db8::/127"
	if got != want {
		t.Errorf("Elements = %s, want %s", got, want)
	}
}

func TestQuotable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"starleaf/tunnel-udp 000.txt:16", "starleaf/tunnel-udp 000.txt:16"},
		{"a \"quoted\"\nline\\", "a 'quoted' line/"},
		{"tab\tand\x00nul", "tab andnul"},
		{strings.Repeat("ä", 100), strings.Repeat("ä", 62) + "…"},
	}
	for _, tt := range tests {
		got := target.Quotable(tt.in, 128)
		if got != tt.want || len(got) > 128 {
			t.Errorf("Quotable(%q) = %q (%d bytes), want %q", tt.in, got, len(got), tt.want)
		}
	}
}

func TestWrap(t *testing.T) {
	lines := target.Wrap("# ", strings.Repeat("word ", 40), 30)
	for i, l := range lines {
		if len(l) > 30 || !strings.HasPrefix(l, "# ") || i > 0 && !strings.HasPrefix(l, "#   ") {
			t.Errorf("line %d: %q", i, l)
		}
	}
	if got := strings.Join(strings.Fields(strings.ReplaceAll(strings.Join(lines, " "), "#", "")), " "); got != strings.TrimSpace(strings.Repeat("word ", 40)) {
		t.Errorf("words lost: %q", got)
	}
}

func TestParseTable(t *testing.T) {
	for _, tt := range []struct {
		in, fam, name, err string
	}{
		{"inet filter", "inet", "filter", ""},
		{"ip6  fw-6", "ip6", "fw-6", ""},
		{"filter", "", "", "write FAMILY NAME"},
		{"arp filter", "", "", `family "arp"`},
		{"inet 'x'", "", "", "is not a table name"},
	} {
		f, n, err := target.ParseTable(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || f != tt.fam || n != tt.name {
			t.Errorf("%q: %q %q %v", tt.in, f, n, err)
		}
	}
}

func TestRegistry(t *testing.T) {
	if _, err := target.Lookup("nope"); err == nil {
		t.Error("unknown target found")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice does not panic")
		}
	}()
	target.Register(fake{})
	target.Register(fake{})
}

type fake struct{}

func (fake) Name() string                                          { return "fake" }
func (fake) Synopsis() string                                      { return "" }
func (fake) Resolves() bool                                        { return false }
func (fake) Write(io.Writer, *target.Input) (target.Result, error) { return target.Result{}, nil }

func TestRefIndex(t *testing.T) {
	a, b, c := "starface/rtp-out 001_aa6bddf40c960def.txt:23", "starface/s1-rtp-out 001_aa6bddf40c960def.txt:82", "starface/s2-rtp-out 001_aa6bddf40c960def.txt:102"
	long := "starface/" + strings.Repeat("x", 150) + " 001.txt:1"
	tests := []struct {
		refs []string
		max  int
		want string
	}{
		{[]string{a}, 128, a},
		{[]string{a, b}, 128, a + ", " + b},
		{[]string{a, b, c}, 255, a + ", " + b + ", " + c},
		{[]string{a, b, c}, 128, "index 1 (3 flows): starface/rtp-out, starface/s1-rtp-out, starface/s2-rtp-out"},
		{[]string{a, b}, 60, "index 2 (2 flows): starface/rtp-out, starface/s1-rtp-out"},
		{[]string{a, long}, 60, "index 3 (2 flows): starface/rtp-out, starface/xxxxxxxxxxx…"},
		{[]string{long}, 30, "starface/xxxxxxxxxxxxxxxxxx…"},
	}
	var x target.RefIndex
	for _, tt := range tests {
		got := x.Comment(tt.refs, tt.max)
		if got != tt.want || len(got) > tt.max {
			t.Errorf("Comment(%d refs, %d) = %q (%d bytes), want %q", len(tt.refs), tt.max, got, len(got), tt.want)
		}
	}
	var w strings.Builder
	x.Write(&w)
	text := w.String()
	for _, want := range []string{"#   index 1 (3 flows):\n#     " + a + "\n#     " + b + "\n#     " + c + "\n", "#   index 2 (2 flows):\n#     " + a + "\n#     " + b + "\n#   index 3 (2 flows):\n#     " + a + "\n#     " + long + "\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("index lacks %q:\n%s", want, w.String())
		}
	}
}

func TestComments(t *testing.T) {
	a := []string{"# a (outbound udp): audio", "#   (allowed towards the WAN)"}
	b := []string{"# b (outbound udp): more audio", "#   (allowed towards the WAN)"}
	cat := func(xs ...[]string) []string { return slices.Concat(xs...) }
	tests := []struct {
		name   string
		blocks [][]string
		want   []string
	}{
		{"new block", [][]string{a, b}, cat(a, b)},
		{"a shared line does not make a block present", [][]string{a, b[:1], b}, cat(a, b[:1], b)},
		{"the same block again", [][]string{a, b, b, a}, cat(a, b)},
		{"nothing to add", [][]string{a, nil}, a},
		{"nothing at all", nil, nil},
	}
	for _, tt := range tests {
		var c *target.Comments
		for i, bl := range tt.blocks {
			if i == 0 {
				c = target.NewComments(bl)
				continue
			}
			c.Add(bl)
		}
		if got := c.Lines(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
