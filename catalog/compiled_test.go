package catalog

import (
	"bytes"
	"embed"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"testing"
)

// profiles are the catalog's source, which compiled.json is made from.
//
//go:embed profiles/*.yaml
var profiles embed.FS

var update = flag.Bool("update", false, "rewrite compiled.json from profiles/*.yaml")

// compile reads every profile of profiles/*.yaml with Load, every check
// of it, and returns them as compiled.json holds them.
func compile(t *testing.T) ([]byte, []compiledProfile) {
	t.Helper()
	ents, err := profiles.ReadDir("profiles")
	if err != nil {
		t.Fatal(err)
	}
	var ps []compiledProfile
	for _, e := range ents {
		data, err := profiles.ReadFile("profiles/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		svc, err := Load("embedded:"+e.Name(), data)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, compiledProfile{File: e.Name(), Service: svc})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(ps); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), ps
}

// TestCompiled: compiled.json is the profiles of profiles/*.yaml as Load
// reads them, and the embedded catalog decoded from it holds the very
// services Load returns, field for field.
func TestCompiled(t *testing.T) {
	js, ps := compile(t)
	if *update {
		if err := os.WriteFile("compiled.json", js, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(compiled, js) {
		t.Fatal("compiled.json is not profiles/*.yaml as they are: go test ./catalog -run TestCompiled -update")
	}
	c, err := loadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(c.services) != len(ps) {
		t.Fatalf("%d services embedded, %d profiles", len(c.services), len(ps))
	}
	for _, p := range ps {
		got, err := c.Get(p.Service.Slug())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p.Service) {
			t.Errorf("%s: the embedded service is not what Load reads from the profile", p.File)
		}
	}
}

// BenchmarkEmbedded is what every command that names a service pays once:
// the embedded catalog decoded from compiled.json.
func BenchmarkEmbedded(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := loadEmbedded(); err != nil {
			b.Fatal(err)
		}
	}
}
