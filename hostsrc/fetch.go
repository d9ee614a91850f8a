package hostsrc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portolan/portolan/internal/atomicfile"
	"github.com/portolan/portolan/internal/safeio"
	"github.com/portolan/portolan/internal/textsafe"
	"github.com/portolan/portolan/model"
)

// MaxSize bounds a list, fetched or read (Microsoft's whole worldwide
// list is about 100 kB).
const MaxSize = 8 << 20

// DefaultTimeout bounds one fetch.
const DefaultTimeout = 30 * time.Second

// Options say where lists are cached and how they are fetched.
type Options struct {
	// CacheDir holds the last good copy of each list fetched by URL;
	// DefaultCacheDir when empty.
	CacheDir string
	// Dir is where a relative file: path is read from (the profile's
	// directory); the working directory when empty.
	Dir string
	// Client fetches; one with Timeout when nil.
	Client  *http.Client
	Timeout time.Duration
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// DefaultCacheDir is $XDG_CACHE_HOME/portolan/sources, or
// ~/.cache/portolan/sources.
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (%v): give --source-cache DIR", err)
	}
	return filepath.Join(d, "portolan", "sources"), nil
}

// List is a fetched list's addresses and where they come from.
type List struct {
	Origin   string // the URL (without its query) or the file
	Format   string
	Prefixes []netip.Prefix
	// Version is the list's own (m365's version method), or a digest of
	// its content: "sha256:0123456789ab".
	Version string
	Fetched time.Time // when it was fetched or read
	// Stale says why the list is a cached copy, not a fresh one: the
	// fetch failed.
	Stale string
}

// About says it in one line for comments: "source URL version V fetched
// 2026-12-03T16:00:00Z", and "(cached copy: …)" when the fetch failed.
func (l *List) About() string {
	s := fmt.Sprintf("source %s version %s fetched %s", l.Origin, l.Version, l.Fetched.UTC().Format(time.RFC3339))
	if l.Stale != "" {
		s += " (last good copy; the fetch failed)"
	}
	return s
}

// cached is a cache file: the raw list with its version and date.
type cached struct {
	URL     string    `json:"url"`
	Format  string    `json:"format"`
	Version string    `json:"version"`
	Fetched time.Time `json:"fetched"`
	Data    string    `json:"data"`
}

// Fetch gets the feed's list and returns its addresses. A list by URL is
// fetched and, when it reads well, cached; when the fetch or the list
// fails, the last good cached copy is used and a warning says so, with
// its date. Without a copy the error says why the fetch failed. Warnings
// are one line each.
func Fetch(ctx context.Context, f *model.Feed, opt Options) (*List, []string, error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	if f.File != "" {
		path := f.File
		if path == safeio.Stdin {
			return nil, nil, errors.New("feed file \"-\": a feed is read from a file, not standard input")
		}
		if !filepath.IsAbs(path) && opt.Dir != "" {
			path = filepath.Join(opt.Dir, path)
		}
		data, err := safeio.ReadFile(path, MaxSize, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("feed %s: %v", textsafe.Terminal(f.File), err)
		}
		l, err := parse(f, path, data, "", nil)
		if err != nil {
			return nil, nil, err
		}
		l.Fetched = now()
		if fi, err := os.Stat(path); err == nil {
			l.Fetched = fi.ModTime()
		}
		return l, nil, nil
	}
	dir := opt.CacheDir
	if dir == "" {
		var err error
		if dir, err = DefaultCacheDir(); err != nil {
			return nil, nil, err
		}
	}
	origin := redact(f.URL)
	cacheFile := filepath.Join(dir, cacheName(f))
	var warns []string
	data, version, err := fetchFeed(ctx, f, opt)
	var l *List
	if err == nil {
		if l, err = parse(f, origin, data, version, &warns); err == nil {
			l.Fetched = now().UTC()
			if werr := writeCache(cacheFile, f, l, data); werr != nil {
				warns = append(warns, fmt.Sprintf("feed %s: not cached: %v", origin, werr))
			}
			return l, warns, nil
		}
	}
	failed := err
	c, cerr := readCache(cacheFile, f)
	if cerr != nil {
		if !errors.Is(cerr, os.ErrNotExist) {
			warns = append(warns, fmt.Sprintf("feed %s: cached copy %s ignored: %v", origin, cacheFile, cerr))
		}
		return nil, warns, fmt.Errorf("%v; no good copy cached in %s", failed, dir)
	}
	l, err = parse(f, origin, []byte(c.Data), c.Version, nil)
	if err != nil {
		warns = append(warns, fmt.Sprintf("feed %s: cached copy %s ignored: %v", origin, cacheFile, err))
		return nil, warns, fmt.Errorf("%v; no good copy cached in %s", failed, dir)
	}
	l.Fetched, l.Stale = c.Fetched, oneLine(failed.Error())
	warns = append(warns, fmt.Sprintf("%s; using the last good copy, version %s fetched %s", l.Stale, l.Version, l.Fetched.UTC().Format(time.RFC3339)))
	return l, warns, nil
}

// parse reads data in the feed's format; version "" is the content's
// digest. warns, when not nil, takes what the list has that is odd.
func parse(f *model.Feed, name string, data []byte, version string, warns *[]string) (*List, error) {
	l := &List{Origin: name, Format: f.Format, Version: version}
	var err error
	switch f.Format {
	case model.FeedCIDR:
		l.Prefixes, err = ParseCIDRList(name, data)
		if err == nil && len(l.Prefixes) == 0 {
			err = fmt.Errorf("%s: the list holds no address", textsafe.Terminal(name))
		}
	case model.FeedM365:
		var sets []M365Set
		if sets, err = ParseM365(name, data); err == nil {
			l.Prefixes, err = M365Prefixes(name, sets, M365Filter{ServiceArea: f.ServiceArea, RequiredOnly: f.RequiredOnly, Category: f.Category})
		}
	default:
		err = fmt.Errorf("feed %s: unknown format %q", textsafe.Terminal(name), f.Format)
	}
	if err != nil {
		return nil, err
	}
	if l.Version == "" {
		sum := sha256.Sum256(data)
		l.Version = "sha256:" + hex.EncodeToString(sum[:6])
	}
	return l, nil
}

// fetchFeed gets the list and, for m365, its version: from version_url,
// or from the version method beside the endpoints method. A version that
// cannot be had is no failure: the content's digest stands for it.
// FetchM365 gets a Microsoft 365 endpoints list from its web service
// (with the clientrequestid it asks for), and its version from the version
// method beside it ("" when that does not answer); bounded in time and size.
func FetchM365(ctx context.Context, rawURL string, opt Options) ([]byte, string, error) {
	return fetchFeed(ctx, &model.Feed{Format: model.FeedM365, URL: rawURL}, opt)
}

func fetchFeed(ctx context.Context, f *model.Feed, opt Options) ([]byte, string, error) {
	u, err := url.Parse(f.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, "", fmt.Errorf("feed %s: not an http or https URL", textsafe.Terminal(f.URL))
	}
	if f.Format == model.FeedM365 {
		u = withRequestID(u)
	}
	data, err := get(ctx, u.String(), opt)
	if err != nil {
		return nil, "", err
	}
	if f.Format != model.FeedM365 {
		return data, "", nil
	}
	vu := f.VersionURL
	if vu == "" && strings.Contains(u.Path, "/endpoints/") {
		v := *u
		v.Path = strings.Replace(u.Path, "/endpoints/", "/version/", 1)
		vu = v.String()
	}
	if vu == "" {
		return data, "", nil
	}
	pv, err := url.Parse(vu)
	if err != nil {
		return data, "", nil
	}
	vdata, err := get(ctx, withRequestID(pv).String(), opt)
	if err != nil {
		return data, "", nil
	}
	v, err := M365Version(vdata)
	if err != nil {
		return data, "", nil
	}
	return data, v, nil
}

// get fetches addr, bounded in time and size; only 200 OK is a list.
func get(ctx context.Context, addr string, opt Options) ([]byte, error) {
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	client := opt.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return nil, fmt.Errorf("feed %s: %v", redact(addr), err)
	}
	req.Header.Set("User-Agent", "portolan")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("feed %s: %v", redact(addr), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("feed %s: %s", redact(addr), resp.Status)
	}
	data, err := io.ReadAll(safeio.Reader(resp.Body, redact(addr), MaxSize))
	if err != nil {
		return nil, fmt.Errorf("feed %s: %v", redact(addr), err)
	}
	return data, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// withRequestID adds the clientrequestid the Microsoft web service asks for.
func withRequestID(u *url.URL) *url.URL {
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "clientrequestid") {
			return u
		}
	}
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	q.Set("clientrequestid", fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
	v := *u
	v.RawQuery = q.Encode()
	return &v
}

// redact is a URL as messages and comments show it: no query, no user.
func redact(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		return textsafe.Terminal(u.Scheme + "://" + u.Host + u.Path)
	}
	return textsafe.Terminal(addr)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// cacheName is the cache file of a feed: a digest of its URL and format.
func cacheName(f *model.Feed) string {
	sum := sha256.Sum256([]byte(f.Format + "\x00" + f.URL))
	return hex.EncodeToString(sum[:12]) + ".json"
}

func writeCache(path string, f *model.Feed, l *List, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	c := cached{URL: f.URL, Format: f.Format, Version: l.Version, Fetched: l.Fetched, Data: string(data)}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(c)
	})
}

// readCache reads a feed's cache file; one of another feed, or that does
// not read, is an error.
func readCache(path string, f *model.Feed) (*cached, error) {
	data, err := safeio.ReadFile(path, 2*MaxSize, nil)
	if err != nil {
		return nil, err
	}
	var c cached
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("not a cache file: %v", err)
	}
	if c.URL != f.URL || c.Format != f.Format || c.Fetched.IsZero() {
		return nil, errors.New("not a cache file of this feed")
	}
	return &c, nil
}
