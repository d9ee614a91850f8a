package catalog

import (
	"errors"
	"strings"
	"testing"
)

// feedProfile is minimal with its host set fed by a list instead of entries.
func feedProfile(feed string) string {
	return strings.Replace(minimal,
		`    entries: [198.51.100.0/24, "{company}.demo.example", "*.demo.example"]
`, "    feed: "+feed+"\n", 1)
}

func TestFeedValid(t *testing.T) {
	s := compileSchema(t)
	for _, feed := range []string{
		`{format: cidr, url: "https://lists.example.com/zoom.txt"}`,
		`{format: cidr, file: ranges.txt}`,
		`{format: m365, url: "https://endpoints.example.com/endpoints/worldwide", version_url: "https://endpoints.example.com/version/worldwide", service_area: Skype, required_only: true, category: [Optimize, Allow]}`,
	} {
		src := feedProfile(feed)
		svc, err := Load("demo.yaml", []byte(src))
		if err != nil {
			t.Errorf("%s: %v", feed, err)
			continue
		}
		if f := svc.HostSet("cloud").Feed; f == nil || f.Origin() == "" {
			t.Errorf("%s: feed not loaded: %+v", feed, f)
		}
		if err := s.Validate(yamlInstance(t, []byte(src))); err != nil {
			t.Errorf("%s: schema: %v", feed, err)
		}
	}
}

// TestFeedErrors: each broken feed is one error naming its line and field,
// and the schema rejects it too.
func TestFeedErrors(t *testing.T) {
	s := compileSchema(t)
	tests := []struct{ name, feed, field, msg string }{
		{"unknown format", `{format: csv, url: "https://x.example.com/a"}`, "hosts[0].feed.format", `unknown feed format "csv"; one of cidr, m365`},
		{"no format", `{url: "https://x.example.com/a"}`, "hosts[0].feed.format", "required field is missing"},
		{"neither url nor file", `{format: cidr}`, "hosts[0].feed", "needs a url or a file"},
		{"both", `{format: cidr, url: "https://x.example.com/a", file: a.txt}`, "hosts[0].feed.file", "a url or a file, not both"},
		{"not http", `{format: cidr, url: "ftp://x.example.com/a"}`, "hosts[0].feed.url", "not an http or https URL"},
		{"m365 filter on cidr", `{format: cidr, file: a.txt, service_area: Skype}`, "hosts[0].feed.service_area", "only an m365 feed takes service_area"},
		{"bad category", `{format: m365, file: a.json, category: [Fast]}`, "hosts[0].feed.category[0]", `unknown category "Fast"`},
		{"unknown key", `{format: cidr, file: a.txt, urll: x}`, "hosts[0].feed.urll", `unknown field "urll"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := feedProfile(tt.feed)
			_, err := Load("demo.yaml", []byte(src))
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("got %v, want one error", err)
			}
			e := es[0]
			if e.Line != 16 || e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got %s (line %d, field %q), want line 16, field %q, %q", e, e.Line, e.Field, tt.field, tt.msg)
			}
			if err := s.Validate(yamlInstance(t, []byte(src))); err == nil {
				t.Error("the schema accepts it")
			}
		})
	}
}
