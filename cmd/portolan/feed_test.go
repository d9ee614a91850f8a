package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portolan/portolan/internal/netlab"
	"github.com/portolan/portolan/target/targettest"
)

// feedServer serves a plain CIDR list (its text settable) and the
// Microsoft 365 fixtures on loopback; down makes it answer 503.
type feedServer struct {
	*httptest.Server
	mu   sync.Mutex
	list string
	down bool
}

func newFeedServer(t *testing.T, list string) *feedServer {
	t.Helper()
	m365, err := os.ReadFile("../../hostsrc/testdata/m365-endpoints.json")
	if err != nil {
		t.Fatal(err)
	}
	s := &feedServer{list: list}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case s.down:
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case r.URL.Path == "/ipranges/media.txt":
			w.Write([]byte(s.list))
		case r.URL.Path == "/endpoints/worldwide":
			w.Write(m365)
		case r.URL.Path == "/version/worldwide":
			w.Write([]byte(`{"instance": "Worldwide", "latest": "2026110100"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("feed server on %s, not loopback", s.URL)
	}
	return s
}

func (s *feedServer) set(list string, down bool) {
	s.mu.Lock()
	s.list, s.down = list, down
	s.mu.Unlock()
}

// feedCatalog writes testdata/feeds with the server's URL in it.
func feedCatalog(t *testing.T, url string) string {
	t.Helper()
	src, err := os.ReadFile("testdata/feeds/feeddemo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "feeddemo.yaml"), []byte(strings.ReplaceAll(string(src), "http://feeds.example.com", url)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestRulesFeeds is a profile fed by published lists through rules and
// sync on a lab router: the lists' addresses fill the sets (nft accepts
// the ruleset, the kernel lets the LAN reach them and nothing beside),
// the comments carry each list's source, version and date; the list
// changes and sync refreshes the set in place; the server fails and the
// cached copy stands in, with a warning; with no copy either, rules
// fails, or with --no-resolve leaves the set without the list's addresses.
func TestRulesFeeds(t *testing.T) {
	l := netlab.New(t)
	srv := newFeedServer(t, "# relays\n203.0.113.64/27\n2001:db8:64::/48\n")
	cat := feedCatalog(t, srv.URL)
	cache := filepath.Join(t.TempDir(), "cache")
	// The profile has no names; sync, which has no --no-resolve, still
	// gets pins and an unused loopback DNS so that it could never ask the
	// machine's resolver.
	pins := writeFile(t, "pins", "203.0.113.250 unused.example.com\n")
	args := []string{"--catalog", cat, "rules", "feeddemo", "--no-resolve", "--source-cache", cache,
		"--lan-if", "lan0", "--wan-if", "wan0", "--lan", "192.0.2.0/24,2001:db8:1::/64"}

	out, errs, code := portolan(args...)
	if code != 0 {
		t.Fatalf("rules: exit %d: %s", code, errs)
	}
	flat := strings.ReplaceAll(out, "\n#   ", " ") // comments unwrapped
	for _, want := range []string{
		"# feed of feeddemo host set media: source " + srv.URL + "/ipranges/media.txt version sha256:",
		"# feed of feeddemo host set teams: source " + srv.URL + "/endpoints/worldwide version 2026110100 fetched ",
		"set feeddemo_media_v4 {", "203.0.113.64/27", "2001:db8:64::/48",
		// Skype, required, Optimize or Allow: sets 11 and 12, with the entry.
		"198.51.100.0/25", "203.0.113.0/26", "203.0.113.200", "2001:db8:100::/48", "2001:db8:200::/48",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("rules output lacks %q", want)
		}
	}
	for _, not := range []string{"192.0.2.128/25", "192.0.2.0/26"} { // Default category; Exchange
		if strings.Contains(out, not) {
			t.Errorf("rules output holds %s, which the feed's filter leaves out", not)
		}
	}
	if t.Failed() {
		t.Fatalf("output:\n%s", out)
	}
	// Other targets say the lists' sources in their header.
	ipt, errs, code := portolan(append(slices.Clone(args), "--target", "iptables")...)
	if code != 0 || !strings.Contains(strings.ReplaceAll(ipt, "\n#   ", " "), "# feed of feeddemo host set media: source "+srv.URL+"/ipranges/media.txt version sha256:") || !strings.Contains(ipt, "203.0.113.64/27") {
		t.Errorf("iptables: exit %d: %s\n%.2000s", code, errs, ipt)
	}
	if msg, err := l.Router.RunInput([]byte(out), "nft", "-c", "-f", "-"); err != nil {
		t.Fatalf("nft -c: %v\n%s", err, msg)
	}

	in := targettest.Probe{Proto: "udp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.70:8805")}
	moved := targettest.Probe{Proto: "udp", Src: netlab.LANHost, Dst: netip.MustParseAddrPort("203.0.113.100:8805")}
	rf := targettest.NewReferee(t, l, []targettest.Probe{in, moved})
	if err := l.Router.Nft(out); err != nil {
		t.Fatal(err)
	}
	send := func(p targettest.Probe, want bool) {
		t.Helper()
		if got, err := rf.Send(p); got != want || err != nil {
			t.Errorf("%s: passed=%v (%v), want %v", p, got, err, want)
		}
	}
	send(in, true)
	send(moved, false)

	// The audit fetches the feeds as rules does: the ruleset just loaded
	// allows every flow, the fed ones included (without the lists they
	// would be skipped, not allowed).
	js, err := l.Router.Run("nft", "-j", "list", "ruleset")
	if err != nil {
		t.Fatal(err)
	}
	rsFile := writeFile(t, "ruleset.json", js)
	aud, errs, code := portolan("--catalog", cat, "audit", "feeddemo", "--ruleset", rsFile, "--no-resolve", "--source-cache", cache,
		"--lan-if", "lan0", "--wan-if", "wan0", "--lan", "192.0.2.0/24,2001:db8:1::/64", "--output", "json")
	if code != 0 {
		t.Fatalf("audit: exit %d: %s\n%s", code, errs, aud)
	}
	var rep struct {
		Flows []struct{ Flow, Verdict string } `json:"flows"`
	}
	if err := json.Unmarshal([]byte(aud), &rep); err != nil {
		t.Fatal(err)
	}
	allowed := 0
	for _, f := range rep.Flows {
		if f.Verdict == "allowed" {
			allowed++
		} else {
			t.Errorf("audit: %s %s", f.Flow, f.Verdict)
		}
	}
	if allowed == 0 {
		t.Errorf("audit: no flow allowed: %s", aud)
	}

	// The vendor moves its relays: sync refreshes the set in place.
	saved := runNft
	runNft = func(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
		out, err := l.Router.RunInput(stdin, "nft", args...)
		return []byte(out), err
	}
	t.Cleanup(func() { runNft = saved })
	srv.set("203.0.113.96/27\n2001:db8:64::/48\n", false)
	syncArgs := []string{"--catalog", cat, "sync", "feeddemo", "--hosts", pins, "--dns", "127.0.0.1:9", "--source-cache", cache, "--lan-if", "lan0", "--wan-if", "wan0", "--lan", "192.0.2.0/24,2001:db8:1::/64"}
	_, errs, code = portolan(syncArgs...)
	if code != 0 || !strings.Contains(errs, "feeddemo_media_v4: 203.0.113.96/27 (+203.0.113.96/27 -203.0.113.64/27; source "+srv.URL+"/ipranges/media.txt version sha256:") {
		t.Fatalf("sync: exit %d\n%s", code, errs)
	}
	send(in, false)
	send(moved, true)

	// The server fails: the last good copy, with a warning and its date.
	srv.set("", true)
	out, errs, code = portolan(args...)
	if code != 0 || !strings.Contains(errs, "warning: feeddemo host set media: feed "+srv.URL+"/ipranges/media.txt: 503 Service Unavailable; using the last good copy, version sha256:") ||
		!strings.Contains(strings.ReplaceAll(out, "\n#   ", " "), "(last good copy; the fetch failed)") || !strings.Contains(out, "203.0.113.96/27") {
		t.Errorf("server down: exit %d\n%s\n%.2000s", code, errs, out)
	}
	// sync with the server down keeps the set as the cache has it.
	if _, errs, code = portolan(syncArgs...); code != 0 || !strings.Contains(errs, "using the last good copy") {
		t.Errorf("sync, server down: exit %d\n%s", code, errs)
	}
	send(moved, true)

	// No copy either: an error naming the list, or with --no-resolve the
	// set without it.
	if err := os.RemoveAll(cache); err != nil {
		t.Fatal(err)
	}
	strict := []string{"--catalog", cat, "rules", "feeddemo", "--hosts", pins, "--dns", "127.0.0.1:9", "--source-cache", cache, "--lan", "192.0.2.0/24"}
	out, errs, code = portolan(strict...)
	if code != 2 || out != "" || !strings.Contains(errs, "feeddemo host set media: feed "+srv.URL+"/ipranges/media.txt: 503 Service Unavailable; no good copy cached in "+cache+" (pass --no-resolve") {
		t.Errorf("no copy: exit %d, want 2\n%s", code, errs)
	}
	out, errs, code = portolan(args...)
	if code != 0 || !strings.Contains(errs, "the set has no address from its feed") || !strings.Contains(strings.ReplaceAll(out, "\n#   ", " "), "# feed of feeddemo host set media: no address: ") ||
		strings.Contains(out, "203.0.113.96/27") || !strings.Contains(out, "203.0.113.200") {
		t.Errorf("no copy, --no-resolve: exit %d\n%s\n%.3000s", code, errs, out)
	}
	// sync refuses to empty a set whose list cannot be had.
	if _, errs, code = portolan(syncArgs...); code != 1 || !strings.Contains(errs, "feeddemo_teams_v4: its feed gave no address now") {
		t.Errorf("sync, no list: exit %d, want 1\n%s", code, errs)
	}
	send(moved, true)
}

// TestShowFeed: show names a fed host set and its list, fetching nothing.
func TestShowFeed(t *testing.T) {
	out, errs, code := portolan("--catalog", "testdata/feeds", "show", "feeddemo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"client  <media>  required",
		"feed: cidr list http://feeds.example.com/ipranges/media.txt; rules and sync fetch it",
		"203.0.113.200, feed: m365 list http://feeds.example.com/endpoints/worldwide (service area Skype, required only true, categories Optimize, Allow)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
}
