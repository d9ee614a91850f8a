package windows_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go4.org/netipx"

	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/target/windows"
)

// This file is a strict reader of the PowerShell subset the windows
// target writes, and the table of every cmdlet and parameter it uses with
// Microsoft's documented form. No pwsh runs here (Debian has none), so
// the table is the referee: a parameter the table does not hold, a value
// outside its documented form, a cmdlet it does not know, is an error.
//
// The subset, one statement a line:
//
//	# comment                                   (a line comment: '#' to the end of the line)
//	$ErrorActionPreference = 'Stop'
//	Cmdlet-Name -Param VALUE -Param VALUE …     (one space between tokens)
//
// where VALUE is a bare word of letters and digits (an enum value), $true
// or $false, or single-quoted strings separated by commas ('a','b') in
// which '' stands for one quote. No backtick, no line continuation, no
// double quotes, no pipes, no semicolons, no subexpressions, no block
// comments outside strings and comments (the tokens allow none of them);
// no typographic single quotes in a string (PowerShell reads
// U+2018-U+201B as '), no control characters anywhere.

// Documentation addresses, each checked against Microsoft's pages.
const (
	docNewRule     = "https://learn.microsoft.com/en-us/powershell/module/netsecurity/new-netfirewallrule"
	docRemoveRule  = "https://learn.microsoft.com/en-us/powershell/module/netsecurity/remove-netfirewallrule"
	docNewKeyword  = "https://learn.microsoft.com/en-us/powershell/module/netsecurity/new-netfirewalldynamickeywordaddress"
	docRemoveKW    = "https://learn.microsoft.com/en-us/powershell/module/netsecurity/remove-netfirewalldynamickeywordaddress"
	docRemoteAddrs = "https://learn.microsoft.com/en-us/windows/win32/api/netfw/nf-netfw-inetfwrule-get_remoteaddresses"
	docKeywords    = "https://learn.microsoft.com/en-us/windows/win32/ics/firewall-dynamic-keywords"
	docCommon      = "https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_commonparameters"
	docPreference  = "https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_preference_variables"
	docQuoting     = "https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_quoting_rules"
	docComments    = "https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_comments"
)

// SyntaxDocs are the pages for the subset's syntax outside the cmdlets.
var SyntaxDocs = map[string]string{
	"'…' is verbatim; '' is one quote; typographic quotes are quotes":    docQuoting,
	"$ErrorActionPreference = 'Stop' ends the script at the first error": docPreference,
	"# starts a comment to the end of the line":                          docComments,
}

// value is one parameter's value as written.
type value struct {
	word string   // a bare word, or "$true"/"$false"
	strs []string // quoted strings
}

func (v value) String() string {
	if v.strs != nil {
		return strings.Join(v.strs, ",")
	}
	return v.word
}

// param is one documented parameter of a cmdlet.
type param struct {
	cmdlet, name string
	form         string // the documented type and values
	doc          string // the page that documents it
	mandatory    bool
	check        func(v value) error
}

var (
	directions  = []string{"Inbound", "Outbound"}
	actions     = []string{"NotConfigured", "Allow", "Block"}
	profiles    = []string{"Any", "Domain", "Private", "Public", "NotApplicable"}
	errActions  = []string{"SilentlyContinue", "Stop", "Continue", "Ignore", "Inquire"}
	addrKWs     = []string{"Any", "LocalSubnet", "DNS", "DHCP", "WINS", "DefaultGateway", "Internet", "Intranet", "IntranetRemoteAccess", "PlayToDevice"}
	guidBracket = regexp.MustCompile(`^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$`)
	fqdn        = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

func oneOf(allowed []string) func(value) error {
	return func(v value) error {
		if v.strs != nil || !slices.Contains(allowed, v.word) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
		}
		return nil
	}
}

func str(max int) func(value) error {
	return func(v value) error {
		if len(v.strs) != 1 {
			return fmt.Errorf("%q: one quoted string", v)
		}
		if max > 0 && len(v.strs[0]) > max {
			return fmt.Errorf("%d bytes, more than %d", len(v.strs[0]), max)
		}
		return nil
	}
}

func strs(each func(string) error) func(value) error {
	return func(v value) error {
		if len(v.strs) == 0 {
			return fmt.Errorf("%q: quoted strings", v)
		}
		for _, s := range v.strs {
			if err := each(s); err != nil {
				return err
			}
		}
		return nil
	}
}

func boolean(v value) error {
	if v.word != "$true" && v.word != "$false" {
		return fmt.Errorf("%q: $true or $false", v)
	}
	return nil
}

// port is a port number or an inclusive range "lo-hi" (the documented
// keywords such as RPC are not written by portolan).
func port(s string) error {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || lo != strconv.FormatUint(a, 10) {
		return fmt.Errorf("port %q", s)
	}
	if isRange {
		b, err := strconv.ParseUint(hi, 10, 16)
		if err != nil || hi != strconv.FormatUint(b, 10) || b < a {
			return fmt.Errorf("port range %q", s)
		}
	}
	return nil
}

// address is an IPv4 or IPv6 address, a prefix by bit count, a range
// "start-end" with no spaces, or one of keywords.
func address(keywords []string) func(string) error {
	return func(s string) error {
		if slices.Contains(keywords, s) {
			return nil
		}
		_, err := parseAddr(s)
		return err
	}
}

// parseAddr reads one address entry as an IP range.
func parseAddr(s string) (netipx.IPRange, error) {
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		r, err := netipx.ParseIPRange(lo + "-" + hi)
		if err != nil || !r.IsValid() {
			return netipx.IPRange{}, fmt.Errorf("address range %q", s)
		}
		return r, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Masked() != p {
			return netipx.IPRange{}, fmt.Errorf("subnet %q", s)
		}
		return netipx.RangeOfPrefix(p), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4In6() {
		return netipx.IPRange{}, fmt.Errorf("address %q", s)
	}
	return netipx.IPRangeFrom(a, a), nil
}

// Docs is every parameter the windows target writes, with the form
// Microsoft documents for it and the page that says so.
var Docs = []param{
	{"New-NetFirewallRule", "Name", "String; the rule's unique name (a GUID when not given); unique in the policy store", docNewRule, false, str(0)},
	{"New-NetFirewallRule", "DisplayName", "String, mandatory: the name shown in the UI", docNewRule, true, str(0)},
	{"New-NetFirewallRule", "Description", "String: the rule's description", docNewRule, false, str(windows.DescriptionMax)},
	{"New-NetFirewallRule", "Group", "String: the group the rule belongs to, which Remove-NetFirewallRule -Group removes", docNewRule, false, str(0)},
	{"New-NetFirewallRule", "Direction", "Direction: Inbound (default) | Outbound", docNewRule, false, oneOf(directions)},
	{"New-NetFirewallRule", "Action", "Action: NotConfigured | Allow (default) | Block", docNewRule, false, oneOf(actions)},
	{"New-NetFirewallRule", "Profile", "Profile: Any (default) | Domain | Private | Public | NotApplicable", docNewRule, false, oneOf(profiles)},
	{"New-NetFirewallRule", "Protocol", "String: TCP | UDP | ICMPv4 | ICMPv6 | a number 0-255 | Any", docNewRule, false, func(v value) error {
		if v.strs == nil && (v.word == "TCP" || v.word == "UDP") {
			return nil
		}
		return fmt.Errorf("protocol %q: portolan writes TCP or UDP", v)
	}},
	{"New-NetFirewallRule", "LocalPort", "String[]: port numbers, ranges \"lo-hi\" or keywords; needs -Protocol TCP or UDP", docNewRule, false, strs(port)},
	{"New-NetFirewallRule", "RemotePort", "String[]: port numbers, ranges \"lo-hi\" or keywords; needs -Protocol TCP or UDP", docNewRule, false, strs(port)},
	{"New-NetFirewallRule", "LocalAddress", "String[]: IPv4/IPv6 addresses, subnets (prefix length or mask), ranges \"start-end\" with no spaces, or Any", docNewRule + " " + docRemoteAddrs, false, strs(address([]string{"Any"}))},
	{"New-NetFirewallRule", "RemoteAddress", "String[]: IPv4/IPv6 addresses, subnets, ranges \"start-end\" with no spaces, or keywords Any, LocalSubnet, DNS, DHCP, WINS, DefaultGateway, Internet, Intranet, IntranetRemoteAccess, PlayToDevice", docNewRule + " " + docRemoteAddrs, false, strs(address(addrKWs))},
	{"New-NetFirewallRule", "RemoteDynamicKeywordAddresses", "String[]: ids of dynamic keyword addresses, \"{GUID}\" with braces", docNewRule + " " + docNewKeyword, false, strs(func(s string) error {
		if !guidBracket.MatchString(s) {
			return fmt.Errorf("keyword id %q: {GUID}", s)
		}
		return nil
	})},
	{"Remove-NetFirewallRule", "Group", "String[] (parameter set ByQuery): removes the rules of the groups", docRemoveRule, true, strs(func(string) error { return nil })},
	{"Remove-NetFirewallRule", "ErrorAction", "ActionPreference, a common parameter: SilentlyContinue when the group does not exist yet", docCommon, false, oneOf(errActions)},
	{"New-NetFirewallDynamicKeywordAddress", "Id", "String: a GUID in braces, required", docNewKeyword, true, str(0)},
	{"New-NetFirewallDynamicKeywordAddress", "Keyword", "String: with -AutoResolve $true, a resolvable name (FQDN or host name)", docNewKeyword + " " + docKeywords, true, func(v value) error {
		if err := str(0)(v); err != nil {
			return err
		}
		if !fqdn.MatchString(v.strs[0]) {
			return fmt.Errorf("keyword %q is not a DNS name", v.strs[0])
		}
		return nil
	}},
	{"New-NetFirewallDynamicKeywordAddress", "AutoResolve", "Boolean: $true, and then no -Addresses; a component outside the firewall service fills in the addresses", docNewKeyword + " " + docKeywords, true, boolean},
	{"Remove-NetFirewallDynamicKeywordAddress", "Id", "String[] (parameter set ById): \"{GUID}\" with braces", docRemoveKW, true, str(0)},
	{"Remove-NetFirewallDynamicKeywordAddress", "ErrorAction", "ActionPreference, a common parameter", docCommon, false, oneOf(errActions)},
}

// Rule is one New-NetFirewallRule, decoded.
type Rule struct {
	Name, DisplayName, Description, Group     string
	Direction, Action, Profile, Protocol      string
	LocalPort, RemotePort                     []string
	LocalAddress, RemoteAddress, KeywordAddrs []string
}

// KeywordAddress is one New-NetFirewallDynamicKeywordAddress.
type KeywordAddress struct {
	ID, Keyword string
	AutoResolve bool
}

// Script is a script, decoded.
type Script struct {
	Preference      string
	RemovedGroups   []string
	RemovedKeywords []string
	Keywords        []KeywordAddress
	Rules           []Rule
}

// Parse reads a script strictly.
func Parse(text string) (*Script, error) {
	s := &Script{}
	names := map[string]bool{}
	for i, l := range strings.Split(text, "\n") {
		n := i + 1
		if err := s.line(l, names); err != nil {
			return nil, fmt.Errorf("line %d: %v: %q", n, err, l)
		}
	}
	if s.Preference != "Stop" {
		return nil, fmt.Errorf("no $ErrorActionPreference = 'Stop': a failing rule would not stop the script")
	}
	return s, nil
}

func (s *Script) line(l string, names map[string]bool) error {
	for _, r := range l {
		// PowerShell ends a line, and so a comment, at CR too.
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			return fmt.Errorf("character %U outside the subset", r)
		}
	}
	switch {
	case l == "":
		return nil
	case strings.HasPrefix(l, "#"):
		return nil
	case strings.HasPrefix(l, "$ErrorActionPreference"):
		if l != "$ErrorActionPreference = 'Stop'" || s.Preference != "" {
			return fmt.Errorf("only one $ErrorActionPreference = 'Stop'")
		}
		s.Preference = "Stop"
		return nil
	}
	if s.Preference == "" {
		return fmt.Errorf("a command before $ErrorActionPreference = 'Stop'")
	}
	cmdlet, rest, _ := strings.Cut(l, " ")
	params, err := tokenize(rest)
	if err != nil {
		return err
	}
	got := map[string]value{}
	var order []string
	for _, p := range params {
		d := doc(cmdlet, p.name)
		if d == nil {
			if !slices.ContainsFunc(Docs, func(d param) bool { return d.cmdlet == cmdlet }) {
				return fmt.Errorf("unknown cmdlet %s", cmdlet)
			}
			return fmt.Errorf("%s: unknown parameter -%s", cmdlet, p.name)
		}
		if _, dup := got[p.name]; dup {
			return fmt.Errorf("%s: -%s twice", cmdlet, p.name)
		}
		if err := d.check(p.v); err != nil {
			return fmt.Errorf("%s -%s: %v (documented: %s, %s)", cmdlet, p.name, err, d.form, d.doc)
		}
		got[p.name] = p.v
		order = append(order, p.name)
	}
	for _, d := range Docs {
		if d.cmdlet == cmdlet && d.mandatory {
			if _, ok := got[d.name]; !ok {
				return fmt.Errorf("%s: -%s missing", cmdlet, d.name)
			}
		}
	}
	one := func(k string) string {
		if v, ok := got[k]; ok {
			if v.strs != nil {
				return v.strs[0]
			}
			return v.word
		}
		return ""
	}
	switch cmdlet {
	case "Remove-NetFirewallRule":
		if len(got["Group"].strs) != 1 || one("ErrorAction") != "SilentlyContinue" {
			return fmt.Errorf("Remove-NetFirewallRule: one -Group, -ErrorAction SilentlyContinue")
		}
		s.RemovedGroups = append(s.RemovedGroups, one("Group"))
	case "Remove-NetFirewallDynamicKeywordAddress":
		if !guidBracket.MatchString(one("Id")) || one("ErrorAction") != "SilentlyContinue" {
			return fmt.Errorf("Remove-NetFirewallDynamicKeywordAddress: -Id {GUID} -ErrorAction SilentlyContinue")
		}
		s.RemovedKeywords = append(s.RemovedKeywords, one("Id"))
	case "New-NetFirewallDynamicKeywordAddress":
		k := KeywordAddress{ID: one("Id"), Keyword: one("Keyword"), AutoResolve: one("AutoResolve") == "$true"}
		if !guidBracket.MatchString(k.ID) {
			return fmt.Errorf("-Id %q: the braces are required", k.ID)
		}
		if !k.AutoResolve {
			return fmt.Errorf("a keyword without -AutoResolve $true and without -Addresses holds nothing")
		}
		if !slices.Contains(s.RemovedKeywords, k.ID) {
			return fmt.Errorf("keyword %s is not removed first: running the script again would fail (ERROR_ALREADY_EXISTS)", k.ID)
		}
		if slices.ContainsFunc(s.Keywords, func(o KeywordAddress) bool { return o.ID == k.ID }) {
			return fmt.Errorf("keyword %s twice", k.ID)
		}
		s.Keywords = append(s.Keywords, k)
	case "New-NetFirewallRule":
		r := Rule{Name: one("Name"), DisplayName: one("DisplayName"), Description: one("Description"), Group: one("Group"),
			Direction: one("Direction"), Action: one("Action"), Profile: one("Profile"), Protocol: one("Protocol"),
			LocalPort: got["LocalPort"].strs, RemotePort: got["RemotePort"].strs,
			LocalAddress: got["LocalAddress"].strs, RemoteAddress: got["RemoteAddress"].strs, KeywordAddrs: got["RemoteDynamicKeywordAddresses"].strs}
		if r.Name == "" || names[r.Name] {
			return fmt.Errorf("-Name %q: empty or not unique", r.Name)
		}
		names[r.Name] = true
		if r.Group == "" || !slices.Contains(s.RemovedGroups, r.Group) {
			return fmt.Errorf("-Group %q: every rule is in a group the script removes first", r.Group)
		}
		if r.Direction == "" || r.Action != "Allow" || r.Protocol == "" {
			return fmt.Errorf("-Direction, -Action Allow and -Protocol are written on every rule")
		}
		for _, id := range r.KeywordAddrs {
			if !slices.ContainsFunc(s.Keywords, func(k KeywordAddress) bool { return k.ID == id }) {
				return fmt.Errorf("keyword %s is not created before the rule", id)
			}
		}
		s.Rules = append(s.Rules, r)
	default:
		return fmt.Errorf("unknown cmdlet %s", cmdlet)
	}
	_ = order
	return nil
}

func doc(cmdlet, name string) *param {
	for i := range Docs {
		if Docs[i].cmdlet == cmdlet && Docs[i].name == name {
			return &Docs[i]
		}
	}
	return nil
}

type token struct {
	name string
	v    value
}

var (
	paramRE = regexp.MustCompile(`^-[A-Za-z]+$`)
	wordRE  = regexp.MustCompile(`^(\$true|\$false|[A-Za-z0-9]+)$`)
)

// tokenize reads "-Param VALUE -Param VALUE …", one space apart.
func tokenize(s string) ([]token, error) {
	var out []token
	for s != "" {
		p, rest, ok := strings.Cut(s, " ")
		if !ok || !paramRE.MatchString(p) {
			return nil, fmt.Errorf("%q: a parameter and a value", s)
		}
		var v value
		if strings.HasPrefix(rest, "'") {
			var err error
			v.strs, rest, err = quotedList(rest)
			if err != nil {
				return nil, err
			}
		} else {
			v.word, rest, _ = strings.Cut(rest, " ")
			if !wordRE.MatchString(v.word) {
				return nil, fmt.Errorf("value %q outside the subset", v.word)
			}
			if rest != "" {
				rest = " " + rest
			}
		}
		out = append(out, token{p[1:], v})
		if rest == "" {
			break
		}
		if !strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "  ") {
			return nil, fmt.Errorf("%q: one space between tokens", rest)
		}
		s = rest[1:]
	}
	return out, nil
}

// quotedList reads 'a','b”c' and returns the strings and what follows.
func quotedList(s string) ([]string, string, error) {
	var out []string
	for {
		v, rest, err := QuotedString(s)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
		if !strings.HasPrefix(rest, ",") {
			return out, rest, nil
		}
		s = rest[1:]
	}
}

// QuotedString reads one single-quoted string at the start of s: ”
// is one quote; a typographic single quote (U+2018-U+201B), which
// PowerShell reads as ', is outside the subset.
func QuotedString(s string) (string, string, error) {
	if !strings.HasPrefix(s, "'") {
		return "", "", fmt.Errorf("%q: a single-quoted string", s)
	}
	var b strings.Builder
	rs := []rune(s[1:])
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r >= 0x2018 && r <= 0x201b:
			return "", "", fmt.Errorf("%q: a typographic quote, which PowerShell reads as '", s)
		case r != '\'':
			b.WriteRune(r)
		case i+1 < len(rs) && rs[i+1] == '\'':
			b.WriteByte('\'')
			i++
		default:
			return b.String(), string(rs[i+1:]), nil
		}
	}
	return "", "", fmt.Errorf("%q: unterminated string", s)
}

// Opening is what a rule opens for one family, in plain values.
type Opening struct {
	Flow   string // service/flow
	Family int
	Dir    string // Inbound, Outbound
	Proto  string // TCP, UDP
	LPort  string // "any" or a port set
	RPort  string
	Local  string // "any" or merged prefixes
	Remote string // "any", merged prefixes, or "" with names only
	Names  string // dynamic keywords' names, sorted
}

func (o Opening) String() string {
	s := fmt.Sprintf("%s ipv%d %s %s lport %s rport %s local %s remote %s", o.Flow, o.Family, o.Dir, o.Proto, o.LPort, o.RPort, o.Local, o.Remote)
	if o.Names != "" {
		s += " names " + o.Names
	}
	return s
}

func portsOf(ps []string) (string, error) {
	if len(ps) == 0 {
		return "any", nil
	}
	var set model.PortSet
	for _, p := range ps {
		r, err := model.ParsePortRange(p)
		if err != nil {
			return "", err
		}
		set = set.Add(r)
	}
	return set.String(), nil
}

// familySet reads an address list for one family: "any" when the list
// is empty or holds all of the family, ok false when it holds nothing of
// the family (the rule does not match it).
func familySet(list []string, fam int) (string, bool, error) {
	if len(list) == 0 {
		return "any", true, nil
	}
	var b netipx.IPSetBuilder
	for _, e := range list {
		r, err := parseAddr(e)
		if err != nil {
			return "", false, err
		}
		if r.From().Is4() == (fam == 4) {
			b.AddRange(r)
		}
	}
	set, _ := b.IPSet()
	if len(set.Ranges()) == 0 {
		return "", false, nil
	}
	all := netip.MustParsePrefix("0.0.0.0/0")
	if fam == 6 {
		all = netip.MustParsePrefix("::/0")
	}
	if ps := set.Prefixes(); len(ps) == 1 && ps[0] == all {
		return "any", true, nil
	}
	return prefixText(set), true, nil
}

func prefixText(set *netipx.IPSet) string {
	var out []string
	for _, p := range set.Prefixes() {
		out = append(out, p.String())
	}
	return strings.Join(out, ",")
}

// Openings reads back what the script's rules open, per family.
func (s *Script) Openings() ([]Opening, error) {
	kw := map[string]string{}
	for _, k := range s.Keywords {
		kw[k.ID] = k.Keyword
	}
	var out []Opening
	for _, r := range s.Rules {
		flow, _, _ := strings.Cut(r.Description, " ")
		lp, err := portsOf(r.LocalPort)
		if err != nil {
			return nil, err
		}
		rp, err := portsOf(r.RemotePort)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, id := range r.KeywordAddrs {
			names = append(names, kw[id])
		}
		slices.Sort(names)
		for _, fam := range []int{4, 6} {
			local, ok, err := familySet(r.LocalAddress, fam)
			if err != nil || !ok {
				if err != nil {
					return nil, err
				}
				continue
			}
			remote := "any"
			if len(r.KeywordAddrs) > 0 {
				remote = "" // the keywords' addresses, whatever their family
				if len(r.RemoteAddress) > 0 {
					return nil, fmt.Errorf("rule %s: -RemoteAddress and -RemoteDynamicKeywordAddresses in one rule", r.Name)
				}
			} else {
				var ok bool
				remote, ok, err = familySet(r.RemoteAddress, fam)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
			}
			out = append(out, Opening{Flow: flow, Family: fam, Dir: r.Direction, Proto: r.Protocol, LPort: lp, RPort: rp, Local: local, Remote: remote, Names: strings.Join(names, ",")})
		}
	}
	return out, nil
}

// Merge joins openings that differ only in their remote side: the union
// of their prefixes and names, any when one is any; sorted.
func Merge(os []Opening) []string {
	type acc struct {
		o     Opening
		any   bool
		b     netipx.IPSetBuilder
		names []string
	}
	m := map[string]*acc{}
	var keys []string
	for _, o := range os {
		k := o
		k.Remote, k.Names = "", ""
		key := k.String()
		a, ok := m[key]
		if !ok {
			a = &acc{o: k}
			m[key] = a
			keys = append(keys, key)
		}
		switch o.Remote {
		case "any":
			a.any = true
		case "":
		default:
			for _, p := range strings.Split(o.Remote, ",") {
				a.b.AddPrefix(netip.MustParsePrefix(p))
			}
		}
		for _, n := range strings.Split(o.Names, ",") {
			if n != "" && !slices.Contains(a.names, n) {
				a.names = append(a.names, n)
			}
		}
	}
	var out []string
	for _, k := range keys {
		a := m[k]
		o := a.o
		set, _ := a.b.IPSet()
		o.Remote = prefixText(set)
		if a.any {
			o.Remote, a.names = "any", nil
		}
		slices.Sort(a.names)
		o.Names = strings.Join(a.names, ",")
		out = append(out, o.String())
	}
	slices.Sort(out)
	return out
}
