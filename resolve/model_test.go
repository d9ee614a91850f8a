package resolve

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portolan/portolan/catalog"
)

// TestOnsightLocalSrcPorts checks that the Onsight media flows record the
// clients' source ports with their quote (issue 8 item 29), and that show
// --output json carries them.
func TestOnsightLocalSrcPorts(t *testing.T) {
	cs := choose(t, Selection{AllFeatures: true}, "onsight")
	flows, err := cs[0].Flows(false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range flows {
		if f.LocalSrcPorts == nil {
			continue
		}
		got[f.ID] = true
		l := f.LocalSrcPorts
		if strings.Join(l.Ports, ",") != "6000-6200" || l.Source.Line != 118 || l.Source.Document != "004_6ded30d48ad6275a.txt" || !strings.Contains(l.Source.Quote, "higher ports will be used") {
			t.Errorf("%s: local_src_ports = %+v", f.ID, l)
		}
		if len(f.SrcPorts) != 0 {
			t.Errorf("%s: src_ports %v: rules must not match on the clients' source ports", f.ID, f.SrcPorts)
		}
		js, _ := json.Marshal(f)
		if !strings.Contains(string(js), `"local_src_ports":{"ports":["6000-6200"]`) {
			t.Errorf("%s: JSON lacks local_src_ports: %s", f.ID, js)
		}
	}
	for _, id := range []string{"media", "legacy-media", "p2p-media"} {
		if !got[id] {
			t.Errorf("flow %s has no local_src_ports", id)
		}
	}
}

// chooseModel applies sel to a test profile of catalog/testdata/model.
func chooseModel(t *testing.T, slug string, sel Selection) ([]*Choice, error) {
	t.Helper()
	c, err := catalog.Open("../catalog/testdata/model")
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := c.Select([]string{slug})
	if err != nil {
		t.Fatal(err)
	}
	return Choose(svcs, sel)
}

// TestPortExprParam checks a port range sized by a number param (issue 8
// item 28): filled in from the param, a placeholder while it is missing,
// and a value that breaks the range is an error naming the param.
func TestPortExprParam(t *testing.T) {
	tests := []struct {
		params  []string
		want    string
		missing bool
		wantErr string
	}{
		{[]string{"calls=50"}, "40000-40099", false, ""},
		{[]string{"calls=1"}, "40000-40001", false, ""},
		{nil, "40000+2*{calls}", true, ""},
		{[]string{"calls=20000"}, "", false, "--param calls: 8x8/sbc-rtp ports: calls=20000: 40000+2*{calls} would end at port 79999, above 65535"},
		{[]string{"calls=0"}, "", false, "calls=0: 40000+2*{calls} holds no port"},
		{[]string{"calls=many"}, "", false, `--param calls: "many" is not a whole number`},
	}
	for _, tt := range tests {
		cs, err := chooseModel(t, "8x8", Selection{Params: append([]string{"sbc_address=192.0.2.10"}, tt.params...)})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err = %v, want %q", tt.params, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.params, err)
		}
		flows, _ := cs[0].Flows(false)
		var f *Flow
		for i := range flows {
			if flows[i].ID == "sbc-rtp" {
				f = &flows[i]
			}
		}
		if f == nil {
			t.Fatal("no sbc-rtp flow")
		}
		if got := strings.Join(f.Ports, ","); got != tt.want || strings.Join(f.LocalSrcPorts.Ports, ",") != tt.want {
			t.Errorf("%v: ports %s, local source ports %v; want %s", tt.params, got, f.LocalSrcPorts.Ports, tt.want)
		}
		if f.Placeholder() != tt.missing {
			t.Errorf("%v: missing = %v", tt.params, f.Missing)
		}
		if _, err := cs[0].Flows(true); (err != nil) != tt.missing {
			t.Errorf("%v: strict expansion: %v", tt.params, err)
		}
	}
}

// TestPlatforms checks --platform (issue 8 item 27): every flow by
// default, only the flows a platform uses when one is chosen.
func TestPlatforms(t *testing.T) {
	params := []string{"sbc_address=192.0.2.10", "calls=50"}
	tests := []struct {
		platforms []string
		push      bool // only ios, android
		share     bool // all but ios, android
		wantErr   string
	}{
		{nil, true, true, ""},
		{[]string{"ios"}, true, false, ""},
		{[]string{"windows"}, false, true, ""},
		{[]string{"windows", "android"}, true, true, ""},
		{[]string{"blackberry"}, false, false, `--platform "blackberry": unknown platform; 8x8 has windows, ios, android`},
	}
	for _, tt := range tests {
		cs, err := chooseModel(t, "8x8", Selection{AllFeatures: true, Params: params, Platforms: tt.platforms})
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%v: err = %v, want %q", tt.platforms, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		flows, err := cs[0].Flows(true)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*Flow{}
		for i := range flows {
			got[flows[i].ID] = &flows[i]
		}
		if (got["push"] != nil) != tt.push || (got["desktop-share"] != nil) != tt.share || got["media"] == nil {
			t.Errorf("%v: push %v, desktop-share %v, media %v", tt.platforms, got["push"] != nil, got["desktop-share"] != nil, got["media"] != nil)
		}
		if f := got["push"]; f != nil {
			js, _ := json.Marshal(f)
			if !strings.Contains(string(js), `"platforms":{"only":["ios","android"]}`) {
				t.Errorf("JSON lacks platforms: %s", js)
			}
		}
	}
	// A service that lists no platforms keeps every flow.
	cs := choose(t, Selection{}, "starleaf")
	cs[0].Platforms = []string{"ios"}
	all, _ := cs[0].Flows(false)
	if len(all) == 0 {
		t.Error("starleaf lost its flows to --platform")
	}
}

// TestRoleFlows checks the expansion of flows with several local roles and
// of flows between roles of the site (issue 8 item 23): one flow per role
// and protocol, the remote side the peer role's address or "lan".
func TestRoleFlows(t *testing.T) {
	cs, err := chooseModel(t, "8x8", Selection{Params: []string{"sbc_address=192.0.2.1", "calls=50"}})
	if err != nil {
		t.Fatal(err)
	}
	flows, err := cs[0].Flows(true)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range flows {
		if f.Flow != "pairing" && f.Flow != "sbc-media" && f.Flow != "cloud-control" {
			continue
		}
		got = append(got, f.ID+" "+f.Proto+" "+f.Local+" "+f.LocalAddress+" > "+strings.Join(f.Dest, ",")+" roles="+strings.Join(f.RemoteRoles, ",")+" sets="+strings.Join(f.RemoteSets, ","))
	}
	want := []string{
		"pairing-controller-tcp tcp controller  > lan roles=room sets=",
		"pairing-controller-udp udp controller  > lan roles=room sets=",
		"pairing-room-tcp tcp room  > lan roles=room sets=",
		"pairing-room-udp udp room  > lan roles=room sets=",
		"sbc-media udp room  > 192.0.2.1 roles=sbc sets=",
		"cloud-control-controller tcp controller  > 198.51.100.0/24,2001:db8:8::/48,media.vendor.example roles= sets=cloud",
		"cloud-control-room tcp room  > 198.51.100.0/24,2001:db8:8::/48,media.vendor.example roles= sets=cloud",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("flows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Without the SBC's address, the SBC is somewhere in the site.
	cs, _ = chooseModel(t, "8x8", Selection{Params: []string{"calls=50"}})
	flows, _ = cs[0].Flows(false)
	for _, f := range flows {
		if f.ID == "sbc-media" && (strings.Join(f.Dest, ",") != "lan" || f.Placeholder()) {
			t.Errorf("sbc-media without sbc_address: dest %v, missing %v", f.Dest, f.Missing)
		}
	}
}
