// Package model holds portolan's requirement model: a service, the flows a
// firewall must allow for it, the host sets those flows reach, and the
// constraints that are not ports but break calls all the same.
//
// The types mirror the YAML profiles one to one; catalog loads and validates
// them, resolve expands them for a site.
package model

import (
	"slices"
	"sort"
	"strings"
)

// Direction says who starts a flow.
type Direction string

// Directions: outbound is started from the site, inbound from outside.
const (
	Outbound Direction = "outbound"
	Inbound  Direction = "inbound"
)

// Necessity says how much a flow matters to the service.
type Necessity string

// Necessities, strongest first.
const (
	Required    Necessity = "required"
	Recommended Necessity = "recommended"
	Optional    Necessity = "optional"
)

// Rank orders necessities: 0 for required, 1 recommended, 2 optional, 3 unknown.
func (n Necessity) Rank() int {
	switch n {
	case Required:
		return 0
	case Recommended:
		return 1
	case Optional:
		return 2
	}
	return 3
}

// Protocols a flow can name.
const (
	TCP = "tcp"
	UDP = "udp"
)

// Text is a short text in one or more languages, keyed by ISO 639-1 code
// ("en", "de", "pt"). Profiles keep the document's own language and add English.
type Text map[string]string

// En returns the English text, or any text when there is no English one.
func (t Text) En() string {
	if s, ok := t["en"]; ok {
		return s
	}
	for _, k := range t.Langs() {
		return t[k]
	}
	return ""
}

// Langs returns the languages present, sorted.
func (t Text) Langs() []string {
	ks := make([]string, 0, len(t))
	for k := range t {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Source is where a statement comes from: the document, the quoted words as
// they stand in it, and the line (1-based) they stand on.
type Source struct {
	Document string `yaml:"document,omitempty" json:"document"`
	Quote    string `yaml:"quote" json:"quote"`
	Line     int    `yaml:"line,omitempty" json:"line,omitempty"`
}

// Info describes the service and the document its profile was made from.
type Info struct {
	Slug     string `yaml:"slug" json:"slug"`
	Name     string `yaml:"name" json:"name"`
	Vendor   string `yaml:"vendor" json:"vendor"`
	Document string `yaml:"document" json:"document"`
	Title    string `yaml:"title,omitempty" json:"title,omitempty"`
	Language string `yaml:"language" json:"language"`
	Revision string `yaml:"revision,omitempty" json:"revision,omitempty"`
	URL      string `yaml:"url,omitempty" json:"url,omitempty"`
}

// Note records how the profile reads an ambiguous passage and why.
type Note struct {
	About []string `yaml:"about,omitempty" json:"about,omitempty"`
	Text  string   `yaml:"text" json:"text"`
}

// ParamType says what a param's value must look like.
type ParamType string

// Param types.
const (
	ParamDNSLabel ParamType = "dns-label" // one DNS label: acme
	ParamAddress  ParamType = "address"   // one IPv4 or IPv6 address
	ParamPorts    ParamType = "ports"     // ports and ranges: 36000-59999,60000
	ParamHosts    ParamType = "hosts"     // host entries: 198.51.100.0/24,sbc.example.com,any
	ParamText     ParamType = "text"      // anything on one line
	ParamNumber   ParamType = "number"    // a whole number 0..65535: concurrent calls, a last port
)

// Param is a value a site must (or may) supply.
type Param struct {
	Name        string    `yaml:"name" json:"name"`
	Type        ParamType `yaml:"type" json:"type"`
	Description string    `yaml:"description" json:"description"`
	Example     string    `yaml:"example,omitempty" json:"example,omitempty"`
	Default     *string   `yaml:"default,omitempty" json:"default,omitempty"`
	Source      *Source   `yaml:"source,omitempty" json:"source,omitempty"`
}

// Feature is an optional part of a service a site may use.
type Feature struct {
	Name        string  `yaml:"name" json:"name"`
	Default     bool    `yaml:"default" json:"default"`
	Description string  `yaml:"description" json:"description"`
	Source      *Source `yaml:"source,omitempty" json:"source,omitempty"`
}

// Role is the local side of a flow: the endpoint, the PBX, the SBC… When a
// role is one machine, AddressParam names the param that holds its address
// (inbound flows are forwarded there).
type Role struct {
	Name         string `yaml:"name" json:"name"`
	Description  string `yaml:"description" json:"description"`
	AddressParam string `yaml:"address_param,omitempty" json:"address_param,omitempty"`
}

// HostSet is a named set of remote endpoints: FQDNs, wildcard domains,
// templated names, addresses, prefixes, "any" or "lan" (the site's own
// networks).
type HostSet struct {
	Name        string   `yaml:"name" json:"name"`
	Entries     []string `yaml:"entries,omitempty" json:"entries"`
	Description string   `yaml:"description" json:"description"`
	Source      *Source  `yaml:"source,omitempty" json:"source,omitempty"`
	// Feed fills the set, besides its entries, from a list the vendor
	// publishes, fetched when rules are made or synced (hostsrc).
	Feed *Feed `yaml:"feed,omitempty" json:"feed,omitempty"`
}

// Feed formats.
const (
	FeedCIDR = "cidr" // one address or CIDR block a line, # comments (Zoom's lists)
	FeedM365 = "m365" // the Microsoft 365 endpoints web service's JSON
)

// FeedFormats lists the formats a feed may name.
var FeedFormats = []string{FeedCIDR, FeedM365}

// Feed is a published, machine-readable address list that feeds a host
// set: by URL (fetched, cached) or by local file. For m365 the endpoint
// sets are chosen by service area, required flag and category, and
// VersionURL names the web service's version method, whose "latest" is
// recorded as the list's version.
type Feed struct {
	Format       string   `yaml:"format" json:"format"`
	URL          string   `yaml:"url,omitempty" json:"url,omitempty"`
	File         string   `yaml:"file,omitempty" json:"file,omitempty"`
	VersionURL   string   `yaml:"version_url,omitempty" json:"version_url,omitempty"`
	ServiceArea  string   `yaml:"service_area,omitempty" json:"service_area,omitempty"`
	RequiredOnly bool     `yaml:"required_only,omitempty" json:"required_only,omitempty"`
	Category     []string `yaml:"category,omitempty" json:"category,omitempty"`
}

// Origin is the feed's URL or file, as comments and errors name it.
func (f *Feed) Origin() string {
	if f.URL != "" {
		return f.URL
	}
	return f.File
}

// Flow is one thing a firewall must allow.
type Flow struct {
	ID        string     `yaml:"id" json:"id"`
	Direction Direction  `yaml:"direction" json:"direction"`
	Proto     StringList `yaml:"proto" json:"proto"`
	// Ports are destination ports and inclusive ranges "lo-hi", or a
	// template "{param}" of a ports param.
	Ports []string `yaml:"ports" json:"ports"`
	// SrcPorts are source ports rules match on; LocalSrcPorts the ports
	// the local side usually sends from, which rules never match on.
	SrcPorts      []string       `yaml:"src_ports,omitempty" json:"src_ports,omitempty"`
	LocalSrcPorts *LocalSrcPorts `yaml:"local_src_ports,omitempty" json:"local_src_ports,omitempty"`
	// Local is the local role, or several (controllers and rooms): the
	// flow is expanded once per role.
	Local StringList `yaml:"local" json:"local"`
	// Remote names host sets; RemoteRoles names roles of the site instead,
	// for traffic between two machines of the site (device to device).
	Remote      []string `yaml:"remote,omitempty" json:"remote,omitempty"`
	RemoteRoles []string `yaml:"remote_roles,omitempty" json:"remote_roles,omitempty"`
	// Necessity without features; RequiredWith names a feature that makes
	// the flow required when it is on.
	Necessity    Necessity `yaml:"necessity" json:"necessity"`
	RequiredWith string    `yaml:"required_with,omitempty" json:"required_with,omitempty"`
	// Condition is the document's own words on when the flow is needed.
	Condition Text   `yaml:"condition,omitempty" json:"condition,omitempty"`
	Feature   string `yaml:"feature,omitempty" json:"feature,omitempty"`
	App       string `yaml:"app" json:"app"`
	// OneOf: any one of Ports suffices; the client tries them in the
	// order listed. Fallback names the flows it tries when none works.
	OneOf    bool     `yaml:"one_of,omitempty" json:"one_of,omitempty"`
	Fallback []string `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	// Platforms limits the flow to some client platforms; nil is all.
	Platforms *Platforms `yaml:"platforms,omitempty" json:"platforms,omitempty"`
	// Via is "proxy" when the traffic goes through the site's web proxy.
	Via     string `yaml:"via,omitempty" json:"via,omitempty"`
	Purpose Text   `yaml:"purpose" json:"purpose"`
	Note    string `yaml:"note,omitempty" json:"note,omitempty"`
	Source  Source `yaml:"source" json:"source"`
}

// LocalSrcPorts records the source ports a document says the local side
// sends from ("RTP 6000 – 6200, higher ports when those are taken"). They
// describe the endpoint; rules do not match on them, because an endpoint
// that falls back to other ports would be cut off.
type LocalSrcPorts struct {
	Ports  []string `yaml:"ports" json:"ports"`
	Source Source   `yaml:"source" json:"source"`
}

// Platform is a client platform a service runs on (windows, ios,
// android, web…), which some flows are limited to.
type Platform struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description" json:"description"`
}

// Platforms limits a flow to the platforms Only lists, or to all but the
// ones Except lists; one of the two is set.
type Platforms struct {
	Only   []string `yaml:"only,omitempty" json:"only,omitempty"`
	Except []string `yaml:"except,omitempty" json:"except,omitempty"`
}

// Includes reports whether the flow is used on platform p.
func (ps *Platforms) Includes(p string) bool {
	if ps == nil {
		return true
	}
	if len(ps.Only) > 0 {
		return slices.Contains(ps.Only, p)
	}
	return !slices.Contains(ps.Except, p)
}

// String says "only ios, android" or "all but ios, android".
func (ps *Platforms) String() string {
	switch {
	case ps == nil:
		return "all platforms"
	case len(ps.Only) > 0:
		return "only " + strings.Join(ps.Only, ", ")
	}
	return "all but " + strings.Join(ps.Except, ", ")
}

// Protos returns the flow's protocols.
func (f *Flow) Protos() []string { return f.Proto }

// ConstraintKind names what a constraint asks of the network.
type ConstraintKind string

// Constraint kinds.
const (
	// KindALGOff: application layer gateways for Apps (sip, h323) must be off.
	KindALGOff ConstraintKind = "alg-off"
	// KindNATTimeout: UDP bindings on Proto/Ports must live MinTimeout;
	// the service sends keep-alives every Keepalive.
	KindNATTimeout ConstraintKind = "nat-timeout"
	// KindTLSMin: TLS below MinVersion does not work on Ports.
	KindTLSMin ConstraintKind = "tls-min"
	// KindSSLInspectionOff: no SSL/TLS inspection for Hosts.
	KindSSLInspectionOff ConstraintKind = "ssl-inspection-off"
	// KindProxyAuth: a web proxy must authenticate with one of Allowed.
	KindProxyAuth ConstraintKind = "proxy-auth"
	// KindAllowByName: allow Hosts by DNS name, not by address.
	KindAllowByName ConstraintKind = "allow-by-name"
	// KindNoInbound: nothing inbound needs to be opened.
	KindNoInbound ConstraintKind = "no-inbound"
	// KindViaProxy: traffic to Hosts is meant to go through the web proxy.
	KindViaProxy ConstraintKind = "via-proxy"
	// KindDynamicSrcPorts: clients send from Ports but may use others;
	// never filter on source port.
	KindDynamicSrcPorts ConstraintKind = "dynamic-src-ports"
	// KindPortPreservingNAT: the site's NAT must keep the local source
	// ports Ports (Proto) unchanged on the way out, a static port mapping
	// (SIP trunks that register from a fixed port ask for it).
	KindPortPreservingNAT ConstraintKind = "port-preserving-nat"
	// KindSetting: a setting outside the network (client policy…).
	KindSetting ConstraintKind = "setting"
	// KindNotice: advice the model cannot otherwise say.
	KindNotice ConstraintKind = "notice"
)

// ConstraintKinds lists every kind, in the order they are documented.
var ConstraintKinds = []ConstraintKind{
	KindALGOff, KindNATTimeout, KindTLSMin, KindSSLInspectionOff, KindProxyAuth,
	KindAllowByName, KindNoInbound, KindViaProxy, KindDynamicSrcPorts, KindPortPreservingNAT, KindSetting, KindNotice,
}

// Constraint is a requirement that is not a port but breaks calls all the same.
type Constraint struct {
	ID         string         `yaml:"id" json:"id"`
	Kind       ConstraintKind `yaml:"kind" json:"kind"`
	Feature    string         `yaml:"feature,omitempty" json:"feature,omitempty"`
	Apps       []string       `yaml:"apps,omitempty" json:"apps,omitempty"`
	Proto      StringList     `yaml:"proto,omitempty" json:"proto,omitempty"`
	Ports      []string       `yaml:"ports,omitempty" json:"ports,omitempty"`
	Hosts      []string       `yaml:"hosts,omitempty" json:"hosts,omitempty"`
	Flows      []string       `yaml:"flows,omitempty" json:"flows,omitempty"`
	MinTimeout Duration       `yaml:"min_timeout,omitempty" json:"min_timeout,omitempty"`
	Keepalive  Duration       `yaml:"keepalive,omitempty" json:"keepalive,omitempty"`
	MinVersion string         `yaml:"min_version,omitempty" json:"min_version,omitempty"`
	Allowed    []string       `yaml:"allowed,omitempty" json:"allowed,omitempty"`
	Refused    []string       `yaml:"refused,omitempty" json:"refused,omitempty"`
	Purpose    Text           `yaml:"purpose" json:"purpose"`
	Note       string         `yaml:"note,omitempty" json:"note,omitempty"`
	Source     Source         `yaml:"source" json:"source"`
}

// Service is one vendor's requirements: a whole profile.
type Service struct {
	Info        Info         `yaml:"service" json:"service"`
	Notes       []Note       `yaml:"notes,omitempty" json:"notes,omitempty"`
	Params      []Param      `yaml:"params,omitempty" json:"params,omitempty"`
	Features    []Feature    `yaml:"features,omitempty" json:"features,omitempty"`
	Platforms   []Platform   `yaml:"platforms,omitempty" json:"platforms,omitempty"`
	Roles       []Role       `yaml:"roles" json:"roles"`
	Hosts       []HostSet    `yaml:"hosts" json:"hosts"`
	Flows       []Flow       `yaml:"flows" json:"flows"`
	Constraints []Constraint `yaml:"constraints,omitempty" json:"constraints,omitempty"`

	// File is where the profile was loaded from ("embedded:starleaf.yaml"
	// for the catalog's own).
	File string `yaml:"-" json:"-"`
}

// Slug is the service's short name.
func (s *Service) Slug() string { return s.Info.Slug }

// Param returns the named param, or nil.
func (s *Service) Param(name string) *Param {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

// Feature returns the named feature, or nil.
func (s *Service) Feature(name string) *Feature {
	for i := range s.Features {
		if s.Features[i].Name == name {
			return &s.Features[i]
		}
	}
	return nil
}

// Platform returns the named platform, or nil.
func (s *Service) Platform(name string) *Platform {
	for i := range s.Platforms {
		if s.Platforms[i].Name == name {
			return &s.Platforms[i]
		}
	}
	return nil
}

// Role returns the named role, or nil.
func (s *Service) Role(name string) *Role {
	for i := range s.Roles {
		if s.Roles[i].Name == name {
			return &s.Roles[i]
		}
	}
	return nil
}

// HostSet returns the named host set, or nil.
func (s *Service) HostSet(name string) *HostSet {
	for i := range s.Hosts {
		if s.Hosts[i].Name == name {
			return &s.Hosts[i]
		}
	}
	return nil
}

// Flow returns the flow with that id, or nil.
func (s *Service) Flow(id string) *Flow {
	for i := range s.Flows {
		if s.Flows[i].ID == id {
			return &s.Flows[i]
		}
	}
	return nil
}

// SourceDocument is the document a source names, or the service's own.
func (s *Service) SourceDocument(src Source) string {
	if src.Document != "" {
		return src.Document
	}
	return s.Info.Document
}

// StringList is a list of strings that a profile may also write as a single
// scalar: `proto: tcp` or `proto: [tcp, udp]`.
type StringList []string

// String joins the list with "+".
func (l StringList) String() string { return strings.Join(l, "+") }

// Duration is a duration written as Go writes one ("90s", "2m").
type Duration string

// String returns the duration as written.
func (d Duration) String() string { return string(d) }
