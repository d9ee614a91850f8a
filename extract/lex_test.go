package extract

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// portsIn reads one sentence as a paragraph and returns "proto port" for
// every port the extractor finds in it.
func portsIn(text string, frLike bool) []string {
	u := Unit{Kind: Para, Text: text, Spans: []Span{{Off: 0, End: len(text), Line: 1, Lit: true}}}
	x := &extractor{doc: &Document{Units: []Unit{u}, Lines: []string{text}}, frLike: frLike}
	toks := lex(text, frLike)
	var out []string
	for _, p := range x.findPorts(&x.doc.Units[0], toks) {
		t := toks[p.idx]
		for _, proto := range p.protos {
			out = append(out, proto+" "+rangeString(t.lo, t.hi))
		}
	}
	sort.Strings(out)
	return out
}

// TestPortNotations: every notation of ports and ranges the issue lists,
// and the ways vendors tie protocols to them, in several languages.
func TestPortNotations(t *testing.T) {
	for _, tc := range []struct {
		text string
		fr   bool
		want string
	}{
		{"Open UDP 10000-20000 for media.", false, "udp 10000-20000"},
		{"10.000 bis 20.000 UDP eingehende RTP-Audiodaten", false, "udp 10000-20000"},
		{"Portas UDP 10000 a 60000 para o áudio.", false, "udp 10000-60000"},
		{"音声：UDP 10000～20000番ポート", false, "udp 10000-20000"},
		{"Video relay over UDP ports 50000:50999.", false, "udp 50000-50999"},
		{"Open UDP ports 8801 through 8810.", false, "udp 8801-8810"},
		{"Porte UDP da 10000 a 20000 verso il server", false, "udp 10000-20000"},
		{"Portas UDP de 12000 até 12999", false, "udp 12000-12999"},
		{"40000 ile 49999 arası UDP", false, "udp 40000-49999"},
		{"UDP 20000〜29999", false, "udp 20000-29999"},
		{"UDP 15000 - 65000, Secure (S)RTP", false, "udp 15000-65000"},
		{"RTP: UDP 6000 – 6200", false, "udp 6000-6200"},
		{"ports UDP 10 000 à 20 000", true, "udp 10000-20000"},
		{"1.025 bis 65.535 UDP", false, "udp 1025-65535"},
		{"TCP ports 5223, 2197, and 443 on 17.0.0.0/8", false, "tcp 2197,tcp 443,tcp 5223"},
		{"UDP: Einer der folgenden Ports: 24704, 3478, 1194, 500, 123", false, "udp 1194,udp 123,udp 24704,udp 3478,udp 500"},
		{"TCP/UDP 5938", false, "tcp 5938,udp 5938"},
		{"TCP+UDP 3478 to the same networks", false, "tcp 3478,udp 3478"},
		{"5060 UDP und TCP", false, "tcp 5060,udp 5060"},
		{"port TCP/5061 for SIP TLS (or TCP/5060 for SIP TCP)", false, "tcp 5060,tcp 5061"},
		{"443/tcp and 3478/udp", false, "tcp 443,udp 3478"},
		{"TCP-Port 443", false, "tcp 443"},
		{"UDP-Medienport Range:16384-24575", false, "udp 16384-24575"},
		{"UDP 5060番ポート（必須）", false, "udp 5060"},
		{"203.0.113.200 adresine TCP 5222 portu da açık olmalıdır", false, "tcp 5222"},
		{"UDP 3478 und UDP 3479 (STUN)", false, "udp 3478,udp 3479"},
		{"UDP, 3478, STUN; * TCP, 5060, SIP; TCP, 5061, SIP-TLSv1.2;", false, "tcp 5060,tcp 5061,udp 3478"},
		{"secure HTTPS (443) tunneling", false, "tcp 443"},
		{"HTTP sobre a porta 80 deve estar habilitada.", false, "tcp 80"},
		{"Si la conexión UDP al puerto 1194 no es posible, los teléfonos utilizan el puerto TCP 443", false, "tcp 443,udp 1194"},
		{"via HTTPS über Port 443", false, "tcp 443"},
		{"porte UDP comprese tra 4000 e 4999 verso 203.0.113.128/25", false, "udp 4000-4999"},
		{"UDP ports between 10000 and 20000", false, "udp 10000-20000"},
		{"UDP-Ports zwischen 10000 und 20000", false, "udp 10000-20000"},
		{"TCP 80 e 443", false, "tcp 443,tcp 80"},
		{"UDP 10000 番から 20000 番までのポート", false, "udp 10000-20000"},
		{"5060 numaralı UDP portu", false, "udp 5060"},
		{"10000 ile 20000 arasındaki UDP portlarına", false, "udp 10000-20000"},
		// not ports
		{"Keep-alives every 30 seconds on UDP.", false, ""},
		{"TLS 1.2 or higher on TCP", false, ""},
		{"Call 1.800.849.5507 or +1.204.487.0612", false, ""},
		{"Refer to Note 1 (on page 8)", false, ""},
		{"Doc #: 400295-08 Rev: D, December 2022 (v11.4.11)", false, ""},
		{"UDP timeout at least 120 Sekunden", false, ""},
		{"5061 1 TCP", false, ""},
	} {
		got := strings.Join(portsIn(tc.text, tc.fr), ",")
		if got != tc.want {
			t.Errorf("%q: ports %q, want %q", tc.text, got, tc.want)
		}
	}
}

func hostsIn(text string) []string {
	var out []string
	for _, t := range findHosts(text) {
		out = append(out, t.entries...)
	}
	return out
}

// TestHosts: names, wildcards, templated names, addresses, CIDRs and
// ranges, IPv4 and IPv6; e-mail addresses, URLs, files and abbreviations
// are not hosts.
func TestHosts(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"config.starleaf.com TCP 443", []string{"config.starleaf.com"}},
		{"Allow HTTPS traffic to *.librestream.com", []string{"*.librestream.com"}},
		{"[your-company].call.sl and 'example'.call.sl", []string{"{your_company}.call.sl", "{example}.call.sl"}},
		{"<tenant>.meet.example", []string{"{tenant}.meet.example"}},
		{"52.142.34.48/28; 51.105.215.0/28;", []string{"52.142.34.48/28", "51.105.215.0/28"}},
		{"the range 192.0.2.10 - 192.0.2.17", []string{"192.0.2.10/31", "192.0.2.12/30", "192.0.2.16/31"}},
		{"192.0.2.8-15", []string{"192.0.2.8/29"}},
		{"2001:db8:4000::/48 and 2001:db8::1", []string{"2001:db8:4000::/48", "2001:db8::1"}},
		{"203.0.113.7", []string{"203.0.113.7"}},
		{"support@librestream.com or meet@pexip.me", nil},
		{"see <https://support.apple.com/en-ca/HT203609>", nil},
		{"install setup.exe and read notes.pdf", nil},
		{"z.B. und e.g. und u.a.", nil},
		{"Call 1.800.849.5507", nil},
		{"version 11.4.11", nil},
		{"Firewall.Die Ports", nil},
	} {
		got := hostsIn(tc.text)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: hosts %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestWords: direction and necessity in each language.
func TestWords(t *testing.T) {
	for _, tc := range []struct {
		text      string
		dir, need string
	}{
		{"Eingehende Ports:", "inbound", ""},
		{"Ausgehende Verbindungen", "outbound", ""},
		{"liberar a entrada na porta TCP 8080 vinda de 203.0.113.50", "inbound", ""},
		{"cihazlara gelen TCP 8443 bağlantılarına izin verin", "inbound", ""},
		{"すべて社内からの発信（アウトバウンド）通信です", "outbound", ""},
		{"Flux entrants", "inbound", ""},
		{"uses TCP ports 443, 5228 for incoming messages", "", ""},
		{"Entrada e saída", "both", ""},
		{"ein- und ausgehend", "both", ""},
		{"TCP 5061 (optional)", "", "optional"},
		{"Portas opcionais", "", "optional"},
		{"Porte facoltative", "", "optional"},
		{"録画ファイルのダウンロード 任意", "", "optional"},
		{"İsteğe bağlı", "", "optional"},
		{"Aus Qualitätsgründen werden folgende Einstellungen empfohlen:(not required)", "", "recommended"},
		{"Gerekli", "", "required"},
		{"必須", "", "required"},
		{"Obligatoire", "", "required"},
	} {
		low := strings.ToLower(tc.text)
		if containsAny(low, bothWays) != "" {
			if tc.dir != "both" {
				t.Errorf("%q reads as both ways", tc.text)
			}
			continue
		}
		if d := string(dirWords(low)); d != tc.dir {
			t.Errorf("%q: direction %q, want %q", tc.text, d, tc.dir)
		}
		if n := string(needWords(low)); n != tc.need {
			t.Errorf("%q: necessity %q, want %q", tc.text, n, tc.need)
		}
	}
}
