package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/target"
)

// FuzzForm: any query string, read as a service page's form for every
// service of the catalog, never panics; what it refuses is a form error
// naming the field, and what it accepts stays within the profile.
func FuzzForm(f *testing.F) {
	for _, s := range []string{
		"", "sel=1&feature=webrtc&param.company=acme", "param.company=a%20b", "feature=nope",
		"mode=host&lan=192.0.2.0/24,2001:db8::/32&lan_if=eth1&wan_if=eth0", "lan=::ffff:192.0.2.1&alternatives=all",
		"required_only=1&optional=1", "chain_only=1&table=inet%20filter", "chain_only=1&table=x",
		"check=udp,tcp&sample=50&endpoint=app.librestream.com", "check=nope", "sample=-1", "tf.zone=trusted&tf.selector=app%3Dx",
		"platform=ios&platform=web", "param.sbc_address=192.0.2.20&feature=sbc", "%zz", "lan=" + strings.Repeat("1", 2000),
	} {
		f.Add(s)
	}
	cat, err := catalog.Embedded()
	if err != nil {
		f.Fatal(err)
	}
	svcs := cat.Services()
	nft, _ := target.Lookup("nftables")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		check := func(what string, err error) {
			if err == nil {
				return
			}
			var fe *formError
			if !errors.As(err, &fe) || fe.field == "" || fe.msg == "" {
				t.Fatalf("%s(%q): %v is not a form error naming its field", what, raw, err)
			}
		}
		for _, svc := range svcs {
			sel, err := parseSelection(svc, v)
			check("parseSelection", err)
			if err == nil {
				for _, f := range append(sel.Features, sel.Without...) {
					if svc.Feature(f) == nil {
						t.Fatalf("%q: feature %q is not %s's", raw, f, svc.Slug())
					}
				}
			}
		}
		p, err := parsePlan(v)
		check("parsePlan", err)
		if err == nil && p.Options.RequiredOnly && p.Options.Optional {
			t.Fatalf("%q: required only and optional both", raw)
		}
		_, err = parseProbe(v)
		check("parseProbe", err)
		_, err = targetFlags(nft, v)
		check("targetFlags", err)
	})
}

// FuzzQuery: any search on the catalog page answers 200 with a page that
// is valid UTF-8 and never echoes markup unescaped.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"", "sip", "5060 udp", "<script>alert(1)</script>", "\xff\xfe", "LIBRESTREAM", strings.Repeat("a ", 3000)} {
		f.Add(s)
	}
	s, err := New(Options{Version: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, q string) {
		req := httptest.NewRequest(http.MethodGet, "/?q="+url.QueryEscape(q), nil)
		req.Host = "localhost"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		body := w.Body.String()
		if w.Code != 200 || !utf8.ValidString(body) || !strings.Contains(body, "services</p>") {
			t.Fatalf("q=%q: %d\n%s", q, w.Code, body[:min(len(body), 300)])
		}
		if strings.ContainsAny(q, `<"`) && strings.Contains(body, `value="`+strings.ToValidUTF8(q, "\uFFFD")+`"`) {
			t.Fatalf("q=%q echoed unescaped", q)
		}
	})
}

// FuzzAuth: an --auth file of any content is a user list, a token or an
// error; never a panic, never an Auth that accepts no credentials at all.
func FuzzAuth(f *testing.F) {
	f.Add("alice:$2y$05$abcdefghijklmnopqrstuu5Qf1yJ4Qk0Qw8J8dXfYwqv9cFxWlZK6\n")
	f.Add("0123456789abcdef0123\n")
	f.Add("# c\n\n:x\n")
	f.Fuzz(func(t *testing.T, data string) {
		a, err := ParseAuth("auth", []byte(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "auth: ") {
				t.Fatalf("%q: error %q does not name the file", data, err)
			}
			return
		}
		if a.token == nil && len(a.users) == 0 {
			t.Fatalf("%q: an Auth with nobody in it", data)
		}
		r := httptest.NewRequest("GET", "/", nil)
		if a.Check(r) {
			t.Fatalf("%q: a request without credentials passes", data)
		}
	})
}
