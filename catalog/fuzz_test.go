package catalog

import (
	"errors"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the profile loader: it must never
// panic, and every error must name the file and say something.
//
//	go test ./catalog -run '^$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 5s
func FuzzLoad(f *testing.F) {
	ents, _ := profiles.ReadDir("profiles")
	for _, e := range ents {
		data, _ := profiles.ReadFile("profiles/" + e.Name())
		f.Add(data)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(strings.Replace(minimal, "ports: [443]", "ports: [0-70000]", 1)))
	f.Add([]byte(feedProfile(`{format: m365, url: "https://e.example.com/endpoints/worldwide", service_area: Skype, category: [Optimize]}`)))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("flows: [{proto: *x}]\n"))
	f.Add([]byte("service: {slug: 1}\nroles: 1\nhosts: [[]]\nflows: {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		svc, err := Load("fuzz.yaml", data)
		if err == nil {
			if svc == nil || svc.Slug() == "" || len(svc.Flows) == 0 {
				t.Fatalf("Load accepted a profile without slug or flows: %+v", svc)
			}
			return
		}
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Fatalf("error is %T, want a non-empty Errors: %v", err, err)
		}
		for _, e := range es {
			if e.File != "fuzz.yaml" || strings.TrimSpace(e.Msg) == "" {
				t.Fatalf("error without file or message: %#v", e)
			}
		}
	})
}
