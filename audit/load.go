package audit

import (
	"fmt"

	"github.com/portolan/portolan/audit/iptsave"
	"github.com/portolan/portolan/audit/nftjson"
	"github.com/portolan/portolan/audit/ruleset"
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
	return "", false
}

// Load parses a ruleset in format (nft-json, iptables-save, or auto to
// detect it); name is the file name errors give.
func Load(name string, data []byte, format string) (*ruleset.Ruleset, error) {
	f := ruleset.Format(format)
	if format == "" || format == FormatAuto {
		var ok bool
		if f, ok = Detect(data); !ok {
			return nil, fmt.Errorf("%s: neither nft JSON (nft -j list ruleset) nor iptables-save output; pass --format", name)
		}
	}
	switch f {
	case ruleset.NftJSON:
		return nftjson.Parse(name, data)
	case ruleset.IptablesSave:
		return iptsave.Parse(name, data)
	}
	return nil, fmt.Errorf("--format %q: nft-json, iptables-save or auto", format)
}

// LoadDir reads a firewalld configuration directory (/etc/firewalld) over
// the stock one (/usr/lib/firewalld, when it is there).
func LoadDir(dir string) (*ruleset.Ruleset, error) {
	return firewalld.ReadRuleset(dir, firewalld.Defaults())
}
