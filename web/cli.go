package web

import (
	"net/url"
	"slices"
	"strings"

	"github.com/portolan/portolan/model"
)

// cliArgs writes a form as the command line flags of "portolan rules" that
// give the same output: features (those that differ from the defaults),
// params, platforms, the site, the options and the target's own flags.
// The form has been parsed already, so every name in it is the service's.
func cliArgs(svc *model.Service, v url.Values, tname string, tflags map[string]string) []string {
	var args []string
	add := func(flag, val string) { args = append(args, "--"+flag+" "+shellQuote(val)) }
	if v.Get(fSel) == "1" {
		for _, f := range svc.Features {
			on := slices.Contains(v[fFeature], f.Name)
			switch {
			case on && !f.Default:
				add("feature", f.Name)
			case !on && f.Default:
				add("no-feature", f.Name)
			}
		}
	} else {
		for _, f := range v[fFeature] {
			if ft := svc.Feature(f); ft != nil && !ft.Default {
				add("feature", f)
			}
		}
	}
	for _, p := range svc.Params {
		if val := strings.TrimSpace(v.Get(fParam + p.Name)); val != "" {
			add("param", p.Name+"="+val)
		}
	}
	for _, p := range v[fPlatform] {
		add("platform", p)
	}
	if m := v.Get(fMode); m != "" && m != "gateway" {
		add("mode", m)
	}
	for _, f := range []string{fLANIf, fWANIf} {
		if val := strings.TrimSpace(v.Get(f)); val != "" {
			add(strings.ReplaceAll(f, "_", "-"), val)
		}
	}
	if lan := strings.Join(strings.FieldsFunc(v.Get(fLAN), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }), ","); lan != "" {
		add("lan", lan)
	}
	if v.Get(fAlt) == "all" {
		add("alternatives", "all")
	}
	if v.Get(fReqOnly) != "" {
		args = append(args, "--required-only")
	}
	if v.Get(fOptional) != "" {
		args = append(args, "--optional")
	}
	if v.Get(fChainOnly) != "" {
		args = append(args, "--chain-only")
		if t := strings.TrimSpace(v.Get(fTable)); t != "" {
			add("table", t)
		}
	}
	if tname != "" {
		add("target", tname)
	}
	names := make([]string, 0, len(tflags))
	for n := range tflags {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if tflags[n] == "true" {
			args = append(args, "--"+n)
			continue
		}
		add(n, tflags[n])
	}
	return args
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
