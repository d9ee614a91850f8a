// Package catalog holds the embedded service profiles and loads, validates
// and overlays them with a user's own.
package catalog

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/model"
)

// compiled.json is the embedded catalog: the profiles of profiles/*.yaml
// (their source, which people edit) as Load reads and validates them, in
// JSON, which decodes in a sixth of the time the YAML takes to parse on
// every run. TestCompiled checks that it is exactly that, and rewrites it
// after a profile changes:
//
//	go test ./catalog -run TestCompiled -update
//
//go:embed compiled.json
var compiled []byte

// compiledProfile is one profile of compiled.json, by its file name.
type compiledProfile struct {
	File    string         `json:"file"`
	Service *model.Service `json:"service"`
}

//go:embed profile.schema.json
var schema []byte

// Schema returns the JSON Schema of a profile (draft 2020-12).
func Schema() []byte { return schema }

// Catalog is a set of services, in a stable order.
type Catalog struct {
	services []*model.Service
}

var (
	embeddedOnce sync.Once
	embeddedCat  *Catalog
	embeddedErr  error
)

// Embedded returns the catalog built into the binary.
func Embedded() (*Catalog, error) {
	embeddedOnce.Do(func() { embeddedCat, embeddedErr = loadEmbedded() })
	return embeddedCat, embeddedErr
}

func loadEmbedded() (*Catalog, error) {
	var ps []compiledProfile
	if err := json.Unmarshal(compiled, &ps); err != nil {
		return nil, fmt.Errorf("embedded catalog: %v", err)
	}
	c := &Catalog{}
	for _, p := range ps {
		p.Service.File = "embedded:" + p.File
		c.services = append(c.services, p.Service)
	}
	if err := c.checkSlugs(); err != nil {
		return nil, err
	}
	c.sort()
	return c, nil
}

// Open returns the embedded catalog overlaid with the profiles (*.yaml,
// *.yml) in dir: a profile whose slug is already there replaces it, a new
// slug is added. An empty dir means the embedded catalog alone.
func Open(dir string) (*Catalog, error) {
	base, err := Embedded()
	if err != nil || dir == "" {
		return base, err
	}
	files, err := ProfileFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("catalog %s: no *.yaml or *.yml profiles in it", dir)
	}
	c := &Catalog{services: append([]*model.Service(nil), base.services...)}
	var errs Errors
	seen := map[string]string{}
	for _, f := range files {
		svc, err := LoadFile(f)
		if err != nil {
			errs = append(errs, asErrors(f, err)...)
			continue
		}
		if prev, dup := seen[svc.Slug()]; dup {
			errs = append(errs, &Error{File: f, Field: "service.slug", Msg: fmt.Sprintf("slug %q is also the slug of %s", svc.Slug(), prev)})
			continue
		}
		seen[svc.Slug()] = f
		c.put(svc)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.sort()
	return c, nil
}

// ProfileFiles lists the profile files in dir, sorted.
func ProfileFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	var out []string
	for _, e := range ents {
		ext := filepath.Ext(e.Name())
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadFile reads and validates one profile: a regular file (symlinks
// followed), or standard input when path is "-". Devices, FIFOs and
// directories are refused before they are read, and no more than
// MaxProfileSize bytes are read.
func LoadFile(path string) (*model.Service, error) { return loadFile(path, os.Stdin) }

func loadFile(path string, stdin io.Reader) (*model.Service, error) {
	name := path
	if path == safeio.Stdin {
		name = "stdin"
	}
	data, err := safeio.ReadFile(path, MaxProfileSize, stdin)
	if safeio.IsTooLarge(err) {
		return nil, Errors{{File: name, Msg: fmt.Sprintf("profile is more than the %s a profile may have", safeio.Size(MaxProfileSize))}}
	}
	if err != nil {
		return nil, err
	}
	return Load(name, data)
}

// asErrors returns err as Errors, naming file when err does not.
func asErrors(file string, err error) Errors {
	if es, ok := err.(Errors); ok {
		return es
	}
	return Errors{{File: file, Msg: strings.TrimPrefix(err.Error(), file+": ")}}
}

func (c *Catalog) put(svc *model.Service) {
	for i, s := range c.services {
		if s.Slug() == svc.Slug() {
			c.services[i] = svc
			return
		}
	}
	c.services = append(c.services, svc)
}

func (c *Catalog) checkSlugs() error {
	seen := map[string]string{}
	var errs Errors
	for _, s := range c.services {
		if prev, dup := seen[s.Slug()]; dup {
			errs = append(errs, &Error{File: s.File, Field: "service.slug", Msg: fmt.Sprintf("slug %q is also the slug of %s", s.Slug(), prev)})
		}
		seen[s.Slug()] = s.File
	}
	return errs.err()
}

// sort orders services by their source document, then slug, so that the
// catalog lists them in the order the documents were collected.
func (c *Catalog) sort() {
	sort.SliceStable(c.services, func(i, j int) bool {
		a, b := c.services[i], c.services[j]
		if a.Info.Document != b.Info.Document {
			return a.Info.Document < b.Info.Document
		}
		return a.Slug() < b.Slug()
	})
}

// Services returns every service, in catalog order.
func (c *Catalog) Services() []*model.Service { return c.services }

// Get returns the service with that slug.
func (c *Catalog) Get(slug string) (*model.Service, error) {
	for _, s := range c.services {
		if s.Slug() == slug {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown service %q; the catalog has %s", slug, strings.Join(c.Slugs(), ", "))
}

// Select returns the named services in the order named; "all" names every one.
func (c *Catalog) Select(slugs []string) ([]*model.Service, error) {
	if len(slugs) == 1 && slugs[0] == "all" {
		return c.services, nil
	}
	var out []*model.Service
	seen := map[string]bool{}
	for _, slug := range slugs {
		s, err := c.Get(slug)
		if err != nil {
			return nil, err
		}
		if !seen[slug] {
			out = append(out, s)
			seen[slug] = true
		}
	}
	return out, nil
}

// Slugs returns the services' slugs in catalog order.
func (c *Catalog) Slugs() []string {
	out := make([]string, len(c.services))
	for i, s := range c.services {
		out[i] = s.Slug()
	}
	return out
}
