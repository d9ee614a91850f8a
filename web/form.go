package web

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/policy"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

// Form field names. A service page's one form carries the selection
// (features, params, platforms), the site and options of rules and audit,
// the target and its own flags, and the probe's choices.
const (
	fSel       = "sel"     // "1": the features were chosen (else the defaults)
	fFeature   = "feature" // repeatable: a feature that is on
	fParam     = "param."  // param.NAME=VALUE
	fPlatform  = "platform"
	fMode      = "mode"
	fLANIf     = "lan_if"
	fWANIf     = "wan_if"
	fLAN       = "lan"
	fAlt       = "alternatives"
	fReqOnly   = "required_only"
	fOptional  = "optional"
	fChainOnly = "chain_only"
	fTable     = "table"
	fTarget    = "target"
	fTFlag     = "tf." // tf.NAME=VALUE: a flag of the chosen target
	fFormat    = "format"
	fWANAddr   = "wan_addr"
	fRuleset   = "ruleset" // pasted ruleset text
	fFile      = "ruleset_file"
	fCheck     = "check"
	fSample    = "sample"
	fEndpoint  = "endpoint"
	fCSRF      = "csrf"
	fQuery     = "q"
)

// maxValue bounds one form value but the ruleset; maxValues the values of
// one field.
const (
	maxValue  = 1024
	maxValues = 64
)

// formError is a bad form value: the field and what is wrong, for a 400.
type formError struct{ field, msg string }

func (e *formError) Error() string { return e.field + ": " + e.msg }

func bad(field, format string, args ...any) error {
	return &formError{field: field, msg: fmt.Sprintf(format, args...)}
}

// checkValues refuses values too long, too many or not UTF-8, before any
// of them is read.
func checkValues(v url.Values, skip ...string) error {
	if len(v) > 256 {
		return bad("form", "%d fields: at most 256", len(v))
	}
	for k, vals := range v {
		if !utf8.ValidString(k) || len(k) > 128 {
			return bad("form", "a field name is too long or not UTF-8")
		}
		if slices.Contains(skip, k) {
			continue
		}
		if k == "" {
			return bad("form", "a value without a field name")
		}
		if len(vals) > maxValues {
			return bad(k, "%d values: at most %d", len(vals), maxValues)
		}
		for _, s := range vals {
			if len(s) > maxValue {
				return bad(k, "%d bytes: at most %d", len(s), maxValue)
			}
			if !utf8.ValidString(s) {
				return bad(k, "not UTF-8")
			}
		}
	}
	return nil
}

// parseSelection reads which features, params and platforms of svc the
// form chose. Without sel=1 the features are the profile's defaults.
func parseSelection(svc *model.Service, v url.Values) (resolve.Selection, error) {
	var sel resolve.Selection
	if err := checkValues(v, fRuleset); err != nil {
		return sel, err
	}
	chosen := v.Get(fSel) == "1"
	on := map[string]bool{}
	for _, f := range v[fFeature] {
		if svc.Feature(f) == nil {
			return sel, bad(fFeature, "%s has no feature %q", svc.Slug(), f)
		}
		on[f] = true
	}
	if chosen {
		for _, f := range svc.Features {
			if on[f.Name] {
				sel.Features = append(sel.Features, f.Name)
			} else {
				sel.Without = append(sel.Without, f.Name)
			}
		}
	} else {
		for _, f := range svc.Features {
			if on[f.Name] {
				sel.Features = append(sel.Features, f.Name)
			}
		}
	}
	var names []string
	for k := range v {
		if strings.HasPrefix(k, fParam) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		name := strings.TrimPrefix(k, fParam)
		if svc.Param(name) == nil {
			return sel, bad(k, "%s has no param %q", svc.Slug(), name)
		}
		val := strings.TrimSpace(v.Get(k))
		if val == "" {
			continue
		}
		if strings.ContainsAny(val, "\r\n") {
			return sel, bad(k, "one line only")
		}
		sel.Params = append(sel.Params, name+"="+val)
	}
	for _, p := range v[fPlatform] {
		if svc.Platform(p) == nil {
			return sel, bad(fPlatform, "%s has no platform %q", svc.Slug(), p)
		}
		sel.Platforms = append(sel.Platforms, p)
	}
	return sel, nil
}

// plan is what rules and audit read of the form besides the selection:
// the site and the options, as the CLI's --mode, --lan-if, --wan-if,
// --lan, --alternatives, --required-only, --optional, --chain-only and
// --table give them.
type plan struct {
	Site    policy.Site
	Options target.Options
}

// parsePlan reads the site and options, checked as the CLI checks its
// flags.
func parsePlan(v url.Values) (plan, error) {
	var p plan
	if err := checkValues(v, fRuleset); err != nil {
		return p, err
	}
	mode := v.Get(fMode)
	if mode == "" {
		mode = string(policy.Gateway)
	}
	p.Site = policy.Site{Mode: policy.Mode(mode), LANIf: strings.TrimSpace(v.Get(fLANIf)), WANIf: strings.TrimSpace(v.Get(fWANIf))}
	for _, l := range strings.FieldsFunc(v.Get(fLAN), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		pfx, err := netip.ParsePrefix(l)
		if err != nil {
			a, aerr := netip.ParseAddr(l)
			if aerr != nil || a.Zone() != "" {
				return p, bad(fLAN, "%q: not a CIDR block such as 192.0.2.0/24", l)
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		p.Site.LAN = append(p.Site.LAN, model.UnmapPrefix(pfx))
	}
	if err := target.ValidateSite(p.Site); err != nil {
		return p, bad("site", "%v", err)
	}
	o := target.Options{ChainOnly: v.Get(fChainOnly) != "", Table: "inet filter"}
	if t := strings.TrimSpace(v.Get(fTable)); t != "" {
		o.Table = t
	}
	if o.ChainOnly {
		if _, _, err := target.ParseTable(o.Table); err != nil {
			return p, bad(fTable, "%v", err)
		}
	}
	o.RequiredOnly, o.Optional = v.Get(fReqOnly) != "", v.Get(fOptional) != ""
	switch v.Get(fAlt) {
	case "", "preferred":
	case "all":
		o.AllAlternatives = true
	default:
		return p, bad(fAlt, "%q: preferred or all", v.Get(fAlt))
	}
	if o.RequiredOnly && o.Optional {
		return p, bad(fReqOnly, "required only and optional exclude each other")
	}
	p.Options = o
	return p, nil
}

// targetFlags returns the target's own flags given in the form
// (tf.NAME=VALUE, empty values left out), refusing names the target does
// not have.
func targetFlags(t target.Target, v url.Values) (map[string]string, error) {
	known := map[string]bool{}
	for _, fl := range flagsOf(t) {
		known[fl.Name] = true
	}
	out := map[string]string{}
	for k, vals := range v {
		name, ok := strings.CutPrefix(k, fTFlag)
		if !ok || len(vals) == 0 {
			continue
		}
		if !known[name] {
			// Another target's flag left in the form by the browser: the
			// form shows every target's flags, only the chosen one's count.
			if !isTargetFlag(name) {
				return nil, bad(k, "no target has the flag --%s", name)
			}
			continue
		}
		if s := strings.TrimSpace(vals[len(vals)-1]); s != "" {
			out[name] = s
		}
	}
	return out, nil
}

func isTargetFlag(name string) bool {
	for _, t := range target.All() {
		for _, fl := range flagsOf(t) {
			if fl.Name == name {
				return true
			}
		}
	}
	return false
}

// probeForm is what the form asks of a probe run; the reflector, token,
// proxy and the highest rate are the server's (serve's flags), not the
// form's.
type probeForm struct {
	Checks    []string
	Sample    int
	Endpoints []string
}

// parseProbe reads the checks, the sample and the endpoints.
func parseProbe(v url.Values) (probeForm, error) {
	var p probeForm
	if err := checkValues(v, fRuleset); err != nil {
		return p, err
	}
	if len(v[fCheck]) > 0 {
		cs, err := probe.ParseChecks(v[fCheck])
		if err != nil {
			return p, bad(fCheck, "%v", err)
		}
		p.Checks = cs
	}
	if s := strings.TrimSpace(v.Get(fSample)); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 65535 {
			return p, bad(fSample, "%q: a number of ports from 0 (every port) to 65535", s)
		}
		p.Sample = n
	}
	for _, e := range strings.FieldsFunc(v.Get(fEndpoint), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		p.Endpoints = append(p.Endpoints, e)
	}
	if len(p.Endpoints) > maxValues {
		return p, bad(fEndpoint, "%d endpoints: at most %d", len(p.Endpoints), maxValues)
	}
	return p, nil
}

// searchQuery normalises the catalog's search: lower case, words.
func searchQuery(q string) []string {
	if len(q) > maxValue {
		q = q[:maxValue]
	}
	q = strings.ToValidUTF8(q, "")
	return strings.Fields(strings.ToLower(q))
}
