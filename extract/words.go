package extract

import "strings"

// The vocabularies the extractor reads documents with, by meaning, in the
// languages vendors write in (English, German, Portuguese, Spanish, French,
// Italian, Turkish, Japanese). Words are matched lower-cased; entries with
// a leading or trailing space match at word edges only.

// portWords are words for "port".
var portWords = map[string]bool{
	"port": true, "ports": true, "porta": true, "portas": true, "porte": true, "puerto": true, "puertos": true,
	"portu": true, "portlar": true, "portları": true, "portlarına": true, "portuna": true, "portunu": true, "portlarını": true,
	"ポート": true, "番ポート": true, "番": true, "ポート番号": true, "portnummer": true, "portnummern": true,
	"portbereich": true, "portbereiche": true, "portbereichs": true, "portas:": true, "port-range": true,
	"portrange": true, "dport": true, "dstport": true, "puertas": true, "porti": true,
}

// isPortWord says whether a word means port, German compounds included
// (Zielport, UDP-Medienport, Portbereich) but not transport or support.
func isPortWord(w string) bool {
	if portWords[w] {
		return true
	}
	for _, bad := range []string{"transport", "support", "report", "import", "export", "passport", "airport", "sport", "rapport", "porte-"} {
		if strings.Contains(w, bad) {
			return false
		}
	}
	if strings.HasSuffix(w, "port") || strings.HasSuffix(w, "ports") || strings.HasPrefix(w, "portbereich") {
		return len(w) > 4
	}
	return strings.HasSuffix(w, "ポート")
}

// fillerWords may stand between a protocol or "port" and its number.
var fillerWords = map[string]bool{
	"the": true, "de": true, "da": true, "do": true, "das": true, "dos": true, "del": true, "von": true, "vom": true,
	"der": true, "die": true, "den": true, "des": true, "du": true, "le": true, "la": true, "les": true, "il": true,
	"lo": true, "el": true, "los": true, "las": true, "range": true, "ranges": true, "bereich": true, "number": true,
	"numbers": true, "numéro": true, "número": true, "numero": true, "nummer": true, "nr": true, "n°": true,
	"on": true, "at": true, "auf": true, "über": true, "sur": true, "en": true, "em": true, "na": true, "nas": true,
	"no": true, "nos": true, "nella": true, "sulla": true, "sobre": true, "from": true, "entre": true, "between": true,
	"zwischen": true, "tra": true, "fra": true, "dal": true, "dalla": true, "desde": true, "destination": true,
	"dest": true, "ziel": true, "aralığı": true, "arası": true, "arasında": true, "numarası": true, "der:": true, "folgenden": true, "following": true,
	"seguintes": true, "siguientes": true, "suivants": true, "seguenti": true, "aşağıdaki": true, "einer": true,
	"one": true, "of": true, "um": true, "uno": true, "un": true, "una": true, "bir": true, "either": true,
	"media": true, "medien": true, "mídia": true, "medios": true, "médias": true, "signalling": true,
	"signaling": true, "destino": true, "destinazione": true, "hedef": true, "番号": true, "numaralı": true, "arasındaki": true, "番": true,
}

// conjWords join items of a list: ports, protocols.
var conjWords = map[string]bool{
	"and": true, "und": true, "e": true, "y": true, "et": true, "ve": true, "ed": true, "or": true, "oder": true,
	"ou": true, "o": true, "veya": true, "ya": true, "da": true, "sowie": true, "plus": true, "as": true, "well": true,
	"then": true, "dann": true, "/": true, "+": true, "&": true, "・": true, "、": true, ",": true, "and/or": true,
	"und/oder": true, "e/ou": true, "y/o": true, "et/ou": true, "および": true, "または": true, "と": true, "や": true,
	"ayrıca": true, "ile": true, "also": true, "auch": true, "bzw": true, "bzw.": true,
}

// timeWords follow a number that is a duration, size or count, not a port.
var timeWords = []string{
	"s", "sec", "secs", "second", "seconds", "sekunde", "sekunden", "sek", "segundo", "segundos", "secondo", "secondi",
	"seconde", "secondes", "saniye", "saniyede", "秒", "ms", "millisekunden", "milliseconds", "min", "mins", "minute",
	"minutes", "minuten", "minuto", "minutos", "minuti", "分", "dakika", "h", "hour", "hours", "stunde", "stunden",
	"hora", "horas", "ora", "ore", "heure", "heures", "時間", "saat", "day", "days", "tage", "tagen", "dias", "días",
	"giorni", "jours", "gün", "日", "%", "kbps", "mbps", "gbps", "kbit", "mbit", "kb", "mb", "gb", "bit", "bits",
	"byte", "bytes", "x", "times", "mal", "vezes", "veces", "fois", "volte", "kez", "回", "calls", "anrufe",
	"chamadas", "llamadas", "appels", "chiamate", "çağrı", "users", "benutzer", "usuários", "usuarios", "utilisateurs",
	"utenti", "kullanıcı", "件", "台", "人", "ms.", "sn", "km", "m", "year", "years", "jahre", "anos", "años",
}

// beforeNonPort are words after which a number is not a port.
var beforeNonPort = map[string]bool{
	"note": true, "notes": true, "table": true, "tabelle": true, "tabla": true, "tabela": true, "tablo": true,
	"tableau": true, "tabella": true, "page": true, "seite": true, "página": true, "pagina": true, "sayfa": true,
	"step": true, "schritt": true, "passo": true, "paso": true, "étape": true, "adım": true, "section": true,
	"abschnitt": true, "seção": true, "sección": true, "sezione": true, "bölüm": true, "chapter": true,
	"kapitel": true, "rev": true, "version": true, "versão": true, "versión": true, "versione": true, "sürüm": true,
	"v": true, "doc": true, "patent": true, "figure": true, "fig": true, "abb": true, "copyright": true,
	"appendix": true, "anhang": true, "release": true, "build": true, "iso": true, "rfc": true, "annex": true,
	"tls": true, "ssl": true, "dtls": true, "ipv": true, "windows": true, "android": true, "ios": true, "macos": true,
	"firmware": true, "cisco": true, "vcs": true, "hinweis": true, "nota": true, "remarque": true, "not": true,
	"item": true, "punkt": true, "footnote": true, "fußnote": true, "h": true, "q": true, "annexe": true, "art": true,
}

// Protocol words: transport protocols and the protocols of applications
// that imply one.
var (
	protoPhrases = []struct {
		text   string
		protos []string
	}{
		{"transmission control protocol", []string{"tcp"}},
		{"user datagram protocol", []string{"udp"}},
	}
	// appWords maps a word to an app name and the transport it implies
	// ("" when it implies none).
	appWords = map[string][2]string{
		"https": {"https", "tcp"}, "http": {"http", "tcp"}, "sip-tls": {"sip-tls", "tcp"}, "sips": {"sip-tls", "tcp"},
		"sip": {"sip", ""}, "rtp": {"rtp", "udp"}, "srtp": {"rtp", "udp"}, "rtcp": {"rtp", "udp"}, "(s)rtp": {"rtp", "udp"},
		"(s)rtcp": {"rtp", "udp"}, "stun": {"stun", "udp"}, "turn": {"turn", ""}, "turns": {"turn", "tcp"},
		"xmpp": {"xmpp", "tcp"}, "ntp": {"ntp", "udp"}, "dns": {"dns", ""}, "h.323": {"h323", ""}, "h323": {"h323", ""},
		"h.225": {"h323", "tcp"}, "h.245": {"h323", "tcp"}, "ldap": {"ldap", "tcp"}, "ldaps": {"ldap", "tcp"},
		"ssh": {"ssh", "tcp"}, "mqtt": {"mqtt", "tcp"}, "tftp": {"tftp", "udp"}, "snmp": {"snmp", "udp"},
		"syslog": {"syslog", ""}, "rdp": {"rdp", "tcp"}, "bfcp": {"bfcp", ""}, "webrtc": {"webrtc", ""},
		"smtp": {"smtp", "tcp"}, "imap": {"imap", "tcp"}, "ftp": {"ftp", "tcp"}, "sftp": {"ssh", "tcp"},
		"ipsec": {"ipsec", "udp"}, "openvpn": {"openvpn", ""}, "vpn": {"vpn", ""}, "iax": {"iax", "udp"},
		"iax2": {"iax", "udp"}, "websocket": {"websocket", "tcp"}, "wss": {"websocket", "tcp"}, "tls": {"tls", "tcp"},
		"rtsp": {"rtsp", ""}, "radius": {"radius", "udp"},
	}
)

// wellKnown is what a port usually carries, for rows that name no
// transport: the app and its transport.
var wellKnown = map[int][2]string{
	20: {"ftp", "tcp"}, 21: {"ftp", "tcp"}, 22: {"ssh", "tcp"}, 25: {"smtp", "tcp"}, 53: {"dns", "udp"},
	69: {"tftp", "udp"}, 80: {"http", "tcp"}, 123: {"ntp", "udp"}, 161: {"snmp", "udp"}, 389: {"ldap", "tcp"},
	443: {"https", "tcp"}, 500: {"ipsec", "udp"}, 514: {"syslog", "udp"}, 587: {"smtp", "tcp"}, 636: {"ldap", "tcp"},
	993: {"imap", "tcp"}, 1194: {"openvpn", "udp"}, 1720: {"h323", "tcp"}, 1883: {"mqtt", "tcp"}, 2197: {"push", "tcp"},
	3389: {"rdp", "tcp"}, 3478: {"stun", "udp"}, 4500: {"ipsec", "udp"}, 5060: {"sip", ""}, 5061: {"sip-tls", "tcp"},
	5222: {"xmpp", "tcp"}, 5223: {"push", "tcp"}, 5228: {"push", "tcp"}, 5229: {"push", "tcp"}, 5230: {"push", "tcp"},
	5349: {"turn", "tcp"}, 8080: {"http", "tcp"}, 8443: {"https", "tcp"}, 8883: {"mqtt", "tcp"},
}

// Direction words. Inbound wins when a statement has both.
var (
	inboundWords = []string{
		"inbound", "incoming connection", "incoming traffic", "incoming port", "incoming tcp", "incoming udp",
		"incoming sip", "incoming rtp", "incoming media", "accessible from", "reachable from", "open from",
		"from the internet", "from outside", "port forward", "forwarded to", "forward to", "eingehend",
		"weitergeleitet", "weiterleiten", "von außen", "aus dem internet", "entrada", "entrante", "de fora",
		"vinda de", "vindas de", "vindo de", "encaminhad", "redirecionad", "in ingresso", "entranti", "dall'esterno",
		"inoltrat", "entrant", "depuis l'extérieur", "depuis internet", "desde el exterior", "desde internet",
		"reenviad", "受信", "インバウンド", "着信方向", "外部から", "gelen", "dışarıdan", "içeri", "yönlendir",
		"to your sbc", "reach your", "connectivity to the ip",
	}
	outboundWords = []string{
		"outbound", "outgoing", "ausgehend", "saída", "saida", "sainte", "saliente", "in uscita", "uscente",
		"sortant", "送信", "発信", "アウトバウンド", "giden", "dışarıya", "richtung wan", "initiated internally",
		"iniciados internamente", "iniciadas pela rede local", "toward the internet", "to the internet",
	}
	// notInbound: "incoming" words that say nothing of who connects.
	notInbound = []string{"incoming messages", "incoming call", "incoming notification", "chamadas de entrada", "eingehende anrufe"}
)

// Necessity words, weakest first: a statement takes the weakest it names.
var (
	optionalWords = []string{
		"optional", "optionally", "opcional", "opcionais", "facultatif", "facultative", "facoltativ", "isteğe bağlı", "opsiyonel",
		"任意", "オプション", "falls ", "if you ", "if your ", "if using", "when using", "wenn sie", "sofern", "se si ",
		"se você", "caso ", "si utiliza", "si vous", "si usa", "場合", "kullanıyorsanız", "ise ", "if required",
		"not required", "nicht erforderlich", "não obrigatório", "no obligatorio",
	}
	recommendedWords = []string{
		"recommended", "recommend", "empfohlen", "empfehlen", "recomendad", "recommandé", "raccomandat", "consigliat",
		"推奨", "önerilir", "önerilen", "tavsiye", "should", "sollte", "deveria", "debería", "devrait", "dovrebbe",
		"best quality", "bester qualität", "qualitätsgründen",
	}
	requiredWords = []string{
		"required", "mandatory", "must", "necessary", "needed", "need to", "erforderlich", "notwendig", "benötigt",
		"zwingend", "muss", "müssen", "obrigatóri", "necessári", "obligatori", "imprescindible", "necesari",
		"obligatoire", "nécessaire", "obbligatori", "necessari", "richiest", "必須", "必要", "gerekli", "zorunlu",
		"mutlaka", "açık olmalı", "olmalıdır", "deve", "devem", "debe", "doit", "deve essere",
	}
)

// bothWays say that a flow goes both ways; bothWords in a protocol
// column say TCP and UDP.
var (
	bothWays = []string{"bidirectional", "bi-directional", "both directions", "bidirektional", "beide richtungen", "bidirecional",
		"bidireccional", "bidirectionnel", "bidirezionale", "双方向", "çift yönlü", "inbound and outbound", "inbound/outbound",
		"in/out", "ein- und ausgehend", "eingehend und ausgehend", "eingehend/ausgehend", "entrada e saída", "entrada/saída",
		"entrada y salida", "entrada/salida", "entrant et sortant", "entrant/sortant", "in entrata e in uscita", "entrata/uscita",
		"gelen ve giden", "gelen/giden", "送受信"}
	bothWords = []string{"both", "beide", "ambos", "les deux", "entrambi", "両方", "her ikisi", "any", "all"}
	yesWords  = []string{" yes ", " ja ", " sim ", " sí ", " si ", " oui ", " evet ", " はい ", " ✓ ", " x "}
	noWords   = []string{" no ", " nein ", " não ", " non ", " hayır ", " いいえ ", " - ", " – "}
)

// lanWords say that a flow stays in the site's own networks.
var lanWords = []string{"inside your network", "within your network", "inside the local network", "stays in your network",
	"same network", "same subnet", "same lan", "im selben netz", "im gleichen netz", "im lokalen netz", "innerhalb ihres netz",
	"na mesma rede", "en la misma red", "dans le même réseau", "nella stessa rete", "aynı ağ", "同一ネットワーク", "社内ネットワーク内"}

// fallbackWords say what a client does when its first way fails.
var fallbackWords = []string{"fall back", "falls back", "fallback", "fall-back", "if udp is blocked", "if udp is not available",
	"weicht", "ausweich", "fällt zurück", "ist udp gesperrt", "nicht möglich ist, verbindet", "irá tentar", "não consiga conectar",
	"no es posible", "si udp está bloqueado", "à défaut", "repli", "in alternativa", "ripiega", "engelliyse", "使えない場合",
	"フォールバック", "代わりに"}

// conditionWords say when an optional flow is needed ("if you use…").
var conditionWords = []string{"if ", "when ", "falls ", "wenn ", "sofern ", "se ", "caso ", "si ", "quand ", "場合", "ise ", "sa ", "kullanıyorsanız", "durumunda"}

// backRefWords point back to hosts named before ("these servers").
var backRefWords = []string{"these", "the same", "the above", "those", "them", "diese", "dieselben", "denselben", "obigen",
	"genannten", "esses", "estes", "mesmos", "mesmas", "acima", "estos", "estas", "mismos", "mismas", "ces ", "mêmes",
	"ci-dessus", "questi", "queste", "stessi", "stesse", "suddett", "bu ", "aynı", "上記", "同じ", "これら", "same"}

// oneOfWords say that any one of the ports listed is enough.
var oneOfWords = []string{"one of the", "einer der", "einen der", "um dos", "uma das", "uno de", "una de", "l'un des", "l'une des", "uno dei", "una delle", "いずれか", "birini", "only one", "nur einen"}

// hostPlaceholders are words that stand for a customer's own part of a name.
var hostPlaceholderRE = `(?:\[[A-Za-z][\w-]{0,40}\]|'[A-Za-z][\w-]{0,40}'|<[A-Za-z][\w-]{0,40}>|\{[A-Za-z][\w-]{0,40}\}|%[A-Za-z][\w-]{0,40}%)`

// fileExts are endings that make a dotted word a file, not a host.
var fileExts = map[string]bool{
	"exe": true, "msi": true, "pkg": true, "dmg": true, "apk": true, "pdf": true, "txt": true, "html": true,
	"htm": true, "php": true, "asp": true, "aspx": true, "js": true, "json": true, "xml": true, "yaml": true,
	"yml": true, "zip": true, "png": true, "jpg": true, "jpeg": true, "gif": true, "svg": true, "md": true,
	"csv": true, "log": true, "conf": true, "cfg": true, "ini": true, "sh": true, "py": true, "jar": true,
	"deb": true, "rpm": true, "tar": true, "gz": true, "doc": true, "docx": true, "xls": true, "xlsx": true,
	"ppt": true, "pptx": true, "mp4": true, "mp3": true, "wav": true, "css": true, "ts": true, "bat": true,
	"ps1": true, "cmd": true, "dll": true, "so": true, "bin": true, "img": true, "iso": true, "crt": true,
	"pem": true, "key": true, "cer": true, "net": false,
}

// contains reports whether the lower-cased text holds any of the words.
func containsAny(lower string, words []string) string {
	for _, w := range words {
		if strings.Contains(lower, w) {
			return w
		}
	}
	return ""
}
