package resolve

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/model"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func embedded(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func choose(t *testing.T, sel Selection, slugs ...string) []*Choice {
	t.Helper()
	svcs, err := embedded(t).Select(slugs)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Choose(svcs, sel)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// exampleParams sets every param of the service to its example, or to a
// documentation value when it has none.
func exampleParams(svc *model.Service) []string {
	var out []string
	for _, p := range svc.Params {
		v := p.Example
		if v == "" && p.Default != nil {
			v = *p.Default
		}
		out = append(out, p.Name+"="+v)
	}
	return out
}

// TestGolden compares each service's expanded flows and constraints with
// the golden files: default features and no params (placeholders), and
// every feature with the params' examples (strict). Run with -update after
// a deliberate change to a profile, and read the diff.
func TestGolden(t *testing.T) {
	for _, svc := range embedded(t).Services() {
		for _, tc := range []struct {
			name string
			sel  Selection
		}{
			{"default", Selection{}},
			{"all", Selection{AllFeatures: true, Params: exampleParams(svc)}},
		} {
			t.Run(svc.Slug()+"/"+tc.name, func(t *testing.T) {
				cs := choose(t, tc.sel, svc.Slug())
				flows, err := cs[0].Flows(tc.name == "all")
				if err != nil {
					t.Fatal(err)
				}
				got, err := json.MarshalIndent(map[string]any{"flows": flows, "constraints": cs[0].Constraints()}, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				path := filepath.Join("testdata", "golden", svc.Slug()+"."+tc.name+".json")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./resolve -update to create it)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("expanded %s differs from %s; run go test ./resolve -update and read the diff", svc.Slug(), path)
				}
			})
		}
	}
}

func TestChooseFeatures(t *testing.T) {
	tests := []struct {
		name    string
		sel     Selection
		slugs   []string
		wantOn  map[string]bool // "svc:feature" → on
		wantErr string
	}{
		{"defaults", Selection{}, []string{"onsight"}, map[string]bool{"onsight:push": true, "onsight:legacy": false}, ""},
		{"turn on", Selection{Features: []string{"legacy"}}, []string{"onsight"}, map[string]bool{"onsight:legacy": true}, ""},
		{"turn off a default", Selection{Without: []string{"push"}}, []string{"onsight"}, map[string]bool{"onsight:push": false}, ""},
		{"all", Selection{AllFeatures: true}, []string{"starleaf", "pexip"}, map[string]bool{"starleaf:webrtc": true, "pexip:h323": true}, ""},
		{"all but one", Selection{AllFeatures: true, Without: []string{"h323"}}, []string{"pexip"}, map[string]bool{"pexip:sbc": true, "pexip:h323": false}, ""},
		{"qualified", Selection{Features: []string{"starleaf:webrtc"}}, []string{"starleaf", "pexip"}, map[string]bool{"starleaf:webrtc": true}, ""},
		{"unknown", Selection{Features: []string{"webrtcc"}}, []string{"starleaf", "pexip"}, nil, `unknown feature "webrtcc": starleaf has webrtc; pexip has web-app, downloads, sbc, h323`},
		{"qualified wrong service", Selection{Features: []string{"pexip:webrtc"}}, []string{"starleaf", "pexip"}, nil, "pexip has web-app"},
		{"qualified unselected", Selection{Features: []string{"onsight:push"}}, []string{"starleaf"}, nil, `no selected service is called "onsight"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svcs, err := embedded(t).Select(tt.slugs)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := Choose(svcs, tt.sel)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for key, want := range tt.wantOn {
				svc, feat, _ := strings.Cut(key, ":")
				for _, c := range cs {
					if c.Service.Slug() == svc && c.Features[feat] != want {
						t.Errorf("%s = %v, want %v", key, c.Features[feat], want)
					}
				}
			}
		})
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		name    string
		slugs   []string
		params  []string
		wantErr string
	}{
		{"ok", []string{"starleaf"}, []string{"company=acme"}, ""},
		{"not a label", []string{"starleaf"}, []string{"company=Acme Corp"}, "not one lower-case DNS label"},
		{"unknown", []string{"starleaf"}, []string{"compnay=acme"}, `unknown param "compnay"; starleaf takes company`},
		{"no equals", []string{"starleaf"}, []string{"company"}, "write NAME=VALUE"},
		{"bad address", []string{"starface"}, []string{"pbx_address=192.0.2.300"}, "not an IPv4 or IPv6 address"},
		{"bad ports", []string{"pexip"}, []string{"sbc_media_ports=60000-50000"}, "reversed range"},
		{"bad hosts", []string{"pexip"}, []string{"service_network=198.51.100.0/33"}, "bad CIDR"},
		{"qualified", []string{"starleaf", "starface"}, []string{"starface:pbx_address=2001:db8::10"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svcs, _ := embedded(t).Select(tt.slugs)
			_, err := Choose(svcs, Selection{Params: tt.params})
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func find(t *testing.T, flows []Flow, id string) Flow {
	t.Helper()
	for _, f := range flows {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("no flow %s", id)
	return Flow{}
}

func TestFlowsExpansion(t *testing.T) {
	// Placeholders without the param, filled in with it.
	flows, err := choose(t, Selection{}, "starleaf")[0].Flows(false)
	if err != nil {
		t.Fatal(err)
	}
	if f := find(t, flows, "tunnel-https"); f.Dest[0] != "{company}.call.sl" || !f.Placeholder() {
		t.Errorf("without company: dest %v, missing %v", f.Dest, f.Missing)
	}
	flows, _ = choose(t, Selection{Params: []string{"company=acme"}}, "starleaf")[0].Flows(true)
	if f := find(t, flows, "tunnel-udp"); f.Dest[0] != "acme.call.sl" || f.Placeholder() || !f.OneOf ||
		strings.Join(f.Ports, ",") != "24704,3478,1194,500,123" || f.Fallback[0] != "tunnel-https" {
		t.Errorf("tunnel-udp = %+v", f)
	}
	if f := find(t, flows, "config-https"); f.Source.Document != "000_5789b0e057a19555.txt" || f.Source.Line != 6 || f.Purposes["de"] == "" {
		t.Errorf("config-https source/purposes = %+v %v", f.Source, f.Purposes)
	}

	// One flow per protocol, ids suffixed.
	flows, _ = choose(t, Selection{}, "starface")[0].Flows(false)
	u, tc := find(t, flows, "dns-udp"), find(t, flows, "dns-tcp")
	if u.Proto != "udp" || tc.Proto != "tcp" || u.Flow != "dns" {
		t.Errorf("dns split: %+v %+v", u, tc)
	}

	// A ports param with several ranges, a hosts param with several entries.
	cs := choose(t, Selection{Features: []string{"sbc"}, Params: []string{
		"sbc_media_ports=36000-59999,60010", "service_network=198.51.100.0/24, 203.0.113.0/24", "sbc_address=192.0.2.20"}}, "pexip")
	flows, err = cs[0].Flows(true)
	if err != nil {
		t.Fatal(err)
	}
	f := find(t, flows, "sbc-media-in")
	if strings.Join(f.Ports, ",") != "36000-59999,60010" || strings.Join(f.Dest, ",") != "198.51.100.0/24,203.0.113.0/24" || f.LocalAddress != "192.0.2.20" {
		t.Errorf("sbc-media-in = ports %v dest %v local %q", f.Ports, f.Dest, f.LocalAddress)
	}
	if rs, err := f.PortRanges(); err != nil || len(rs) != 2 || rs[0] != (model.PortRange{Lo: 36000, Hi: 59999}) {
		t.Errorf("PortRanges = %v, %v", rs, err)
	}

	// required_with: STUN is recommended, required while TeamLink is on.
	flows, _ = choose(t, Selection{}, "onsight")[0].Flows(false)
	if f := find(t, flows, "stun"); f.Necessity != model.Required {
		t.Errorf("stun with teamlink = %s", f.Necessity)
	}
	flows, _ = choose(t, Selection{Without: []string{"teamlink"}}, "onsight")[0].Flows(false)
	if f := find(t, flows, "stun"); f.Necessity != model.Recommended {
		t.Errorf("stun without teamlink = %s", f.Necessity)
	}

	// Features keep their flows out until turned on.
	flows, _ = choose(t, Selection{}, "onsight")[0].Flows(false)
	for _, f := range flows {
		if f.Feature == "legacy" || f.Feature == "china" {
			t.Errorf("flow %s of an off feature is in", f.ID)
		}
	}
}

func TestStrictMissingParams(t *testing.T) {
	tests := []struct {
		name  string
		slug  string
		sel   Selection
		want  []string // each must appear in the error
		noErr bool
	}{
		{"starleaf company", "starleaf", Selection{}, []string{"starleaf: missing param company, needed by tunnel-https, tunnel-udp: pass --param company=VALUE (e.g. company=acme)"}, false},
		{"pexip web-app needs the service network", "pexip", Selection{}, []string{"missing param service_network, needed by web-app (feature web-app)"}, false},
		{"pexip sbc", "pexip", Selection{Features: []string{"sbc"}, Params: []string{"service_network=any"}},
			[]string{"missing param sbc_media_ports, needed by sbc-media-in (feature sbc)", "missing param sbc_address, needed by sbc-sip-in, sbc-media-in"}, false},
		{"starface forward needs the PBX", "starface", Selection{Features: []string{"scenario-1"}}, []string{"missing param pbx_address, needed by s1-sip-in"}, false},
		{"starface outbound alone needs nothing", "starface", Selection{}, nil, true},
		{"onsight needs nothing by default", "onsight", Selection{}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := choose(t, tt.sel, tt.slug)[0].Flows(true)
			if tt.noErr {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var me *MissingParamError
			if !errors.As(err, &me) {
				t.Fatalf("err = %v, want a MissingParamError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say %q", err, w)
				}
			}
		})
	}
}

func TestConstraintsFollowFeatures(t *testing.T) {
	has := func(cs []Constraint, id string) bool {
		for _, c := range cs {
			if c.ID == id {
				return true
			}
		}
		return false
	}
	def := choose(t, Selection{}, "pexip")[0].Constraints()
	if has(def, "h323-alg-off") || !has(def, "proxy-basic-only") {
		t.Errorf("default pexip constraints wrong: h323-alg-off in=%v proxy-basic-only in=%v", has(def, "h323-alg-off"), has(def, "proxy-basic-only"))
	}
	all := choose(t, Selection{AllFeatures: true, Params: []string{"service_network=198.51.100.0/24"}}, "pexip")[0].Constraints()
	if !has(all, "h323-alg-off") {
		t.Error("h323-alg-off missing with every feature on")
	}
	for _, c := range all {
		if c.ID == "no-ssl-breaking" && strings.Join(c.Hosts, ",") != "198.51.100.0/24" {
			t.Errorf("no-ssl-breaking hosts = %v", c.Hosts)
		}
	}
}

// FuzzExpand loads a profile and, when it is valid, expands it with every
// feature on and arbitrary params: expansion must not panic.
func FuzzExpand(f *testing.F) {
	f.Add([]byte("service: {slug: a, name: A, vendor: V, document: d.txt, language: en}\nparams: [{name: p, type: ports, description: d}]\nroles: [{name: r, description: d}]\nhosts: [{name: h, entries: [\"{p}\"], description: d}]\nflows: [{id: f, direction: outbound, proto: [tcp, udp], ports: [\"{p}\"], local: r, remote: [h], necessity: required, app: x, purpose: {en: p}, source: {quote: q}}]\n"), "p=1-2,3")
	f.Fuzz(func(t *testing.T, data []byte, param string) {
		svc, err := catalog.Load("fuzz.yaml", data)
		if err != nil {
			return
		}
		cs, err := Choose([]*model.Service{svc}, Selection{AllFeatures: true, Params: []string{param}})
		if err != nil {
			return
		}
		flows, err := cs[0].Flows(false)
		if err != nil {
			t.Fatalf("non-strict expansion failed: %v", err)
		}
		for _, fl := range flows {
			if fl.Placeholder() {
				continue
			}
			if _, err := fl.PortRanges(); err != nil {
				t.Fatalf("flow %s: a filled-in port does not parse: %v", fl.ID, err)
			}
		}
		cs[0].Constraints()
	})
}

func TestHostEntries(t *testing.T) {
	c := choose(t, Selection{Params: []string{"company=acme", "pexip:service_network=198.51.100.0/24,sip.example.com"}}, "starleaf", "pexip")
	tests := []struct {
		choice *Choice
		set    string
		want   string
	}{
		{c[0], "tunnel", "acme.call.sl"},
		{c[0], "endpoints", "config.starleaf.com acme.call.sl"},
		{c[1], "service-network", "198.51.100.0/24 sip.example.com"},
		{c[1], "pexip-h323", "185.94.242.66 198.51.100.0/24 sip.example.com"},
		{c[1], "no-such-set", ""},
	}
	for _, tt := range tests {
		if got := strings.Join(tt.choice.HostEntries(tt.set), " "); got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.choice.Service.Slug(), tt.set, got, tt.want)
		}
	}
}
