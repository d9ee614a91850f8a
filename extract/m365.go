package extract

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/portolan/portolan/catalog"
	"github.com/portolan/portolan/hostsrc"
	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/model"
)

// M365Set is one endpoint set of the Microsoft 365 endpoints web service
// (hostsrc reads the format; host sets fed by the list use it too).
type M365Set = hostsrc.M365Set

// M365Options steer an import.
type M365Options struct {
	ServiceArea string // Exchange, SharePoint, Skype, Common; all when empty
	Slug        string
	Document    string // the file's name or the URL, as the profile names it
	Version     string // the list's version (the version web method's "latest")
}

// ImportM365 writes a profile from the endpoints web service's JSON: a
// host set per endpoint set (its URLs and IP ranges), a flow per set and
// protocol, required or optional as the list says, and no SSL inspection
// for the Optimize and Allow sets, as Microsoft's network connectivity
// principles ask. Sources quote the set's "id" in the JSON, on its line.
func ImportM365(data []byte, opt M365Options) (*model.Service, []byte, []string, error) {
	sets, err := hostsrc.ParseM365(opt.Document, data)
	if err != nil {
		return nil, nil, nil, err
	}
	lines := strings.Split(string(data), "\n")
	var warnings []string
	areaName := ""
	slug := opt.Slug
	if slug == "" {
		slug = "m365"
		if opt.ServiceArea != "" {
			slug += "-" + slugify(opt.ServiceArea, 30)
		}
	}
	svc := &model.Service{
		Info: model.Info{Slug: slug, Name: "Microsoft 365", Vendor: "Microsoft", Document: opt.Document, Language: "en",
			Revision: opt.Version, URL: "https://learn.microsoft.com/en-us/microsoft-365/enterprise/urls-and-ip-address-ranges"},
		Roles: []model.Role{{Name: "client", Description: "Microsoft 365 clients (Teams, Outlook, browsers) inside the site."}},
	}
	if opt.Version == "" {
		svc.Notes = append(svc.Notes, model.Note{Text: "The list's version is not known (give --list-version, or import from the web service's URL, whose version method says it)."})
	}
	ids, hostNames := map[string]bool{}, map[string]bool{}
	var optimize []string
	var optimizeSrc *model.Source
	for _, s := range sets {
		if opt.ServiceArea != "" && !strings.EqualFold(s.ServiceArea, opt.ServiceArea) {
			continue
		}
		if areaName == "" && opt.ServiceArea != "" && s.ServiceAreaName != "" {
			areaName = s.ServiceAreaName
		}
		src, ok := idSource(lines, s.ID)
		if !ok {
			warnings = append(warnings, fmt.Sprintf("endpoint set %d: its id does not stand on a line of its own; skipped", s.ID))
			continue
		}
		var entries []string
		for _, e := range append(append([]string(nil), s.URLs...), s.IPs...) {
			e = strings.ToLower(strings.TrimSpace(e))
			if pe, err := model.ParseEntry(e); err != nil || pe.Kind == model.EntryTemplate || pe.Kind == model.EntryAny || pe.Kind == model.EntryLAN {
				warnings = append(warnings, fmt.Sprintf("endpoint set %d: %q is not a host entry portolan takes; left out", s.ID, e))
				continue
			}
			if !contains(entries, e) {
				entries = append(entries, e)
			}
		}
		if len(entries) == 0 {
			continue
		}
		hname := uniqueName(fmt.Sprintf("set-%d", s.ID), hostNames) // ids repeat in a broken list
		desc := s.ServiceAreaName
		if desc == "" {
			desc = s.ServiceArea
		}
		desc = fmt.Sprintf("%s, endpoint set %d (%s)", desc, s.ID, s.Category)
		svc.Hosts = append(svc.Hosts, model.HostSet{Name: hname, Entries: entries, Description: desc, Source: &src})
		flows := 0
		for _, pp := range []struct{ proto, list string }{{"tcp", s.TCPPorts}, {"udp", s.UDPPorts}} {
			if strings.TrimSpace(pp.list) == "" {
				continue
			}
			ports, err := m365Ports(pp.list)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("endpoint set %d: %s ports %q: %v; left out", s.ID, pp.proto, pp.list, err))
				continue
			}
			need := model.Optional
			if s.Required {
				need = model.Required
			}
			app := "other"
			if wk, ok := wellKnown[portNumber(ports[0])]; ok && (wk[1] == pp.proto || wk[1] == "") {
				app = wk[0]
			}
			purpose := desc
			if s.Notes != "" {
				purpose += ": " + clip(s.Notes, 200)
			}
			id := uniqueName(fmt.Sprintf("set-%d-%s", s.ID, pp.proto), ids)
			svc.Flows = append(svc.Flows, model.Flow{
				ID: id, Direction: model.Outbound, Proto: model.StringList{pp.proto}, Ports: ports,
				Local: model.StringList{"client"}, Remote: []string{hname}, Necessity: need, App: app,
				Purpose: model.Text{"en": purpose}, Source: src,
			})
			flows++
		}
		if flows == 0 {
			warnings = append(warnings, fmt.Sprintf("endpoint set %d names no ports; its host set has no flow", s.ID))
		}
		if s.Category == "Optimize" || s.Category == "Allow" {
			optimize = append(optimize, hname)
			if optimizeSrc == nil {
				optimizeSrc = &src
			}
		}
	}
	if len(svc.Flows) == 0 {
		if opt.ServiceArea != "" {
			return nil, nil, warnings, fmt.Errorf("%s: no endpoint set of service area %q with ports (service areas: %s)", opt.Document, opt.ServiceArea, strings.Join(m365Areas(sets), ", "))
		}
		return nil, nil, warnings, fmt.Errorf("%s: no endpoint set with ports", opt.Document)
	}
	if areaName != "" {
		svc.Info.Name = "Microsoft 365: " + areaName
	}
	if len(optimize) > 0 {
		svc.Constraints = append(svc.Constraints, model.Constraint{
			ID: "ssl-inspection-off", Kind: model.KindSSLInspectionOff, Hosts: optimize,
			Purpose: model.Text{"en": "Optimize and Allow endpoints: no TLS inspection (and no proxy), as Microsoft's network connectivity principles ask."},
			Note:    "Inferred from the sets' category; see https://learn.microsoft.com/en-us/microsoft-365/enterprise/microsoft-365-network-connectivity-principles",
			Source:  *optimizeSrc,
		})
	}
	out, err := Marshal(svc)
	if err != nil {
		return nil, nil, warnings, err
	}
	if _, err := catalog.Load(slug+".yaml", out); err != nil {
		return nil, nil, warnings, fmt.Errorf("internal error: the imported profile does not validate: %v", err)
	}
	return svc, out, warnings, nil
}

var idRE = lazyre.New(`"id"\s*:\s*(\d+)\b`)

// idSource finds the line where an endpoint set's "id" stands and quotes
// it as written.
func idSource(lines []string, id int) (model.Source, bool) {
	want := strconv.Itoa(id)
	for i, l := range lines {
		for _, m := range idRE.FindAllStringSubmatchIndex(l, -1) {
			if l[m[2]:m[3]] == want {
				return model.Source{Quote: l[m[0]:m[1]], Line: i + 1}, true
			}
		}
	}
	return model.Source{}, false
}

// m365Ports reads the list's port notation: "80,443", "3478-3481".
func m365Ports(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := model.ParsePortRange(p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no port")
	}
	return out, nil
}

func portNumber(s string) int {
	lo, _, _ := strings.Cut(s, "-")
	n, _ := strconv.Atoi(lo)
	return n
}

func m365Areas(sets []M365Set) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range sets {
		if s.ServiceArea != "" && !seen[s.ServiceArea] {
			seen[s.ServiceArea] = true
			out = append(out, s.ServiceArea)
		}
	}
	sort.Strings(out)
	return out
}

// M365Version reads the version web method's answer: {"instance":
// "Worldwide", "latest": "2024053100"}, or a list of such objects.
func M365Version(data []byte) (string, error) { return hostsrc.M365Version(data) }
