// Package opnsense is the OPNsense platform: target "opnsense" writes the
// config.xml areas Aliases (OPNsense.Firewall.Alias), Firewall Rules and
// NAT in one document that System > Configuration > Backups restores by
// area; the reader of format "opnsense" reads a config.xml back for the
// audit. What it shares with pfSense lives in package pfxml.
//
// No OPNsense runs here to validate the output: it is checked against
// OPNsense's documented forms and its source (the tests' grammar table),
// and read back by the reader.
package opnsense

import (
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/pfxml"
)

func init() {
	target.Register(&pfxml.Target{P: pfxml.OPNsense})
	ruleset.RegisterReader(pfxml.Reader(pfxml.OPNsense, false))
}
