package extract

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/portolan/portolan/internal/lazyre"
	"github.com/portolan/portolan/model"
)

// draftConstraint is a constraint as read.
type draftConstraint struct {
	kind       model.ConstraintKind
	apps       []string
	proto      []string
	ports      []string
	hosts      []string // nil: every named host set of the profile
	minTimeout string
	keepalive  string
	minVersion string
	allowed    []string
	refused    []string
	purpose    string
	quote      string
	line       int
	note       string
}

var (
	algRE          = lazyre.New(`(?i)(\balgs?\b|application[- ]layer[- ]gateway|sip[- ]?helper|sip[- ]fixup|sip[- ]?transformations|sip inspection)`)
	sslWords       = []string{"ssl inspection", "ssl-inspektion", "ssl-inspection", "tls inspection", "ssl inspektion", "https inspection", "https-inspektion", "inspeção ssl", "inspeção de ssl", "inspección ssl", "inspección de ssl", "inspection ssl", "inspection tls", "ispezione ssl", "ssl インスペクション", "sslインスペクション", "ssl復号", "ssl 復号", "ssl denetimi", "ssl-denetimi", "ssl decryption", "ssl-entschlüsselung", "tls decryption", "break the ssl", "ssl interception", "ssl-bump", "deep packet inspection", "mitm"}
	proxyWords     = []string{"proxy", "proxies", "プロキシ", "vekil sunucu"}
	authWords      = []string{"authentication", "authentifizierung", "autenticação", "autenticación", "authentification", "autenticazione", "認証", "kimlik doğrulama", "auth"}
	authSchemes    = []string{"basic", "digest", "ntlm", "negotiate", "kerberos", "keberos"}
	negWords       = []string{"not supported", "are not", "is not", "nicht", "não", "no es", "no son", "no se", "ne sont pas", "n'est pas", "non sono", "non è", "non supportat", "desteklenmez", "değil", "対応していません", "非対応", "サポートされていません", "unsupported", "refused", "abgelehnt"}
	tlsRE          = lazyre.New(`(?i)\btls(?:\s*v?|[^.;:\d]{0,25}?\b)(1\.[0-3])\b`)
	tlsMinWords    = []string{"or higher", "or later", "or newer", "higher", "minimum", "at least", "mindestens", "höher", "oder neuer", "superior", "ou superior", "mínim", "minimal", "minimale", "minima", "以上", "en az", "veya üzeri", "refus", "nicht möglich", "not possible", "not supported", "nicht unterstützt", "não é possível", "no es posible", "pas possible", "non è possibile"}
	timeoutWords   = []string{"timeout", "time-out", "time out", "binding", "zeitüberschreitung", "session-timeout", "sitzungsdauer", "tempo limite", "expiração", "temporizador", "tiempo de espera", "tiempo límite", "délai", "durée de vie", "expiration", "zaman aşımı", "oturum süresi", "保持時間", "タイムアウト", "セッション保持", "udp-session", "timer", "scadenza"}
	keepaliveWords = []string{"keep-alive", "keepalive", "keep alive", "キープアライブ", "keep-alives"}
	durationRE     = lazyre.New(`(?i)(\d{1,5})\s*(seconds|second|secs|sec|s\b|sekunden|sekunde|sek\.?|segundos|segundo|secondi|secondo|secondes|seconde|saniye|秒|minutes|minute|minuten|minutos|minuto|minuti|min\b|分|dakika)`)
	noInboundRE    = lazyre.New(`(?i)(no inbound|no incoming|not necessary to open ports for inbound|nicht notwendig, ports für eingehende|keine eingehenden|aucun flux entrant|aucune connexion entrante|nenhuma porta de entrada|nenhuma conexão de entrada|ningún puerto de entrada|ninguna conexión entrante|nessuna connessione in ingresso|nessuna porta in ingresso|gelen bağlantı gerekmez|gelen port açılması gerekmez|受信ポートの開放は不要|インバウンド.{0,10}不要|only make outbound|nur ausgehende)`)
	byNameWords    = []string{"dns name", "dns-name", "domain name", "ドメイン名", "fqdn", "nome de domínio", "nomes de domínio", "nom de domaine", "noms de domaine", "nome di dominio", "nombre de dominio", "alan adı", "by name", "per nome", "par nom"}
	ipAddrWords    = []string{"ip address", "ip-adress", "ipアドレス", "ip アドレス", "endereço ip", "endereços ip", "adresse ip", "adresses ip", "indirizzo ip", "indirizzi ip", "dirección ip", "direcciones ip", "ip adres", "by ip"}
)

// constraints reads the constraints of a statement. It returns true when
// the statement is a constraint and its ports are the constraint's, not
// flows.
func (x *extractor) constraints(ui int, u *Unit, toks []token, a, b int, ports []portTok, lead bool) bool {
	text := u.Text[a:b]
	low := strings.ToLower(text)
	anchor := toks[0].off
	line, quote := x.quote(u, a, b, anchor)
	add := func(c *draftConstraint) {
		c.line, c.quote = line, quote
		if c.purpose == "" {
			c.purpose = clip(strings.TrimSpace(text), 200)
		}
		x.cons = append(x.cons, c)
	}
	portList := func() ([]string, []string) {
		var prs, protos []string
		for _, p := range ports {
			t := toks[p.idx]
			prs = appendNew(prs, rangeString(t.lo, t.hi))
			protos = appendNew(protos, p.protos...)
		}
		return prs, protos
	}
	hosts := func() []string {
		var hs []string
		for _, t := range toks {
			if t.kind == tHost {
				hs = appendNew(hs, t.entries...)
			}
		}
		return hs
	}
	consumed := false
	found := false
	if algRE.MatchString(text) && !strings.Contains(low, "algorithm") {
		var apps []string
		if strings.Contains(low, "h.323") || strings.Contains(low, "h323") {
			apps = append(apps, "h323")
		}
		if strings.Contains(low, "sip") || len(apps) == 0 {
			apps = append(apps, "sip")
		}
		add(&draftConstraint{kind: model.KindALGOff, apps: apps})
		found = true
	}
	if containsAny(low, sslWords) != "" {
		add(&draftConstraint{kind: model.KindSSLInspectionOff, hosts: hosts()})
		found = true
	}
	if containsAny(low, proxyWords) != "" && containsAny(low, authWords) != "" || x.inProxyLead(ui) && containsAny(low, authSchemes) != "" {
		allowed, refused := x.authSchemes(ui, toks, low, lead)
		if len(allowed) > 0 {
			add(&draftConstraint{kind: model.KindProxyAuth, allowed: allowed, refused: refused})
			found = true
		}
	}
	if m := tlsRE.FindAllStringSubmatch(text, -1); m != nil && containsAny(low, tlsMinWords) != "" && len(ports) == 0 || m != nil && containsAny(low, tlsMinWords) != "" && u.Kind != Row {
		min := m[0][1]
		refusing := containsAny(low, []string{"refus", "nicht möglich", "not possible", "not supported", "nicht unterstützt", "não é possível", "no es posible", "pas possible", "non è possibile", "desteklenmez"}) != ""
		if refusing && len(m) == 1 {
			min = nextTLS(min)
		}
		prs, _ := portList()
		if len(prs) == 0 && lead {
			prs = x.leadNumbers(ui)
		}
		if min != "" {
			add(&draftConstraint{kind: model.KindTLSMin, ports: prs, minVersion: min})
			found, consumed = true, true
		}
	}
	if d := durationRE.FindStringSubmatch(text); d != nil {
		dur := duration(d[1], d[2])
		switch {
		case containsAny(low, timeoutWords) != "" && dur != "":
			prs, protos := portList()
			c := &draftConstraint{kind: model.KindNATTimeout, ports: prs, proto: protos, minTimeout: dur}
			if ka := containsAny(low, keepaliveWords); ka != "" {
				// a second duration with the keep-alive words
				all := durationRE.FindAllStringSubmatch(text, -1)
				if len(all) > 1 {
					c.minTimeout = maxDuration(all)
					c.keepalive = minDuration(all)
				}
			}
			add(c)
			found, consumed = true, true
		case containsAny(low, keepaliveWords) != "" && dur != "":
			prs, protos := portList()
			add(&draftConstraint{kind: model.KindNATTimeout, ports: prs, proto: protos, keepalive: dur})
			found, consumed = true, true
		}
	}
	if len(ports) == 0 && noInboundRE.MatchString(text) {
		add(&draftConstraint{kind: model.KindNoInbound})
		found = true
	}
	if containsAny(low, byNameWords) != "" && containsAny(low, ipAddrWords) != "" && len(ports) == 0 {
		add(&draftConstraint{kind: model.KindAllowByName})
		found = true
	}
	// "SIP-TLSv1.2" in a row: the TLS version of the port before it
	if u.Kind == Row {
		for i, t := range toks {
			if m := tlsRE.FindStringSubmatch(t.word); m != nil && t.kind == tWord {
				for k := i - 1; k >= 0 && k >= i-3; k-- {
					if toks[k].kind == tNum {
						for _, p := range ports {
							if p.idx == k {
								c := &draftConstraint{kind: model.KindTLSMin, ports: []string{rangeString(toks[k].lo, toks[k].hi)}, minVersion: m[1]}
								l, q := x.quote(u, a, b, t.off)
								c.purpose = clip(strings.TrimSpace(text), 200)
								c.line, c.quote = l, q
								x.cons = append(x.cons, c)
							}
						}
						break
					}
				}
			}
		}
	}
	if found && len(ports) == 0 {
		return true
	}
	return consumed
}

// inProxyLead says whether unit ui follows a lead line about proxy
// authentication ("Proxy authentication protocols:").
func (x *extractor) inProxyLead(ui int) bool {
	for j := ui - 1; j >= 0 && j >= ui-6; j-- {
		v := &x.doc.Units[j]
		if v.Kind != Item {
			low := strings.ToLower(v.Text)
			return strings.HasSuffix(strings.TrimSpace(low), ":") && containsAny(low, proxyWords) != "" && containsAny(low, authWords) != ""
		}
	}
	return false
}

// authSchemes reads which proxy authentication schemes a statement (and,
// for a lead line, the items after it) allows and refuses.
func (x *extractor) authSchemes(ui int, toks []token, low string, lead bool) ([]string, []string) {
	var allowed, refused []string
	read := func(s string) {
		for _, cl := range regexp.MustCompile(`[;.。]`).Split(s, -1) {
			neg := containsAny(cl, negWords) != ""
			only := strings.Contains(cl, "only") || strings.Contains(cl, "nur") || strings.Contains(cl, "のみ") || strings.Contains(cl, "apenas") || strings.Contains(cl, "solo") || strings.Contains(cl, "seulement") || strings.Contains(cl, "sadece")
			for _, sch := range authSchemes {
				if !regexp.MustCompile(`\b` + sch + `\b|` + sch + `認証|` + sch + `-`).MatchString(cl) {
					continue
				}
				name := map[string]string{"keberos": "kerberos"}[sch]
				if name == "" {
					name = sch
				}
				if neg && !only {
					refused = appendNew(refused, name)
				} else {
					allowed = appendNew(allowed, name)
				}
			}
		}
	}
	read(low)
	if lead {
		for j := ui + 1; j < len(x.doc.Units) && x.doc.Units[j].Kind == Item; j++ {
			read(strings.ToLower(x.doc.Units[j].Text))
			x.consumed[j] = true
		}
	}
	return allowed, refused
}

// leadNumbers takes the numbers of the items after a lead line ("- 443").
func (x *extractor) leadNumbers(ui int) []string {
	var out []string
	for j := ui + 1; j < len(x.doc.Units) && x.doc.Units[j].Kind == Item; j++ {
		got := false
		for _, t := range lex(x.doc.Units[j].Text, x.frLike) {
			if t.kind == tNum && t.lo >= 1 && t.hi <= 65535 {
				out = appendNew(out, rangeString(t.lo, t.hi))
				got = true
			}
		}
		if !got {
			break
		}
		x.consumed[j] = true
	}
	return out
}

func nextTLS(v string) string {
	switch v {
	case "1.0":
		return "1.1"
	case "1.1":
		return "1.2"
	case "1.2":
		return "1.3"
	}
	return ""
}

// duration writes a number and its unit as a Go duration ("90s", "2m").
func duration(n, unit string) string {
	v, err := strconv.Atoi(n)
	if err != nil || v <= 0 {
		return ""
	}
	u := strings.ToLower(unit)
	if strings.HasPrefix(u, "m") || u == "分" || strings.HasPrefix(u, "dak") {
		return fmt.Sprintf("%dm", v)
	}
	return fmt.Sprintf("%ds", v)
}

func seconds(d string) int {
	if strings.HasSuffix(d, "m") {
		v, _ := strconv.Atoi(strings.TrimSuffix(d, "m"))
		return v * 60
	}
	v, _ := strconv.Atoi(strings.TrimSuffix(d, "s"))
	return v
}

func maxDuration(all [][]string) string {
	best := ""
	for _, m := range all {
		d := duration(m[1], m[2])
		if best == "" || seconds(d) > seconds(best) {
			best = d
		}
	}
	return best
}

func minDuration(all [][]string) string {
	best := ""
	for _, m := range all {
		d := duration(m[1], m[2])
		if best == "" || seconds(d) < seconds(best) {
			best = d
		}
	}
	return best
}
