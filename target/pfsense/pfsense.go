// Package pfsense is the pfSense platform: target "pfsense" writes the
// config.xml areas Aliases, Firewall Rules and NAT in one document that
// Diagnostics > Backup & Restore restores area by area; the reader of
// format "pfsense" reads a config.xml (or one area of it) back for the
// audit. What it shares with OPNsense lives in package pfxml.
//
// No pfSense runs here to validate the output: it is checked against
// pfSense's documented forms and its source (the tests' grammar table),
// and read back by the reader.
package pfsense

import (
	"github.com/portolan/portolan/audit/ruleset"
	"github.com/portolan/portolan/target"
	"github.com/portolan/portolan/target/pfxml"
)

func init() {
	target.Register(&pfxml.Target{P: pfxml.PfSense})
	ruleset.RegisterReader(pfxml.Reader(pfxml.PfSense, true))
}
