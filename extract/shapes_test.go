package extract

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/portolan/portolan/model"
)

// TestShapes: the shapes vendor documents take, each read to the flows a
// reader finds in it (direction, protocol, port, remote entries).
func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		format    Format
		want      []string
	}{
		{"heading over a host list", "# Acme ports\n\n### TCP 443\n\n- a.acme.example\n- b.acme.example\n", Markdown,
			[]string{"outbound tcp 443 → a.acme.example,b.acme.example"}},
		{"sentence over a host list", "Acme ports\n\nOpen TCP 8443 to:\n\n- 192.0.2.0/25\n- 2001:db8::/48\n", Text,
			[]string{"outbound tcp 8443 → 192.0.2.0/25,2001:db8::/48"}},
		{"sentence over a table of hosts", "Domains\n\nAllow HTTPS (TCP 443) to the following domains:\n\nDomain\tPurpose\napi.acme.example\tThe API used by every client\ncdn.acme.example\tSoftware updates and downloads\n\nOther text.\n", Text,
			[]string{"outbound tcp 443 → api.acme.example,cdn.acme.example"}},
		{"table of hosts, then the ports", "## Endpoints\n\n| Domain | Purpose |\n|---|---|\n| `api.acme.example` | The API |\n| `cdn.acme.example` | Downloads |\n\nAll of these are reached on TCP 443.\n", Markdown,
			[]string{"outbound tcp 443 → api.acme.example,cdn.acme.example"}},
		{"sentence over items with descriptions", "Safelist these on TCP 443:\n\n- download.acme.example (the installers and their updates)\n- login.acme.example (single sign-on for every user)\n", Text,
			[]string{"outbound tcp 443 → download.acme.example,login.acme.example"}},
		{"ports paired with hosts in one sentence", "Die Telefone brauchen UDP 5060 zu sip.acme.example und TCP 443 zu prov.acme.example.\n", Text,
			[]string{"outbound tcp 443 → prov.acme.example", "outbound udp 5060 → sip.acme.example"}},
		{"hosts before their ports", "Clients reach api.acme.example on TCP 443, and media.acme.example on UDP 3478.\n", Text,
			[]string{"outbound tcp 443 → api.acme.example", "outbound udp 3478 → media.acme.example"}},
		{"protocol after the range", "Media uses ports 3478-3481 (UDP) to media.acme.example.\n", Text,
			[]string{"outbound udp 3478-3481 → media.acme.example"}},
		{"protocol column says both", "Port\tProtocol\tDestination\n3478\tBoth\tturn.acme.example\n", Text,
			[]string{"outbound tcp 3478 → turn.acme.example", "outbound udp 3478 → turn.acme.example"}},
		{"bidirectional", "Port\tProtocol\tDirection\tPeer\n3090\tTCP\tBidirectional\t203.0.113.9\n", Text,
			[]string{"inbound tcp 3090 → 203.0.113.9", "outbound tcp 3090 → 203.0.113.9"}},
		{"direction column says both", "Destination\tProtocol\tPort\tDirection\n198.51.100.0/25\tUDP\t20000 - 20999\tBoth\n", Text,
			[]string{"inbound udp 20000-20999 → 198.51.100.0/25", "outbound udp 20000-20999 → 198.51.100.0/25"}},
		{"Markdown row without outer pipes", "Port | Protocol | Destination\n--- | --- | ---\n5060 | UDP | sip.acme.example\n", Markdown,
			[]string{"outbound udp 5060 → sip.acme.example"}},
		{"merged host cell", "<table><tr><th>Host</th><th>Protocol</th><th>Port</th></tr>" +
			"<tr><td rowspan=2>sip.acme.example</td><td>UDP</td><td>5060</td></tr><tr><td>TCP</td><td>5061</td></tr></table>", HTML,
			[]string{"outbound tcp 5061 → sip.acme.example", "outbound udp 5060 → sip.acme.example"}},
		{"a table in <pre>", "<h1>Acme</h1><pre>\nPort      Protocol   Destination\n5060      UDP        sip.acme.example\n10000-20000  UDP     198.51.100.0/24\n</pre>", HTML,
			[]string{"outbound udp 10000-20000 → 198.51.100.0/24", "outbound udp 5060 → sip.acme.example"}},
		{"the document's only sip host", "Acme phones register with sip.acme.example.\n\nPorts\n\n- SIP: UDP 5060\n- Media: UDP 10000-20000\n", Markdown,
			[]string{"outbound udp 10000-20000 → any", "outbound udp 5060 → sip.acme.example"}},
		{"two sip hosts: no guess", "Acme registers its phones with two servers, sip.acme.example and sip.acme.example.net, for redundancy.\n\n- SIP: UDP 5060\n", Markdown,
			[]string{"outbound udp 5060 → any"}},
		{"inbound section", "## Inbound\n\nForward UDP 5060 from 198.51.100.7 to the PBX.\n\n## Outbound\n\nUDP 10000-20000 to 198.51.100.0/24.\n", Markdown,
			[]string{"inbound udp 5060 → 198.51.100.7", "outbound udp 10000-20000 → 198.51.100.0/24"}},
		{"templated name", "Endpoints reach <tenant>.acme.example on TCP 443.\n", Text,
			[]string{"outbound tcp 443 → {}.acme.example"}},
		{"one item a line, under a lead that says inbound", "Ports\n\nThe following ports must be forwarded to the server:\n\nPort 5060 (UDP/TCP) - SIP\nPorts 9000-9999 (UDP) - RTP\n\nThe server connects to updates.acme.example on port 443 (TCP).\n", Text,
			[]string{"inbound tcp 5060 → any", "inbound udp 5060 → any", "inbound udp 9000-9999 → any", "outbound tcp 443 → updates.acme.example"}},
		{"wrapped sentence, host on the next line", "Relays are reached on UDP 3478 through 3481 and TCP 443 at a host named\n`relay.acme.example`. If UDP is blocked the client uses TCP 443.\n", Markdown,
			[]string{"outbound tcp 443 → relay.acme.example", "outbound udp 3478-3481 → relay.acme.example"}},
		{"address range", "Allow UDP 5004 to 192.0.2.16 - 192.0.2.31.\n", Text,
			[]string{"outbound udp 5004 → 192.0.2.16/28"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Extract("doc", []byte(tc.doc), Options{Format: tc.format, Lang: "en"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for it := range profileItems(res.Service) {
				got = append(got, it)
			}
			sort.Strings(got)
			if strings.Join(got, "; ") != strings.Join(tc.want, "; ") {
				t.Errorf("got  %q\nwant %q\n%s", got, tc.want, res.YAML)
			}
		})
	}
}

// TestSourcePorts: a source port the document states is the flow's
// src_ports, not a destination port.
func TestSourcePorts(t *testing.T) {
	for _, doc := range []string{
		"Trunk\n\nSrc Port\tDest Port\tProtocol\tDestination\n5060\t5060\tUDP\ttrunk.acme.example\n",
		"The PBX sends SIP from source port 5060 to UDP port 5080 at trunk.acme.example.\n",
		"Die Anlage sendet vom Quellport 5060 an UDP-Port 5080 zu trunk.acme.example.\n",
	} {
		res, err := Extract("doc.txt", []byte(doc), Options{Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Service.Flows) != 1 {
			t.Fatalf("%q: %d flows, want 1:\n%s", doc, len(res.Service.Flows), res.YAML)
		}
		f := res.Service.Flows[0]
		if strings.Join(f.SrcPorts, ",") != "5060" || len(f.Ports) != 1 {
			t.Errorf("%q: src_ports %v, ports %v; want src 5060 and one destination port", doc, f.SrcPorts, f.Ports)
		}
	}
}

// TestNecessityAndConstraints: necessity from a Yes/No column and the
// document's words, and each kind of constraint in several languages.
func TestNecessityAndConstraints(t *testing.T) {
	doc := "Acme\n\nPort\tProtocol\tRequired\tHost\n443\tTCP\tYes\ta.acme.example\n8443\tTCP\tNo\tb.acme.example\n\n" +
		"Das SIP-ALG des Routers muss deaktiviert sein.\n" +
		"O tempo limite de UDP no NAT deve ser de no mínimo 90 segundos; keep-alives a cada 20 segundos.\n" +
		"La version minimale de TLS est 1.2 sur le port 443.\n" +
		"a.acme.example için SSL denetimi devre dışı bırakılmalıdır.\n" +
		"プロキシ認証は Basic 認証のみ対応しています。\n" +
		"Allow by DNS name rather than by IP address.\n"
	res, err := Extract("doc.txt", []byte(doc), Options{Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	need := map[string]model.Necessity{}
	for _, f := range res.Service.Flows {
		need[f.Ports[0]] = f.Necessity
	}
	if need["443"] != model.Required || need["8443"] != model.Optional {
		t.Errorf("necessity %v, want 443 required, 8443 optional", need)
	}
	kinds := map[model.ConstraintKind]model.Constraint{}
	for _, c := range res.Service.Constraints {
		kinds[c.Kind] = c
	}
	if c := kinds[model.KindALGOff]; len(c.Apps) != 1 || c.Apps[0] != "sip" {
		t.Errorf("alg-off %+v", c)
	}
	if c := kinds[model.KindNATTimeout]; c.MinTimeout != "90s" || c.Keepalive != "20s" {
		t.Errorf("nat-timeout %+v", c)
	}
	if c := kinds[model.KindTLSMin]; c.MinVersion != "1.2" || strings.Join(c.Ports, ",") != "443" {
		t.Errorf("tls-min %+v", c)
	}
	if c := kinds[model.KindSSLInspectionOff]; len(c.Hosts) != 1 {
		t.Errorf("ssl-inspection-off %+v", c)
	}
	if c := kinds[model.KindProxyAuth]; strings.Join(c.Allowed, ",") != "basic" {
		t.Errorf("proxy-auth %+v", c)
	}
	if _, ok := kinds[model.KindAllowByName]; !ok {
		t.Errorf("no allow-by-name in %v", kinds)
	}
}

// TestUnread: lines that mention ports, protocols or hosts and give
// nothing are listed with their line numbers; a port without a protocol
// is not guessed.
func TestUnread(t *testing.T) {
	doc := "Acme\n\nUDP 5060 to sip.acme.example.\nThe setup wizard listens on port 5015.\nCall the IVR at 192.0.2.66 to test.\nUse TCP for management.\nNothing here.\n"
	res, err := Extract("doc.txt", []byte(doc), Options{Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range res.Unread {
		got = append(got, fmt.Sprint(u.Line))
	}
	if strings.Join(got, ",") != "4,5,6" {
		t.Errorf("unread lines %v, want 4, 5, 6: %+v", got, res.Unread)
	}
	if len(res.Unread) > 0 && !strings.Contains(res.Unread[0].Text, "port 5015: no protocol") {
		t.Errorf("line 4: %q", res.Unread[0].Text)
	}
}

// TestFallback: "falls back to" makes the TCP flows the fallback of the
// UDP ones, in order; "one of" makes a one-of group.
func TestFallback(t *testing.T) {
	doc := "Media uses UDP 8801-8810 to 198.51.100.0/24.\nIf UDP is blocked, clients fall back to TCP 8801 and then to TCP 443 at 198.51.100.0/24.\n\nUDP: one of the following ports: 24704, 3478, 1194\n"
	res, err := Extract("doc.txt", []byte(doc), Options{Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	var media, oneOf *model.Flow
	for i := range res.Service.Flows {
		f := &res.Service.Flows[i]
		switch f.Ports[0] {
		case "8801-8810":
			media = f
		case "24704":
			oneOf = f
		}
	}
	if media == nil || len(media.Fallback) != 2 {
		t.Fatalf("media flow %+v: want two fallbacks\n%s", media, res.YAML)
	}
	for i, want := range []string{"8801", "443"} {
		if fb := res.Service.Flow(media.Fallback[i]); fb == nil || fb.Ports[0] != want || fb.Proto[0] != "tcp" {
			t.Errorf("fallback %d: %+v, want TCP %s", i, fb, want)
		}
	}
	if oneOf == nil || !oneOf.OneOf || strings.Join(oneOf.Ports, ",") != "24704,3478,1194" {
		t.Errorf("one-of flow %+v", oneOf)
	}
}
