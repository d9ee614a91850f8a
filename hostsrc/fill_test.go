package hostsrc

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/resolve"
)

// TestFill: a file feed is read beside the profile; a URL that fails with
// nothing cached is an error, or with keepFailed a warning and a Feed
// that says why; the same feed in two sets is fetched once.
func TestFill(t *testing.T) {
	srv := newServer(t)
	srv.down.Store(true)
	abs, _ := filepath.Abs("testdata/profile.yaml") // need not exist: its directory counts
	svc := &model.Service{
		Info: model.Info{Slug: "demo"},
		File: abs,
		Hosts: []model.HostSet{
			{Name: "zoom", Feed: &model.Feed{Format: model.FeedCIDR, File: "zoom.txt"}},
			{Name: "zoom-again", Feed: &model.Feed{Format: model.FeedCIDR, File: "zoom.txt"}},
			{Name: "gone", Feed: &model.Feed{Format: model.FeedCIDR, URL: srv.URL + "/ipranges/zoom.txt"}},
			{Name: "plain", Entries: []string{"192.0.2.1"}},
		},
	}
	opt := Options{CacheDir: t.TempDir(), Timeout: 5 * time.Second}
	c := &resolve.Choice{Service: svc}
	_, err := Fill(context.Background(), []*resolve.Choice{c}, opt, false)
	if err == nil || !strings.Contains(err.Error(), "demo host set gone: feed "+srv.URL+"/ipranges/zoom.txt: 503") || !strings.Contains(err.Error(), "pass --no-resolve") {
		t.Fatalf("got %v", err)
	}
	c = &resolve.Choice{Service: svc}
	hits := srv.hits.Load()
	warns, err := Fill(context.Background(), []*resolve.Choice{c}, opt, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "demo host set gone: ") || !strings.Contains(warns[0], "the set has no address from its feed") {
		t.Errorf("warnings %q", warns)
	}
	if n := srv.hits.Load() - hits; n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	for _, name := range []string{"zoom", "zoom-again"} {
		if f := c.Feed(name); f == nil || len(f.Prefixes) != 4 || !strings.HasPrefix(f.About, "source "+filepath.Join(filepath.Dir(abs), "zoom.txt")+" version sha256:") {
			t.Errorf("%s: %+v", name, f)
		}
	}
	if f := c.Feed("gone"); f == nil || f.Err == "" || len(f.Prefixes) > 0 {
		t.Errorf("gone: %+v", f)
	}
	if c.Feed("plain") != nil {
		t.Error("a set without a feed has one")
	}
}
