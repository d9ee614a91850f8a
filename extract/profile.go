package extract

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/model"
)

var slugJunk = lazyre.New(`[^a-z0-9]+`)

// slugify makes a lower-case slug of letters, digits and hyphens.
func slugify(s string, n int) string {
	s = strings.ToLower(s)
	s = strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "ç", "c", "ğ", "g", "ı", "i", "ş", "s",
		"é", "e", "è", "e", "ê", "e", "á", "a", "à", "a", "ã", "a", "â", "a", "í", "i", "ó", "o", "õ", "o", "ô", "o",
		"ú", "u", "ñ", "n", "*", "").Replace(s)
	s = strings.Trim(slugJunk.ReplaceAllString(s, "-"), "-")
	if len(s) > n {
		s = strings.Trim(s[:n], "-")
	}
	return s
}

// build turns what was read into a profile.
func (x *extractor) build(opt Options) *model.Service {
	svc := &model.Service{}
	title := clip(x.doc.Title, 120)
	name := serviceName(title)
	if strings.IndexFunc(name, unicode.IsLetter) < 0 {
		name = strings.TrimSuffix(x.doc.Name, extOf(x.doc.Name))
	}
	slug := opt.Slug
	if slug == "" {
		slug = slugify(firstWords(name, 3), 40)
		if slug == "" {
			slug = slugify(strings.TrimSuffix(x.doc.Name, extOf(x.doc.Name)), 40)
		}
		if slug == "" || slug[0] == '-' {
			slug = "vendor"
		}
	}
	svc.Info = model.Info{Slug: slug, Name: name, Vendor: clip(firstWords(name, 2), 60), Document: x.doc.Name, Title: title, Language: x.lang}
	if opt.Document != "" {
		svc.Info.Document = opt.Document
	}
	text := func(s string, en string) model.Text {
		t := model.Text{"en": en}
		if x.lang != "en" {
			t[x.lang] = s
		} else {
			t["en"] = s
		}
		return t
	}
	// params of templated names
	var pnames []string
	for p := range x.params {
		pnames = append(pnames, p)
	}
	sort.Strings(pnames)
	for _, p := range pnames {
		pi := x.params[p]
		svc.Params = append(svc.Params, model.Param{
			Name: p, Type: model.ParamDNSLabel, Example: "acme",
			Description: fmt.Sprintf("Your own label in the name the document writes as %s.", pi.placeholder),
			Source:      &model.Source{Quote: pi.quote, Line: pi.line},
		})
	}
	// flows: merge those that differ only in ports; drop exact repeats
	var flows []*draftFlow
	kept := map[string]*draftFlow{}
	same := map[*draftFlow]*draftFlow{} // a repeat → the flow kept for it
	for _, f := range x.flows {
		key := fmt.Sprintf("%s|%s|%s|%s", f.dir, f.proto, strings.Join(f.ports, ","), strings.Join(sortedCopy(f.hosts), ","))
		if k, ok := kept[key]; ok {
			same[f] = k
			k.fallback = append(k.fallback, f.fallback...)
			continue
		}
		kept[key] = f
		same[f] = f
		flows = append(flows, f)
	}
	// host sets, one per distinct list of entries
	setName := map[string]string{}
	usedNames := map[string]bool{}
	addSet := func(entries []string, desc string, quote string, line int) string {
		key := strings.Join(sortedCopy(entries), ",")
		if n, ok := setName[key]; ok {
			return n
		}
		base := "any"
		if key != "any" {
			base = slugify(entries[0], 40)
			if len(entries) > 1 {
				base += "-etc"
			}
			if base == "" || base[0] < 'a' || base[0] > 'z' {
				base = "hosts-" + base
			}
		}
		n := uniqueName(base, usedNames)
		setName[key] = n
		hs := model.HostSet{Name: n, Entries: entries, Description: desc}
		if quote != "" && key != "any" {
			hs.Source = &model.Source{Quote: quote, Line: line}
		}
		svc.Hosts = append(svc.Hosts, hs)
		return n
	}
	hasInbound := false
	ids := map[string]bool{}
	notes := map[string][]string{}
	var noteOrder []string
	addNote := func(id, text string) {
		if _, ok := notes[text]; !ok {
			noteOrder = append(noteOrder, text)
		}
		notes[text] = appendNew(notes[text], id)
	}
	for _, f := range flows {
		desc := "Named by the document for: " + clip(f.purpose, 100)
		if len(f.hosts) == 1 && f.hosts[0] == "any" {
			desc = "Any address: the document names no host for these flows."
		}
		set := addSet(f.hosts, desc, f.quote, f.line)
		local := "client"
		if f.dir == model.Inbound {
			local = "server"
			hasInbound = true
		}
		base := f.app
		if base == "other" || base == "" {
			base = f.proto
		} else {
			base += "-" + f.proto
		}
		if f.dir == model.Inbound {
			base = "in-" + base
		}
		base += "-" + f.ports[0]
		id := uniqueName(slugify(base, 50), ids)
		// ids must not collide with expanded ids of other flows: one proto each, so the id is its own.
		f.id = id
		en := fmt.Sprintf("%s %s %s", f.dir, strings.ToUpper(f.proto), strings.Join(f.ports, ", "))
		if x.lang != "en" {
			en += " (the document's words are in " + x.lang + ")"
		} else {
			en = f.purpose
		}
		mf := model.Flow{
			ID: id, Direction: f.dir, Proto: model.StringList{f.proto}, Ports: f.ports, SrcPorts: f.srcPorts, Local: model.StringList{local},
			Remote: []string{set}, Necessity: f.necessity, App: f.app, OneOf: f.oneOf,
			Purpose: text(f.purpose, en), Source: model.Source{Quote: f.quote, Line: f.line},
		}
		if f.condition != "" {
			cen := f.condition
			if x.lang != "en" {
				cen = "Needed under the condition the document states (in " + x.lang + ")."
			}
			mf.Condition = text(f.condition, cen)
		}
		if mf.App == "" {
			mf.App = "other"
		}
		svc.Flows = append(svc.Flows, mf)
		for _, n := range f.notes {
			addNote(id, n)
		}
	}
	// fallbacks, by the ids of the flows kept
	for i, f := range flows {
		for _, t := range f.fallback {
			if k := same[t]; k != nil && k != f && k.id != "" && !slices.Contains(svc.Flows[i].Fallback, k.id) {
				svc.Flows[i].Fallback = append(svc.Flows[i].Fallback, k.id)
			}
		}
		if len(svc.Flows[i].Fallback) > 0 {
			addNote(f.id, "the document says the client falls back to the fallback flows when this one fails")
		}
	}
	// host lines no flow took
	for _, p := range x.pools {
		if len(p.hosts) == 0 || p.used {
			continue
		}
		desc := "Listed without ports"
		if p.title != "" {
			desc += " under " + fmt.Sprintf("%q", clip(p.title, 80))
		}
		n := addSet(p.hosts, desc+".", p.quote, p.line)
		addNote(n, "these hosts are listed without a port or protocol; no flow uses them yet: add the flows the vendor means, or remove the set")
	}
	// roles
	svc.Roles = append(svc.Roles, model.Role{Name: "client", Description: "The vendor's devices, clients or servers inside the site, which start the outbound flows."})
	if hasInbound {
		svc.Roles = append(svc.Roles, model.Role{Name: "server", Description: "The machine inside the site that inbound flows are forwarded to.", AddressParam: "server_address"})
		svc.Params = append(svc.Params, model.Param{Name: "server_address", Type: model.ParamAddress, Example: "192.0.2.10",
			Description: "Address, inside the site, of the machine the inbound flows are forwarded to."})
	}
	// constraints
	cids := map[string]bool{}
	for id := range ids {
		cids[id] = true
	}
	var nat *model.Constraint
	var keep *draftConstraint
	for _, c := range x.cons {
		if c.kind == model.KindNATTimeout && c.minTimeout == "" {
			if keep == nil {
				keep = c
			}
			continue
		}
		mc := model.Constraint{
			Kind: c.kind, Apps: c.apps, Ports: c.ports, MinTimeout: model.Duration(c.minTimeout), Keepalive: model.Duration(c.keepalive),
			MinVersion: c.minVersion, Allowed: c.allowed, Refused: c.refused,
			Purpose: text(c.purpose, constraintEn(c)), Source: model.Source{Quote: c.quote, Line: c.line},
		}
		if len(c.proto) > 0 {
			mc.Proto = model.StringList(c.proto)
		}
		switch c.kind {
		case model.KindNATTimeout:
			if nat != nil {
				continue // one per document: the first stated
			}
			if len(mc.Proto) == 0 {
				mc.Proto = model.StringList{"udp"}
			}
			if len(mc.Ports) == 0 {
				mc.Ports = udpPorts(flows)
				mc.Note = "The document gives no ports for this; it holds for every UDP flow of the profile."
			}
			if mc.Proto.String() != "udp" {
				mc.Proto = model.StringList{"udp"}
			}
		case model.KindTLSMin:
			if len(mc.Ports) == 0 {
				mc.Ports = tlsPorts(flows)
				mc.Note = "The document gives no ports for this; it holds for the TLS flows of the profile."
			}
			if len(mc.Ports) == 0 {
				continue
			}
		case model.KindSSLInspectionOff, model.KindAllowByName:
			for _, h := range c.hosts {
				if n, ok := setName[h]; ok {
					mc.Hosts = appendNew(mc.Hosts, n)
				}
			}
			if len(mc.Hosts) == 0 {
				for _, hs := range svc.Hosts {
					if len(hs.Entries) != 1 || hs.Entries[0] != "any" {
						if c.kind == model.KindAllowByName && !hasName(hs.Entries) {
							continue
						}
						mc.Hosts = append(mc.Hosts, hs.Name)
					}
				}
				if len(mc.Hosts) == 0 && c.kind == model.KindSSLInspectionOff {
					// no host named anywhere: the service's traffic, to any address
					for _, hs := range svc.Hosts {
						mc.Hosts = append(mc.Hosts, hs.Name)
					}
					mc.Note = "The document names no host for this; it holds for all of the service's traffic."
				}
				if len(mc.Hosts) == 0 {
					continue
				}
			}
		}
		if dupKind(svc.Constraints, c.kind) && c.kind != model.KindTLSMin {
			continue
		}
		mc.ID = uniqueName(string(c.kind), cids)
		svc.Constraints = append(svc.Constraints, mc)
		if c.kind == model.KindNATTimeout {
			nat = &svc.Constraints[len(svc.Constraints)-1]
		}
	}
	if keep != nil {
		if nat != nil && nat.Keepalive == "" {
			nat.Keepalive = model.Duration(keep.keepalive)
		} else if nat == nil {
			svc.Constraints = append(svc.Constraints, model.Constraint{
				ID: uniqueName("keepalive", cids), Kind: model.KindNotice,
				Purpose: text(keep.purpose, "The service sends NAT keep-alives every "+keep.keepalive+"; UDP bindings must outlive that."),
				Source:  model.Source{Quote: keep.quote, Line: keep.line},
			})
		}
	}
	for _, n := range noteOrder {
		svc.Notes = append(svc.Notes, model.Note{About: notes[n], Text: n})
	}
	for _, n := range x.notes {
		svc.Notes = append(svc.Notes, model.Note{Text: n})
	}
	return svc
}

// titleWords are the words of a title that name no product: the title
// says what the page is about ("Firewall requirements for …").
var titleWords = map[string]bool{
	"firewall": true, "firewalls": true, "port": true, "ports": true, "requirements": true, "requirement": true,
	"network": true, "networking": true, "settings": true, "setting": true, "configuration": true, "config": true,
	"guide": true, "overview": true, "for": true, "the": true, "and": true, "of": true, "to": true, "a": true, "your": true,
	"proxy": true, "rules": true, "used": true, "by": true, "usage": true, "ports:": true, "&": true, "-": true, "–": true,
	"netzwerk": true, "netzwerkanforderungen": true, "anforderungen": true, "einstellungen": true, "firewall-einstellungen": true,
	"portfreigaben": true, "übersicht": true, "der": true, "die": true, "das": true, "für": true, "portnutzung": true,
	"requisitos": true, "rede": true, "portas": true, "configuração": true, "de": true, "do": true, "da": true, "dos": true,
	"para": true, "o": true, "utilizadas": true, "pelo": true, "red": true, "puertos": true, "configuración": true,
	"del": true, "cortafuegos": true, "el": true, "la": true, "requisiti": true, "porte": true, "di": true, "del ": true,
	"pare-feu": true, "réseau": true, "flux": true, "ouverture": true, "des": true, "du": true, "le": true, "les": true,
	"güvenlik": true, "duvarı": true, "gereksinimleri": true, "ayarları": true, "ağ": true, "ve": true, "portları": true,
	"ネットワーク要件": true, "ファイアウォール設定ガイド": true, "接続要件": true, "ネットワーク設定": true,
	"requirements:": true, "firewall:": true, "per": true, "il": true, "requisiti:": true, "notları": true, "kurulum": true,
	"pour": true, "por": true, "rete": true, "or": true, "server": true, "servers": true, "oder": true, "ou": true,
	"için": true, "sidebar": true, "additional": true, "information": true, "about": true, "on": true, "with": true,
	"connectivity": true, "endpoints": true, "urls": true, "ip": true, "addresses": true, "ranges": true,
}

// serviceName finds the product in a title: the part before a colon or
// dash when it is not generic, else the title without its generic words.
func serviceName(title string) string {
	for _, sep := range []string{":", " – ", " - ", " — ", "：", "|"} {
		if i := strings.Index(title, sep); i > 0 {
			if head := strings.TrimSpace(title[:i]); !allGeneric(head) {
				return head
			}
			return serviceName(strings.TrimSpace(title[i+len(sep):]))
		}
	}
	var keep []string
	for _, w := range strings.Fields(title) {
		if !titleWords[strings.ToLower(w)] {
			keep = append(keep, w)
		}
	}
	return strings.Join(keep, " ")
}

func allGeneric(s string) bool {
	for _, w := range strings.Fields(s) {
		if !titleWords[strings.ToLower(w)] {
			return false
		}
	}
	return true
}

func hasName(entries []string) bool {
	for _, e := range entries {
		if pe, err := model.ParseEntry(e); err == nil && (pe.Kind == model.EntryName || pe.Kind == model.EntryWildcard || pe.Kind == model.EntryTemplate) {
			return true
		}
	}
	return false
}

func dupKind(cs []model.Constraint, k model.ConstraintKind) bool {
	for _, c := range cs {
		if c.Kind == k {
			return true
		}
	}
	return false
}

func constraintEn(c *draftConstraint) string {
	switch c.kind {
	case model.KindALGOff:
		return "Turn off the " + strings.ToUpper(strings.Join(c.apps, "/")) + " ALG (application layer gateway) of routers and firewalls."
	case model.KindNATTimeout:
		return "UDP NAT bindings must live at least " + c.minTimeout + "."
	case model.KindTLSMin:
		return "TLS below " + c.minVersion + " does not work on these ports."
	case model.KindSSLInspectionOff:
		return "No SSL/TLS inspection for these hosts."
	case model.KindProxyAuth:
		return "A web proxy may ask for " + strings.Join(c.allowed, ", ") + " authentication only."
	case model.KindNoInbound:
		return "Nothing inbound needs to be opened."
	case model.KindAllowByName:
		return "Allow these hosts by DNS name, not by address: the addresses change."
	}
	return string(c.kind)
}

func udpPorts(flows []*draftFlow) []string {
	var out []string
	for _, f := range flows {
		if f.proto == "udp" && f.dir == model.Outbound {
			out = appendNew(out, f.ports...)
		}
	}
	if len(out) == 0 {
		out = []string{"1-65535"}
	}
	return out
}

func tlsPorts(flows []*draftFlow) []string {
	var out []string
	for _, f := range flows {
		if f.proto == "tcp" && (f.app == "https" || f.app == "sip-tls" || f.app == "tls") {
			out = appendNew(out, f.ports...)
		}
	}
	return out
}

func uniqueName(base string, used map[string]bool) string {
	n := base
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s-%d", base, i)
	}
	used[n] = true
	return n
}

func sortedCopy(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		return name[i:]
	}
	return ""
}
