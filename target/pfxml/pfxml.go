// Package pfxml is what the pfSense and OPNsense platforms share: both
// keep their firewall in config.xml and filter with pf, so one model
// serves the writer (aliases, filter rules, port-forward NAT rules and
// their linked filter rules, in the shape each product restores as a
// section backup) and the reader (a config.xml, or one section of it,
// turned into the audit's chains with pf's semantics).
//
// The products differ in the XML around the rules: pfSense keeps aliases
// in <aliases><alias> with space-separated <address> entries; OPNsense
// (since 20.1) in <OPNsense><Firewall><Alias><aliases><alias uuid=…> with
// newline-separated <content>. Filter rules (<filter><rule>) and NAT
// (<nat><rule>, <nat><outbound>) have the same shape in both.
//
// No validator of either product runs on Linux: the writer is checked
// against the products' documented forms and their own source (the
// grammar table in the tests cites both), and by reading its output back
// with the reader of this package (write → read → the plan's packet
// space).
package pfxml

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/portolan/portolan/target"
)

// Product is one of the two products.
type Product struct {
	// Name is what --target and --format take: "pfsense", "opnsense".
	Name string
	// Title is how the product writes its name: "pfSense".
	Title string
	// Root is the root element of its config.xml.
	Root string
}

// The products.
var (
	PfSense  = Product{Name: "pfsense", Title: "pfSense", Root: "pfsense"}
	OPNsense = Product{Name: "opnsense", Title: "OPNsense", Root: "opnsense"}
)

// MaxAliasName is the longest alias name both products take: pfSense's
// is_validaliasname wants fewer than 32 characters, OPNsense's
// AliasNameField at most 32 starting with a letter ("less than 32").
const MaxAliasName = 31

// MaxDescr is the longest description written on a rule: pf keeps 63
// bytes of a rule's label, where both products put the description.
const MaxDescr = 63

// aliasRune is what an alias name may hold in both products: letters,
// digits and "_" (no "-": pfSense refuses it, OPNsense too).
func aliasRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
}

// AliasName makes a stable alias name of parts: target.ObjectName's
// name, its "-" separators turned into "_", within MaxAliasName. The
// result starts with a letter when the first part does.
func AliasName(parts ...string) string {
	// ObjectName joins with "-" and may end a cut name in "-" + hash: the
	// same length, so swapping "-" for "_" keeps it within the limit.
	return strings.ReplaceAll(target.ObjectName(MaxAliasName, aliasRune, parts...), "-", "_")
}

// ValidAliasName reports whether s is an alias name both products take:
// a letter first, then letters, digits and "_", at most MaxAliasName.
func ValidAliasName(s string) bool {
	if s == "" || len(s) > MaxAliasName {
		return false
	}
	for i, r := range s {
		if !aliasRune(r) || i == 0 && !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// hash32 is a stable number of key.
func hash32(key string) uint32 {
	sum := sha256.Sum256([]byte(key))
	return binary.BigEndian.Uint32(sum[:4])
}

// Tracker is the stable tracker id of a rule: pf's ridentifier, a 32-bit
// number; both products number rules they make by the time of day
// (around 1.7e9 today), so these stay in 3e9..4e9, apart from them.
func Tracker(key string) uint64 {
	return 3_000_000_000 + uint64(hash32(key))%1_000_000_000
}

// AssociatedID is the stable id that links a port forward to its filter
// rule (the products make "nat_" and a unique id).
func AssociatedID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return fmt.Sprintf("nat_portolan_%x", sum[:6])
}

// UUID is a stable RFC 4122 form id of key (version 5 layout, from
// SHA-256): OPNsense names its model's items by uuid attributes.
func UUID(key string) string {
	s := sha256.Sum256([]byte("portolan " + key))
	s[6] = s[6]&0x0f | 0x50
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}
