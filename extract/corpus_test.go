package extract

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/model"
)

// answerKey is a hand-written key: the flows a reader finds in a document.
type answerKey struct {
	Language string `yaml:"language"`
	Flows    []struct {
		Direction string   `yaml:"direction"`
		Proto     string   `yaml:"proto"`
		Ports     []string `yaml:"ports"`
		Dest      []string `yaml:"dest"`
	} `yaml:"flows"`
	Constraints []string `yaml:"constraints"`
}

// corpusDoc is one document of the corpus and its key.
type corpusDoc struct {
	path string // the document
	key  string // its answer key
}

// corpus lists the corpus: the documents in testdata/corpus and the seeds.
func corpus(t testing.TB) []corpusDoc {
	var out []corpusDoc
	keys, _ := filepath.Glob("testdata/corpus/*.key.yaml")
	for _, k := range keys {
		out = append(out, corpusDoc{path: strings.TrimSuffix(k, ".key.yaml"), key: k})
	}
	seeds := testenv.SeedsDir(t)
	skeys, _ := filepath.Glob("testdata/corpus/seeds/*.key.yaml")
	for _, k := range skeys {
		out = append(out, corpusDoc{path: filepath.Join(seeds, strings.TrimSuffix(filepath.Base(k), ".key.yaml")), key: k})
	}
	if len(keys) < 12 || len(skeys) != 5 {
		t.Fatalf("corpus: %d documents with keys and %d seed keys; want at least 12 and 5", len(keys), len(skeys))
	}
	return out
}

var templateRE = regexp.MustCompile(`\{[a-z0-9_]+\}`)

// item is the unit of scoring: one port or range of one flow, with its
// direction, protocol and set of remote entries.
func item(dir, proto, port string, dest []string) string {
	d := make([]string, len(dest))
	for i, e := range dest {
		d[i] = templateRE.ReplaceAllString(strings.ToLower(e), "{}")
	}
	sort.Strings(d)
	return fmt.Sprintf("%s %s %s → %s", dir, proto, port, strings.Join(d, ","))
}

func keyItems(k *answerKey) map[string]bool {
	out := map[string]bool{}
	for _, f := range k.Flows {
		for _, p := range f.Ports {
			out[item(f.Direction, f.Proto, p, f.Dest)] = true
		}
	}
	return out
}

func profileItems(svc *model.Service) map[string]bool {
	out := map[string]bool{}
	for _, f := range svc.Flows {
		var dest []string
		for _, r := range f.Remote {
			dest = append(dest, svc.HostSet(r).Entries...)
		}
		for _, proto := range f.Proto {
			for _, p := range f.Ports {
				out[item(string(f.Direction), proto, p, dest)] = true
			}
		}
	}
	return out
}

type score struct{ tp, fp, fn, docs int }

func (s score) precision() float64 {
	if s.tp+s.fp == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fp)
}

func (s score) recall() float64 {
	if s.tp+s.fn == 0 {
		return 1
	}
	return float64(s.tp) / float64(s.tp+s.fn)
}

func loadKey(t testing.TB, path string) *answerKey {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var k answerKey
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &k
}

// TestCorpusScore scores the extractor on the whole corpus at flow level
// (direction, protocol, port, destination) and fails below 0.9 precision
// or recall. Every extracted profile must also load as the catalog loads
// profiles, with every quote standing on its line of the document, and
// hold every kind of constraint its key lists.
func TestCorpusScore(t *testing.T) {
	total := score{}
	byLang := map[string]*score{}
	for _, c := range corpus(t) {
		k := loadKey(t, c.key)
		data, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Extract(c.path, data, Options{})
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if res.Service.Info.Language != k.Language {
			t.Errorf("%s: language %s, want %s", c.path, res.Service.Info.Language, k.Language)
		}
		svc, err := catalog.Load(c.path+".yaml", res.YAML)
		if err != nil {
			t.Errorf("%s: the profile does not load: %v", c.path, err)
			continue
		}
		svc.File = c.path + ".yaml"
		if errs := catalog.CheckSources(svc, filepath.Dir(c.path)); len(errs) > 0 {
			t.Errorf("%s: quotes do not stand: %v", c.path, errs)
		}
		want, got := keyItems(k), profileItems(svc)
		s := score{docs: 1}
		var missed, extra []string
		for it := range want {
			if got[it] {
				s.tp++
			} else {
				s.fn++
				missed = append(missed, it)
			}
		}
		for it := range got {
			if !want[it] {
				s.fp++
				extra = append(extra, it)
			}
		}
		sort.Strings(missed)
		sort.Strings(extra)
		t.Logf("%-40s %s P=%.2f R=%.2f", filepath.Base(c.path), k.Language, s.precision(), s.recall())
		for _, m := range missed {
			t.Logf("    missed %s", m)
		}
		for _, e := range extra {
			t.Logf("    extra  %s", e)
		}
		kinds := map[string]bool{}
		for _, con := range svc.Constraints {
			kinds[string(con.Kind)] = true
		}
		for _, want := range k.Constraints {
			if !kinds[want] {
				t.Errorf("%s: constraint %s not found", filepath.Base(c.path), want)
			}
		}
		ls := byLang[k.Language]
		if ls == nil {
			ls = &score{}
			byLang[k.Language] = ls
		}
		ls.tp, ls.fp, ls.fn, ls.docs = ls.tp+s.tp, ls.fp+s.fp, ls.fn+s.fn, ls.docs+1
		total.tp, total.fp, total.fn, total.docs = total.tp+s.tp, total.fp+s.fp, total.fn+s.fn, total.docs+1
	}
	var langs []string
	for l := range byLang {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, l := range langs {
		s := byLang[l]
		t.Logf("| %s | %d | %d | %.2f | %.2f |", l, s.docs, s.tp+s.fn, s.precision(), s.recall())
	}
	t.Logf("| all | %d | %d | %.2f | %.2f |", total.docs, total.tp+total.fn, total.precision(), total.recall())
	if total.precision() < 0.9 || total.recall() < 0.9 {
		t.Errorf("corpus: precision %.3f, recall %.3f; both must be at least 0.9", total.precision(), total.recall())
	}
}
