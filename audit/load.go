package audit

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/portolan/portolan/audit/iptsave"
	"github.com/portolan/portolan/audit/nftjson"
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target/firewalld"
)

// Formats Load accepts.
const (
	FormatAuto = "auto"
)

// Detect tells the format of a ruleset from its first bytes.
func Detect(data []byte) (ruleset.Format, bool) {
	switch {
	case nftjson.Looks(data):
		return ruleset.NftJSON, true
	case iptsave.Looks(data):
		return ruleset.IptablesSave, true
	}
	for _, r := range ruleset.Readers() {
		if r.Looks(data) {
			return r.Format, true
		}
	}
	return "", false
}

// Formats lists what --format takes: auto, the Linux dumps, ipset save
// and the registered platform readers.
func Formats() []string {
	out := []string{FormatAuto, string(ruleset.NftJSON), string(ruleset.IptablesSave), FormatIpset}
	for _, r := range ruleset.Readers() {
		out = append(out, string(r.Format))
	}
	return out
}

// CheckFormat refuses a --format that no reader takes.
func CheckFormat(format string) error {
	for _, f := range Formats() {
		if format == f {
			return nil
		}
	}
	return fmt.Errorf("--format %q: one of %s", format, strings.Join(Formats(), ", "))
}

// Load parses a ruleset in format (nft-json, iptables-save, or auto to
// detect it); name is the file name errors give.
func Load(name string, data []byte, format string) (*ruleset.Ruleset, error) {
	f := ruleset.Format(format)
	if format == "" || format == FormatAuto {
		var ok bool
		if f, ok = Detect(data); !ok {
			var platforms []string
			for _, r := range ruleset.Readers() {
				platforms = append(platforms, string(r.Format))
			}
			more := ""
			if len(platforms) > 0 {
				more = ", nor a configuration of " + strings.Join(platforms, ", ")
			}
			return nil, fmt.Errorf("%s: neither nft JSON (nft -j list ruleset) nor iptables-save output%s; pass --format", name, more)
		}
	}
	switch f {
	case ruleset.NftJSON:
		return nftjson.Parse(name, data)
	case ruleset.IptablesSave:
		return iptsave.Parse(name, data)
	}
	if r, ok := ruleset.LookupReader(f); ok {
		return r.Parse(name, data)
	}
	return nil, CheckFormat(format)
}

// ResolveNames looks up the DNS names the ruleset's address objects hold
// (FortiGate fqdn, ASA fqdn, RouterOS address lists by name, pf host
// aliases) with r, as the catalog's names are (--hosts first), and binds
// their addresses. A name without an address stays an unknown condition;
// the returned notes say which, one line each.
func ResolveNames(ctx context.Context, rs *ruleset.Ruleset, r resolve.Resolver) []string {
	names := rs.Names()
	if len(names) == 0 || r == nil {
		return nil
	}
	addrs := map[string][]netip.Addr{}
	var notes []string
	for _, n := range names {
		ans, err := r.Lookup(ctx, n)
		if err != nil || len(ans.Addrs) == 0 {
			// Not resolved here is not "no address" on the firewall,
			// which asks its own DNS: the rules that use it stay unknown.
			why := "no address"
			if err != nil {
				why = err.Error()
			}
			notes = append(notes, fmt.Sprintf("name %s: %s; the rules that match it are unknown (pin it with --hosts)", n, why))
			continue
		}
		addrs[n] = ans.Addrs
	}
	rs.BindNames(addrs)
	rs.Notes = append(rs.Notes, notes...)
	return notes
}

// LoadDir reads a firewalld configuration directory (/etc/firewalld) over
// the stock one (/usr/lib/firewalld, when it is there).
func LoadDir(dir string) (*ruleset.Ruleset, error) {
	return firewalld.ReadRuleset(dir, firewalld.Defaults())
}
