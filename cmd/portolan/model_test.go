package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPlatformFlag checks the --platform wiring (issue 8 item 27) and
// that show --output json carries the new fields of the test profile.
func TestPlatformFlag(t *testing.T) {
	const cat = "../../catalog/testdata/model"
	tests := []struct {
		args     []string
		code     int
		has, not []string // flow ids
		stderr   string
	}{
		{[]string{"show", "--catalog", cat, "8x8", "--output", "json"}, 0, []string{"push", "desktop-share", "pairing-room-tcp"}, nil, ""},
		{[]string{"show", "--catalog", cat, "8x8", "--output", "json", "--platform", "ios"}, 0, []string{"push", "media"}, []string{"desktop-share"}, ""},
		{[]string{"show", "--catalog", cat, "8x8", "--output", "json", "--platform", "windows"}, 0, []string{"desktop-share"}, []string{"push"}, ""},
		{[]string{"show", "--catalog", cat, "8x8", "--platform", "blackberry"}, 2, nil, nil, `--platform "blackberry": unknown platform; 8x8 has windows, ios, android`},
	}
	for _, tt := range tests {
		out, errOut, code := portolan(tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tt.args, code, errOut, tt.code, tt.stderr)
			continue
		}
		if code != 0 {
			continue
		}
		var doc any
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("%v: %v\n%s", tt.args, err, out)
		}
		ids := map[string]bool{}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if id, ok := v["id"].(string); ok && v["direction"] != nil {
					ids[id] = true
				}
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(doc)
		for _, id := range tt.has {
			if !ids[id] {
				t.Errorf("%v: no flow %s", tt.args, id)
			}
		}
		for _, id := range tt.not {
			if ids[id] {
				t.Errorf("%v: flow %s should be left out", tt.args, id)
			}
		}
		for _, field := range []string{`"platforms"`, `"remote_roles"`, `"local_src_ports"`} {
			if !strings.Contains(out, field) {
				t.Errorf("%v: JSON lacks %s", tt.args, field)
			}
		}
	}
}
