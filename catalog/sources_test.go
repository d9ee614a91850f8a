package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/model"
)

// TestEmbeddedSources checks that every flow, constraint, host set, feature
// and param of the embedded catalog quotes its seed document, on the line
// it names.
func TestEmbeddedSources(t *testing.T) {
	dir := testenv.SeedsDir(t)
	c, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range c.Services() {
		t.Run(svc.Slug(), func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, svc.Info.Document)); err != nil {
				t.Fatalf("seed document: %v", err)
			}
			for _, e := range CheckSources(svc, dir) {
				t.Error(e)
			}
			// Embedded profiles name the line of every quote.
			for _, s := range Sources(svc) {
				if s.Source.Line == 0 {
					t.Errorf("%s: %s has no line", s.Field, s.What)
				}
			}
			for _, f := range svc.Flows {
				if strings.TrimSpace(f.Source.Quote) == "" {
					t.Errorf("flow %s has no quote", f.ID)
				}
			}
			for _, k := range svc.Constraints {
				if strings.TrimSpace(k.Source.Quote) == "" {
					t.Errorf("constraint %s has no quote", k.ID)
				}
			}
		})
	}
}

func TestCheckQuote(t *testing.T) {
	lines := []string{"Port\tProtokoll", "5060\tUDP\tSIP", "Blocos de IP da\u00a0TW Solutions:", "5060\tUDP\tSIP"}
	tests := []struct {
		name string
		src  model.Source
		err  string
	}{
		{"on its line", model.Source{Quote: "Protokoll", Line: 1}, ""},
		{"tab as space", model.Source{Quote: "Port Protokoll", Line: 1}, ""},
		{"no-break space as space", model.Source{Quote: "da TW Solutions", Line: 3}, ""},
		{"wrong line", model.Source{Quote: "Protokoll", Line: 2}, "not on line 2 but on line 1"},
		{"not there", model.Source{Quote: "RTP"}, "does not stand"},
		{"ambiguous", model.Source{Quote: "5060"}, "stands on lines 2, 4"},
		{"past the end", model.Source{Quote: "x", Line: 9}, "past the end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckQuote(lines, tt.src)
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("CheckQuote = %v, want %q", err, tt.err)
			}
		})
	}
}
