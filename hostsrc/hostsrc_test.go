package hostsrc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portolan/portolan/model"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestParseCIDRList(t *testing.T) {
	data, err := os.ReadFile("testdata/zoom.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseCIDRList("zoom.txt", data)
	if err != nil {
		t.Fatal(err)
	}
	want := prefixes(t, "198.51.100.0/24", "203.0.113.10/32", "203.0.113.64/26", "2001:db8:10::/48")
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseCIDRListErrors(t *testing.T) {
	tests := []struct{ name, list, want string }{
		{"not an address", "192.0.2.0/24\nzoom.example.com\n", `list.txt:2: "zoom.example.com" is not an address or CIDR block`},
		{"bad length", "# c\n\n192.0.2.0/33\n", `list.txt:3: "192.0.2.0/33" is not an address or CIDR block`},
		{"host bits", "192.0.2.1/24", `list.txt:1: "192.0.2.1/24" has host bits set (the block is 192.0.2.0/24)`},
		{"zone", "fe80::1%eth0", `list.txt:1: "fe80::1%eth0" has a zone`},
		{"mapped", "::ffff:192.0.2.1", `list.txt:1: "::ffff:192.0.2.1" is IPv4-mapped IPv6`},
		{"mapped block", "::ffff:192.0.2.0/120", `list.txt:1: "::ffff:192.0.2.0/120" is IPv4-mapped IPv6`},
		{"two on a line", "192.0.2.0/24 198.51.100.0/24", `list.txt:1: "192.0.2.0/24 198.51.100.0/24" is not`},
		{"control characters shown safely", "192.0.2.\x1b[31m", `list.txt:1: "192.0.2.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCIDRList("list.txt", []byte(tt.list))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("error carries an escape character: %q", err)
			}
		})
	}
}

func TestM365Prefixes(t *testing.T) {
	data, err := os.ReadFile("testdata/m365-endpoints.json")
	if err != nil {
		t.Fatal(err)
	}
	sets, err := ParseM365("endpoints.json", data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    M365Filter
		want []string
		err  string
	}{
		{"all", M365Filter{}, []string{"192.0.2.0/26", "192.0.2.128/25", "198.51.100.0/25", "203.0.113.0/26", "2001:db8:100::/48", "2001:db8:200::/48"}, ""},
		{"skype", M365Filter{ServiceArea: "skype"}, []string{"192.0.2.128/25", "198.51.100.0/25", "203.0.113.0/26", "2001:db8:100::/48", "2001:db8:200::/48"}, ""},
		{"skype required", M365Filter{ServiceArea: "Skype", RequiredOnly: true}, []string{"198.51.100.0/25", "203.0.113.0/26", "2001:db8:100::/48", "2001:db8:200::/48"}, ""},
		{"skype optimize", M365Filter{ServiceArea: "Skype", Category: []string{"Optimize"}}, []string{"198.51.100.0/25", "2001:db8:100::/48"}, ""},
		{"no such area", M365Filter{ServiceArea: "Yammer"}, nil, `no endpoint set for service area "Yammer"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := M365Prefixes("endpoints.json", sets, tt.f)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, prefixes(t, tt.want...)) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestM365Errors(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"not json", "<html>", "not the endpoints web service's JSON"},
		{"an object", `{"id": 1}`, "an array of endpoint sets"},
		{"bad block", `[{"id": 7, "serviceArea": "Skype", "ips": ["198.51.100.0/33"]}]`, `endpoint set 7: "198.51.100.0/33" is not an address or CIDR block`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sets, err := ParseM365("e.json", []byte(tt.json))
			if err == nil {
				_, err = M365Prefixes("e.json", sets, M365Filter{})
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// server serves the fixtures on loopback as the vendors publish them;
// down makes every request fail, broken serves a list that does not read.
type server struct {
	*httptest.Server
	down, broken atomic.Bool
	hits         atomic.Int32
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{}
	files := map[string]string{
		"/endpoints/worldwide": "testdata/m365-endpoints.json",
		"/version/worldwide":   "testdata/m365-version.json",
		"/ipranges/zoom.txt":   "testdata/zoom.txt",
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if s.broken.Load() {
			w.Write([]byte("<html>maintenance</html>\n"))
			return
		}
		if strings.Contains(r.URL.Path, "/endpoints/") || strings.Contains(r.URL.Path, "/version/") {
			if r.URL.Query().Get("clientrequestid") == "" {
				http.Error(w, "clientrequestid missing", http.StatusBadRequest)
				return
			}
		}
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFile(w, r, f)
	}))
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("test server on %s, not loopback", s.URL)
	}
	return s
}

func TestFetchCache(t *testing.T) {
	srv := newServer(t)
	clock := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	opt := Options{CacheDir: filepath.Join(t.TempDir(), "cache"), Timeout: 5 * time.Second, Now: func() time.Time { return clock }}
	m365 := &model.Feed{Format: model.FeedM365, URL: srv.URL + "/endpoints/worldwide", ServiceArea: "Skype", Category: []string{"Optimize"}}
	zoom := &model.Feed{Format: model.FeedCIDR, URL: srv.URL + "/ipranges/zoom.txt"}
	ctx := context.Background()

	// First fetch: fresh, version from the version method, cached.
	l, warns, err := Fetch(ctx, m365, opt)
	if err != nil || len(warns) > 0 {
		t.Fatalf("fetch: %v %v", err, warns)
	}
	if l.Version != "2026110100" || l.Stale != "" || !l.Fetched.Equal(clock) {
		t.Errorf("got version %q stale %q fetched %v", l.Version, l.Stale, l.Fetched)
	}
	if want := prefixes(t, "198.51.100.0/25", "2001:db8:100::/48"); !slices.Equal(l.Prefixes, want) {
		t.Errorf("prefixes %v, want %v", l.Prefixes, want)
	}
	wantAbout := "source " + srv.URL + "/endpoints/worldwide version 2026110100 fetched 2026-12-03T12:00:00Z"
	if l.About() != wantAbout {
		t.Errorf("About() = %q, want %q", l.About(), wantAbout)
	}
	zl, _, err := Fetch(ctx, zoom, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(zl.Version, "sha256:") || len(zl.Prefixes) != 4 {
		t.Errorf("zoom: version %q, %d prefixes", zl.Version, len(zl.Prefixes))
	}
	entries, _ := os.ReadDir(opt.CacheDir)
	if len(entries) != 2 {
		t.Fatalf("cache holds %d files, want 2", len(entries))
	}

	// The server fails: the cached copy, with a warning naming its date.
	clock = clock.Add(48 * time.Hour)
	for _, mode := range []string{"down", "broken"} {
		srv.down.Store(mode == "down")
		srv.broken.Store(mode == "broken")
		l2, warns, err := Fetch(ctx, m365, opt)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if !slices.Equal(l2.Prefixes, l.Prefixes) || l2.Version != "2026110100" || l2.Stale == "" {
			t.Errorf("%s: got %+v", mode, l2)
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "using the last good copy, version 2026110100 fetched 2026-12-03T12:00:00Z") {
			t.Errorf("%s: warnings %q", mode, warns)
		}
		if !strings.Contains(l2.About(), "fetched 2026-12-03T12:00:00Z (last good copy") {
			t.Errorf("%s: About() = %q", mode, l2.About())
		}
	}
	// A failed fetch leaves the cache as it was.
	srv.broken.Store(false)
	srv.down.Store(true)

	// A corrupt cache is ignored with a warning; with no good copy the
	// fetch's own failure is the error.
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(opt.CacheDir, e.Name()), []byte("{not json"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, warns, err = Fetch(ctx, zoom, opt)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "no good copy cached in "+opt.CacheDir) {
		t.Errorf("corrupt cache: err %v", err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "ignored: not a cache file") {
		t.Errorf("corrupt cache: warnings %q", warns)
	}

	// The server is back: the fresh list replaces the corrupt copy.
	srv.down.Store(false)
	if _, warns, err := Fetch(ctx, zoom, opt); err != nil || len(warns) > 0 {
		t.Fatalf("refetch: %v %v", err, warns)
	}
	srv.down.Store(true)
	if l, warns, err := Fetch(ctx, zoom, opt); err != nil || len(warns) != 1 || l.Stale == "" {
		t.Errorf("after refetch, server down: %v %v %+v", err, warns, l)
	}
}

func TestFetchNoCacheFails(t *testing.T) {
	srv := newServer(t)
	srv.Close() // nothing listens there any more
	opt := Options{CacheDir: t.TempDir(), Timeout: 5 * time.Second}
	_, _, err := Fetch(context.Background(), &model.Feed{Format: model.FeedCIDR, URL: srv.URL + "/ipranges/zoom.txt"}, opt)
	if err == nil || !strings.Contains(err.Error(), "feed "+srv.URL+"/ipranges/zoom.txt: ") || !strings.Contains(err.Error(), "no good copy cached") {
		t.Fatalf("got %v", err)
	}
}

func TestFetchFile(t *testing.T) {
	dir, _ := filepath.Abs("testdata")
	tests := []struct {
		name string
		feed model.Feed
		n    int
		err  string
	}{
		{"cidr", model.Feed{Format: model.FeedCIDR, File: "zoom.txt"}, 4, ""},
		{"m365", model.Feed{Format: model.FeedM365, File: "m365-endpoints.json", ServiceArea: "Exchange"}, 1, ""},
		{"wrong format", model.Feed{Format: model.FeedCIDR, File: "m365-endpoints.json"}, 0, `m365-endpoints.json:1: "[" is not an address`},
		{"missing", model.Feed{Format: model.FeedCIDR, File: "nope.txt"}, 0, "feed nope.txt: "},
		{"stdin", model.Feed{Format: model.FeedCIDR, File: "-"}, 0, "not standard input"},
		{"directory", model.Feed{Format: model.FeedCIDR, File: "."}, 0, "feed .: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, err := Fetch(context.Background(), &tt.feed, Options{Dir: dir, CacheDir: t.TempDir()})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Prefixes) != tt.n || l.Fetched.IsZero() || !strings.HasPrefix(l.Version, "sha256:") {
				t.Errorf("got %+v", l)
			}
		})
	}
}

func TestFetchTooLarge(t *testing.T) {
	big := strings.Repeat("192.0.2.1\n", MaxSize/10+1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(big)) }))
	defer srv.Close()
	_, _, err := Fetch(context.Background(), &model.Feed{Format: model.FeedCIDR, URL: srv.URL + "/big.txt"}, Options{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "big.txt") || !strings.Contains(err.Error(), "no good copy") {
		t.Fatalf("got %v", err)
	}
}

func FuzzCIDRList(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24\n# c\n2001:db8::/32 # x\n", "192.0.2.1", "::ffff:1.2.3.4", "1.2.3.4/33", "\r\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParseCIDRList("fuzz", data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		for i, p := range ps {
			if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				t.Fatalf("prefix %v is not one a firewall takes", p)
			}
			if i > 0 && ps[i-1] == p {
				t.Fatalf("duplicate %v", p)
			}
		}
	})
}
