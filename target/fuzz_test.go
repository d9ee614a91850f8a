package target_test

import (
	"bytes"
	"context"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/internal/testenv"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/targettest"

	_ "github.com/portolan/portolan/target/domains"
	_ "github.com/portolan/portolan/target/iptables"
	_ "github.com/portolan/portolan/target/nftables"
	_ "github.com/portolan/portolan/target/squid"
)

// hashResolver gives every name a documentation address of each family
// (or none, for names whose hash says so), without asking anyone.
type hashResolver struct{}

func (hashResolver) Lookup(_ context.Context, name string) (resolve.Answer, error) {
	h := fnv.New32a()
	h.Write([]byte(name))
	n := h.Sum32()
	if n%7 == 0 {
		return resolve.Answer{}, &resolve.NotFoundError{Name: name, Where: "hash"}
	}
	a := resolve.Answer{At: time.Unix(0, 0), TTL: time.Duration(n%600) * time.Second, Source: "hash"}
	a.Addrs = append(a.Addrs, netip.AddrFrom4([4]byte{203, 0, 113, byte(n)}))
	if n%3 != 0 {
		a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 3, 15: byte(n)}))
	}
	return a, nil
}

// lineOK says whether a line of a target's output may stand there.
func lineOK(tname, line string) bool {
	if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' }) {
		return false
	}
	l := strings.TrimSpace(line)
	if l == "" || strings.HasPrefix(l, "#") {
		return true
	}
	switch tname {
	case "nftables":
		return strings.Count(l, `"`)%2 == 0
	case "iptables", "ip6tables":
		for _, p := range []string{"*filter", "*nat", ":", "-A ", "-F ", "COMMIT"} {
			if strings.HasPrefix(l, p) {
				return strings.Count(l, `"`)%2 == 0
			}
		}
		return false
	case "squid":
		return strings.HasPrefix(l, "acl ") || strings.HasPrefix(l, "http_access ") || strings.HasPrefix(l, "ssl_bump ")
	case "domains":
		e, err := model.ParseEntry(l)
		return err == nil && (e.Kind == model.EntryName || e.Kind == model.EntryWildcard)
	}
	return false
}

// FuzzGenerate feeds profiles to every target: a profile the catalog
// accepts must give each target output without an error or a panic, and
// every line must be one the platform reads (no string broken open by a
// profile's text).
func FuzzGenerate(f *testing.F) {
	dir := filepath.Join(testenv.RepoRoot(f), "catalog", "profiles")
	ents, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		svc, err := catalog.Load("fuzz.yaml", data)
		if err != nil {
			return
		}
		cs, err := resolve.Choose([]*model.Service{svc}, resolve.Selection{AllFeatures: true, Params: targettest.ExampleParams(svc)})
		if err != nil {
			return
		}
		for _, site := range []policy.Site{targettest.Site, {Mode: policy.Host}} {
			for _, chainOnly := range []bool{false, true} {
				in, err := target.Prepare(context.Background(), target.Config{
					Choices: cs, Resolver: hashResolver{}, AllowUnresolved: true, Site: site,
					Options: target.Options{Options: policy.Options{Optional: true}, ChainOnly: chainOnly, Table: "inet filter"},
				})
				if err != nil {
					return // a param without example, an inbound flow without address…
				}
				for _, tg := range target.All() {
					var b bytes.Buffer
					if _, err := tg.Write(&b, in); err != nil {
						t.Fatalf("%s: %v", tg.Name(), err)
					}
					for _, line := range strings.Split(b.String(), "\n") {
						if !lineOK(tg.Name(), line) {
							t.Fatalf("%s writes a line it cannot read: %q", tg.Name(), line)
						}
					}
				}
			}
		}
	})
}
