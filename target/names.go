package target

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/spf13/pflag"
)

// ResolveNames is --resolve-names, which the targets of platforms that
// resolve names themselves (FortiGate, OPNsense, pfSense, RouterOS, ASA)
// share: write the addresses names resolve to here instead of the
// platform's own FQDN objects.
var ResolveNames bool

// ResolveNamesFlag adds --resolve-names to fs, bound to ResolveNames. The
// targets that take it call it from their Flags; their Resolves returns
// ResolveNames.
func ResolveNamesFlag(fs *pflag.FlagSet) {
	fs.BoolVar(&ResolveNames, "resolve-names", false,
		"write the addresses names resolve to (--hosts, DNS) instead of the platform's FQDN objects, which some providers advise against")
}

// ObjectName makes a stable, readable object name for platforms that
// name their objects ("portolan-starface-s1-sip-in"): the parts joined
// by "-", every character allowed refuses replaced by "-" (runs of them
// collapsed), at most max bytes. A name too long is cut and ends in "-"
// and 8 hex digits of a hash of the whole, so that long names stay
// distinct and a rerun gives the same name.
func ObjectName(max int, allowed func(r rune) bool, parts ...string) string {
	var b strings.Builder
	dash := false
	for i, p := range parts {
		if p == "" {
			continue
		}
		if i > 0 && b.Len() > 0 && !dash {
			b.WriteByte('-')
			dash = true
		}
		for _, r := range p {
			if r == '-' || !allowed(r) || r >= 0x80 {
				if !dash && b.Len() > 0 {
					b.WriteByte('-')
					dash = true
				}
				continue
			}
			b.WriteRune(r)
			dash = false
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) <= max {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:4])
	if max <= len(h) {
		return h[:max]
	}
	return strings.TrimRight(s[:max-len(h)-1], "-") + "-" + h
}
