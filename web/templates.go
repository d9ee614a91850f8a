package web

import (
	"html/template"
	"net/url"
	"strings"

	"github.com/portolan/portolan/audit"
)

var pages = []string{"catalog", "service", "runs", "run", "error"}

var funcs = template.FuncMap{
	"join": strings.Join,
	"val":  func(v url.Values, k string) string { return v.Get(k) },
	"has": func(v url.Values, k, want string) bool {
		for _, x := range v[k] {
			if x == want {
				return true
			}
		}
		return false
	},
	"lower":       strings.ToLower,
	"failing":     func(v audit.Verdict) bool { return v != audit.Allowed && v != audit.Skipped },
	"notAccepted": func(p audit.Part) bool { return p.Result != "accepted" },
	"eq2":         func(a, b string) bool { return a == b },
	// auditFormats are what --format takes but auto: the Linux dumps,
	// ipset save and the appliance readers.
	"auditFormats": func() []string { return audit.Formats()[1:] },
}

// loadTemplates parses each page with the layout.
func loadTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, p := range pages {
		t, err := template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, err
		}
		out[p] = t
	}
	return out, nil
}
