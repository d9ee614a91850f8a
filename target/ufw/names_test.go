package ufw

import (
	"regexp"
	"strings"
	"testing"

	"github.com/portolan/portolan/model"
)

// validName is ufw's own rule for profile names (applications.py).
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9 _\-\.+]*$`)

func TestProfileName(t *testing.T) {
	long := strings.Repeat("x", 80)
	tests := []struct {
		service, flow, proto string
		n                    int
		want                 string
	}{
		{"starleaf", "tunnel-udp", "udp", 1, "portolan-starleaf-tunnel-udp"},
		{"starleaf", "tunnel-https", "tcp", 1, "portolan-starleaf-tunnel-https-tcp"},
		{"pexip", "media", "udp", 2, "portolan-pexip-media-udp-2"},
		{"onsight", long, "tcp", 1, ""},
		{"onsight", long + "y", "tcp", 1, ""},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		got := profileName(tt.service, tt.flow, tt.proto, tt.n)
		if tt.want != "" && got != tt.want {
			t.Errorf("%s/%s %s %d: %s, want %s", tt.service, tt.flow, tt.proto, tt.n, got, tt.want)
		}
		if len(got) > ProfileNameMax || !validName.MatchString(got) {
			t.Errorf("%q: not a name ufw reads", got)
		}
		if seen[got] {
			t.Errorf("%q twice", got)
		}
		seen[got] = true
	}
}

// TestChunks: a profile's ports entry holds at most 14 commas and colons,
// ufw's limit, and a single port is never written as a range.
func TestChunks(t *testing.T) {
	var rs []model.PortRange
	for p := uint16(1000); p < 1040; p += 4 {
		rs = append(rs, model.PortRange{Lo: p, Hi: p + 1})
	}
	rs = append(rs, model.PortRange{Lo: 2000, Hi: 2000})
	tests := []struct {
		name string
		in   []model.PortRange
		want string
	}{
		{"one", []model.PortRange{{Lo: 443, Hi: 443}}, "443"},
		{"range", []model.PortRange{{Lo: 10000, Hi: 20000}}, "10000:20000"},
		{"ten ranges and a port", rs, "1000:1001,1004:1005,1008:1009,1012:1013,1016:1017,1020:1021,1024:1025|1028:1029,1032:1033,1036:1037,2000"},
	}
	for _, tt := range tests {
		var parts []string
		for _, c := range chunks(tt.in) {
			s := strings.Join(c, ",")
			if n := strings.Count(s, ",") + strings.Count(s, ":"); n > 14 {
				t.Errorf("%s: %s has %d commas and colons", tt.name, s, n)
			}
			parts = append(parts, s)
		}
		if got := strings.Join(parts, "|"); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
