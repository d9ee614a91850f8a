package main

import (
	"slices"
	"strings"
	"testing"
)

// TestCompleteFeaturesAndParams: --feature, --no-feature and --param
// complete from the services named on the command line (issue 8 item 22).
func TestCompleteFeaturesAndParams(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		want      []string // completions (values before the tab)
		not       []string
		directive string
	}{
		{"show --feature", []string{"show", "starleaf", "--feature", ""},
			[]string{"webrtc", "starleaf:webrtc"}, []string{"sbc", "pexip:sbc"}, ":4"},
		{"two services", []string{"show", "starleaf", "pexip", "--feature", ""},
			[]string{"webrtc", "starleaf:webrtc", "sbc", "pexip:sbc", "pexip:web-app"}, []string{"scenario-1"}, ":4"},
		{"service prefix", []string{"rules", "pexip", "--feature", "pexip:"},
			[]string{"pexip:sbc", "pexip:h323"}, nil, ":4"},
		{"no service yet", []string{"rules", "--feature", ""},
			[]string{"webrtc", "scenario-1", "sbc"}, nil, ":4"},
		{"all", []string{"show", "all", "--no-feature", ""},
			[]string{"webrtc", "starface:scenario-1", "onsight:teamlink"}, nil, ":4"},
		{"audit --param", []string{"audit", "starleaf", "--param", ""},
			[]string{"company=", "starleaf:company="}, []string{"pbx_address="}, ":6"},
		{"probe --param", []string{"probe", "pexip", "--param", "sbc"},
			[]string{"sbc_address=", "sbc_media_ports=", "pexip:sbc_address="}, []string{"company="}, ":6"},
		{"sync --param", []string{"sync", "starface", "--param", ""},
			[]string{"pbx_address="}, []string{"company="}, ":6"},
		{"param example", []string{"show", "starleaf", "--param", "company="},
			[]string{"company=acme"}, nil, ":4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := portolan(append([]string{"__complete"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			directive := lines[len(lines)-1]
			var got []string
			for _, l := range lines[:len(lines)-1] {
				v, _, _ := strings.Cut(l, "\t")
				got = append(got, v)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("completions lack %q: %q", w, got)
				}
			}
			for _, n := range tt.not {
				if slices.Contains(got, n) {
					t.Errorf("completions offer %q of a service not named: %q", n, got)
				}
			}
			if directive != tt.directive {
				t.Errorf("directive %s, want %s", directive, tt.directive)
			}
		})
	}
}
