package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/portolan/portolan/audit"
	"github.com/portolan/portolan/hostsrc"
	"github.com/portolan/portolan/model"
	"github.com/portolan/portolan/probe"
	"github.com/portolan/portolan/report"
	"github.com/portolan/portolan/resolve"
	"github.com/portolan/portolan/target"
)

// catalogRow is one service of the catalog page; Search is the lower-case
// text the search matches (names, vendor, features, params, hosts, apps,
// ports).
type catalogRow struct {
	report.ServiceSummary
	Search string
}

func (s *Server) catalogRows() ([]catalogRow, error) {
	var rows []catalogRow
	for _, svc := range s.cat.Services() {
		sum, err := report.Summarize(svc)
		if err != nil {
			return nil, err
		}
		words := []string{svc.Slug(), svc.Info.Name, svc.Info.Vendor, svc.Info.Language, svc.Info.Document}
		for _, f := range svc.Features {
			words = append(words, f.Name)
		}
		for _, p := range svc.Params {
			words = append(words, p.Name)
		}
		for _, h := range svc.Hosts {
			words = append(words, h.Name)
			for _, e := range h.Entries {
				words = append(words, fmt.Sprint(e))
			}
		}
		for _, f := range svc.Flows {
			words = append(words, f.ID, f.App, strings.Join(f.Protos(), " "), strings.Join(f.Ports, " "))
		}
		rows = append(rows, catalogRow{ServiceSummary: sum, Search: strings.ToLower(strings.Join(words, " "))})
	}
	return rows, nil
}

// matches reports whether every word of q is in the row's text.
func (c catalogRow) matches(q []string) bool {
	for _, w := range q {
		if !strings.Contains(c.Search, w) {
			return false
		}
	}
	return true
}

func (s *Server) catalogPage(w http.ResponseWriter, r *http.Request) {
	rows, err := s.catalogRows()
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	raw := strings.ToValidUTF8(r.URL.Query().Get(fQuery), "\uFFFD")
	q := searchQuery(raw)
	var shown []catalogRow
	for _, row := range rows {
		if row.matches(q) {
			shown = append(shown, row)
		}
	}
	s.render(w, r, http.StatusOK, "catalog", map[string]any{
		"Title": "Catalog", "Query": raw, "Rows": shown, "Total": len(rows),
	})
}

// flowView is one row of a service's flows.
type flowView struct {
	resolve.Flow
	Document string
}

type featureView struct {
	model.Feature
	On bool
}

type paramView struct {
	model.Param
	Value string
}

type platformView struct {
	model.Platform
	On bool
}

type targetView struct {
	Name, Synopsis string
}

// serviceView is what a service page shows, whatever section (rules,
// audit) is added to it.
type serviceView struct {
	Svc         *model.Service
	Form        url.Values
	Query       string // the form as a query string, for links
	Features    []featureView
	Params      []paramView
	Platforms   []platformView
	Flows       []flowView
	Constraints []constraintView
	Targets     []targetView
	Target      string
	TargetFlags []flagInfo
	Checks      []string
	CheckOn     map[string]bool
	Error       string
	Choices     []*resolve.Choice

	Rules       *rulesOut
	DownloadURL string
	Audit       *auditView
	Probe       probeInfo
}

type constraintView struct {
	resolve.Constraint
	Summary  string
	Document string
}

// probeInfo says what a probe run from this server will use.
type probeInfo struct {
	Reflector, Proxy string
	Rate             float64
}

// service finds the page's service, or answers 404.
func (s *Server) service(w http.ResponseWriter, r *http.Request) *model.Service {
	slug := r.PathValue("slug")
	svc, err := s.cat.Get(slug)
	if err != nil {
		s.fail(w, r, http.StatusNotFound, fmt.Sprintf("no service %q in the catalog; the catalog lists %s", slug, strings.Join(s.cat.Slugs(), ", ")))
		return nil
	}
	return svc
}

// view builds the service page from the form: the selection applied, the
// flows with their params filled in (placeholders where a param is not
// set), the constraints. A bad selection is an error for a 400.
func (s *Server) view(svc *model.Service, v url.Values) (*serviceView, error) {
	sv := &serviceView{Svc: svc, Form: v, Target: "nftables", CheckOn: map[string]bool{}, Checks: probe.AllChecks}
	q := url.Values{}
	for k, vals := range v {
		if k != fCSRF && k != fRuleset && k != "dl" {
			q[k] = vals
		}
	}
	sv.Query = q.Encode()
	if t := v.Get(fTarget); t != "" {
		sv.Target = t
	}
	for _, t := range target.All() {
		sv.Targets = append(sv.Targets, targetView{t.Name(), t.Synopsis()})
	}
	sv.TargetFlags = allTargetFlags()
	for _, c := range v[fCheck] {
		sv.CheckOn[c] = true
	}
	sv.Probe = probeInfo{Reflector: s.opt.Probe.Reflector, Proxy: s.opt.Probe.ProxyName, Rate: s.opt.Probe.Rate}
	if sv.Probe.Rate <= 0 {
		sv.Probe.Rate = probe.DefaultRate
	}
	sel, err := parseSelection(svc, v)
	// The form shows what was asked even when it is wrong.
	on := map[string]bool{}
	if v.Get(fSel) == "1" {
		for _, f := range v[fFeature] {
			on[f] = true
		}
	} else {
		for _, f := range svc.Features {
			on[f.Name] = f.Default || slices.Contains(v[fFeature], f.Name)
		}
	}
	for _, f := range svc.Features {
		sv.Features = append(sv.Features, featureView{f, on[f.Name]})
	}
	for _, p := range svc.Params {
		sv.Params = append(sv.Params, paramView{p, v.Get(fParam + p.Name)})
	}
	for _, p := range svc.Platforms {
		sv.Platforms = append(sv.Platforms, platformView{p, slices.Contains(v[fPlatform], p.Name)})
	}
	if err != nil {
		return sv, err
	}
	choices, err := resolve.Choose([]*model.Service{svc}, sel)
	if err != nil {
		return sv, err
	}
	sv.Choices = choices
	for _, c := range choices {
		flows, err := c.Flows(false)
		if err != nil {
			return sv, err
		}
		for _, f := range flows {
			sv.Flows = append(sv.Flows, flowView{f, svc.SourceDocument(f.Source)})
		}
		for _, k := range c.Constraints() {
			sv.Constraints = append(sv.Constraints, constraintView{k, report.ConstraintSummary(k), svc.SourceDocument(k.Source)})
		}
	}
	return sv, nil
}

func (s *Server) showService(w http.ResponseWriter, r *http.Request, sv *serviceView, code int, err error) {
	if err != nil {
		sv.Error = err.Error()
		if code == http.StatusOK {
			code = http.StatusBadRequest
		}
	}
	s.render(w, r, code, "service", map[string]any{"Title": sv.Svc.Info.Name, "V": sv})
}

func (s *Server) servicePage(w http.ResponseWriter, r *http.Request) {
	s.serviceForm(w, r, r.URL.Query())
}

func (s *Server) serviceForm(w http.ResponseWriter, r *http.Request, v url.Values) {
	svc := s.service(w, r)
	if svc == nil {
		return
	}
	sv, err := s.view(svc, v)
	s.showService(w, r, sv, http.StatusOK, err)
}

// rulesPage writes the configuration for the form's target, shown under
// the service, or as a download with dl=1.
func (s *Server) rulesPage(w http.ResponseWriter, r *http.Request) {
	s.rules(w, r, r.URL.Query())
}

func (s *Server) rules(w http.ResponseWriter, r *http.Request, v url.Values) {
	svc := s.service(w, r)
	if svc == nil {
		return
	}
	sv, err := s.view(svc, v)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	p, err := parsePlan(v)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	t, err := target.Lookup(sv.Target)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	tflags, err := targetFlags(t, v)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	command, sync := s.commandLines(svc, v, t.Name(), tflags)
	out, err := s.writeRules(r.Context(), sv.Choices, p, t.Name(), tflags, command, sync)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	if v.Get("dl") == "1" {
		name := "portolan-" + svc.Slug() + "-" + out.Target + extension(out.Target)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		w.Header().Set("Cache-Control", "no-store")
		w.Write(out.Data)
		return
	}
	sv.Rules = out
	sv.DownloadURL = r.URL.Path + "?" + sv.Query + "&dl=1"
	s.showService(w, r, sv, http.StatusOK, nil)
}

// auditView is an audit's report ordered for reading: failing flows first.
type auditView struct {
	Report  *audit.Report
	Flows   []audit.FlowResult
	Sources []string
	Failing int
}

// verdictRank orders flows: what fails first.
var verdictRank = map[audit.Verdict]int{audit.Blocked: 0, audit.Partial: 1, audit.Unknown: 2, audit.Allowed: 3, audit.Skipped: 4}

// auditPage audits a pasted or uploaded ruleset against the form's flows,
// as "portolan audit" does: audit.LoadAll, audit.New, target.Prepare with
// the server's resolver, then Audit.
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, f *postForm) {
	svc := s.service(w, r)
	if svc == nil {
		return
	}
	v := f.values
	sv, err := s.view(svc, v)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	av, err := s.runAudit(r, sv, f)
	if err != nil {
		s.showService(w, r, sv, http.StatusBadRequest, err)
		return
	}
	sv.Audit = av
	s.showService(w, r, sv, http.StatusOK, nil)
}

func (s *Server) runAudit(r *http.Request, sv *serviceView, f *postForm) (*auditView, error) {
	v := f.values
	format := v.Get(fFormat)
	if format == "" {
		format = "auto"
	}
	if err := audit.CheckFormat(format); err != nil {
		return nil, bad(fFormat, "%q: one of %s", format, strings.Join(audit.Formats(), ", "))
	}
	p, err := parsePlan(v)
	if err != nil {
		return nil, err
	}
	var wan []netip.Addr
	for _, a := range strings.FieldsFunc(v.Get(fWANAddr), func(r rune) bool { return r == ',' || r == ' ' }) {
		ad, err := netip.ParseAddr(a)
		if err != nil || ad.Zone() != "" {
			return nil, bad(fWANAddr, "%q: not an address", a)
		}
		wan = append(wan, ad.Unmap())
	}
	var inputs []audit.Input
	var names []string
	for _, u := range f.files {
		inputs = append(inputs, audit.Input{Name: u.name, Data: u.data})
		names = append(names, u.name)
	}
	if txt := v.Get(fRuleset); strings.TrimSpace(txt) != "" {
		inputs = append(inputs, audit.Input{Name: "pasted", Data: []byte(txt)})
		names = append(names, "pasted")
	}
	if len(inputs) == 0 {
		return nil, errors.New("no ruleset: paste the output of nft -j list ruleset or iptables-save, or upload the file")
	}
	rs, err := audit.LoadAll(inputs, format)
	if err != nil {
		return nil, err
	}
	// Names in an appliance's address objects, resolved like the
	// catalog's (the server's --hosts first), as portolan audit does.
	audit.ResolveNames(r.Context(), rs, s.opt.Resolver)
	aud, err := audit.NewDropping(rs, p.Site)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", strings.Join(names, ", "), err)
	}
	if _, err := hostsrc.Fill(r.Context(), sv.Choices, hostsrc.Options{CacheDir: s.opt.SourceCache}, true); err != nil {
		return nil, err
	}
	in, err := target.Prepare(r.Context(), target.Config{
		Choices: sv.Choices, Resolver: s.opt.Resolver, AllowUnresolved: true, Site: p.Site, Options: p.Options,
	})
	if err != nil {
		return nil, err
	}
	rep := aud.Audit(in.Rules, in.Skips, audit.Options{WANAddrs: wan, Constraints: in.Constraints})
	av := &auditView{Report: rep, Sources: names, Flows: slices.Clone(rep.Flows)}
	sort.SliceStable(av.Flows, func(i, j int) bool {
		a, b := av.Flows[i], av.Flows[j]
		if verdictRank[a.Verdict] != verdictRank[b.Verdict] {
			return verdictRank[a.Verdict] < verdictRank[b.Verdict]
		}
		return a.Necessity == "required" && b.Necessity != "required"
	})
	for _, s := range rep.Services {
		av.Failing += len(s.Failing)
	}
	return av, nil
}

// commandLines are the "portolan rules" command that writes what the form
// asks, and for nftables the "portolan sync" command that refreshes its
// names' sets, as the CLI writes them into its output's comments.
func (s *Server) commandLines(svc *model.Service, v url.Values, tname string, tflags map[string]string) (command, sync string) {
	pre := append([]string{"portolan"}, s.opt.CatalogArgs...)
	args := cliArgs(svc, v, tname, tflags)
	command = strings.Join(slices.Concat(pre, []string{"rules", svc.Slug()}, args, s.opt.ResolveArgs), " ")
	if tname != "nftables" {
		return command, ""
	}
	var syncArgs []string
	for _, a := range slices.Concat(cliArgs(svc, v, "", tflags), s.opt.ResolveArgs) {
		if a != "--no-resolve" {
			syncArgs = append(syncArgs, a)
		}
	}
	return command, strings.Join(slices.Concat(pre, []string{"sync", svc.Slug()}, syncArgs), " ")
}
