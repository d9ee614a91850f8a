package resolve

import (
	"encoding/json"
	"strings"
	"testing"
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
