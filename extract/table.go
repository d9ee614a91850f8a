package extract

// Tables: the roles of a table's columns, from its header row.

import (
	"strings"
	"unicode/utf8"
)

// column roles of a table, from its header row.
type colRole int

const (
	colOther colRole = iota
	colPort
	colSrcPort
	colProto
	colHost
	colPurpose
	colNeed
	colDir
)

var headerWords = []struct {
	role  colRole
	words []string
}{
	{colSrcPort, []string{"src port", "source port", "quellport", "porta de origem", "puerto de origen", "port source", "porta sorgente", "kaynak port", "送信元ポート"}},
	{colPort, []string{"port", "porta", "puerto", "ポート", "bağlantı noktası"}},
	{colProto, []string{"protocol", "protokoll", "protocolo", "protocole", "protocollo", "プロトコル", "protokol", "transport"}},
	{colHost, []string{"destination", "dest. host", "ziel", "destino", "hedef", "接続先", "宛先", "address", "adresse", "endereço", "dirección", "indirizzo", "adres", "host", "server", "fqdn", "domain", "domäne", "domínio", "dominio", "url", "ip addresses", "ip-adressen"}},
	{colNeed, []string{"required", "erforderlich", "obligatoire", "obrigatório", "obligatorio", "obbligatorio", "必須", "区分", "durum", "status", "mandatory", "necessity", "notwendig"}},
	{colDir, []string{"direction", "richtung", "direção", "dirección", "sens", "direzione", "方向", "yön"}},
	{colPurpose, []string{"description", "beschreibung", "descrição", "descripción", "descrizione", "açıklama", "用途", "purpose", "service", "serviço", "servicio", "servizio", "hizmet", "flux", "notes", "erklärung", "uso", "usage", "zweck", "funktion", "função", "función", "funzione", "説明", "内容", "comment"}},
}

// classifyHeader returns the role of each cell of a header row, and
// whether the row reads as a header at all.
func classifyHeader(u *Unit) ([]colRole, bool) {
	roles := make([]colRole, len(u.Cells))
	known := 0
	for i := range u.Cells {
		c := strings.ToLower(u.CellText(i))
		for _, hw := range headerWords {
			if containsAny(c, hw.words) != "" {
				roles[i] = hw.role
				known++
				break
			}
		}
		if roles[i] == colPort && containsAny(c, []string{"protocol", "protokoll", "protocolo"}) != "" {
			roles[i] = colOther // "Transport, Ports, Protocol": read freely
		}
	}
	for i := range u.Cells {
		if utf8.RuneCountInString(u.CellText(i)) > 60 {
			return roles, false
		}
	}
	for _, t := range lex(u.Text, false) {
		if t.kind == tProto || t.kind == tNum {
			return roles, false
		}
	}
	return roles, known >= 2
}

// cellSays says whether a row's cell of the given role holds one of the
// words.
func (x *extractor) cellSays(u *Unit, role colRole, words []string) bool {
	if u.Kind != Row {
		return false
	}
	for c, r := range x.roles {
		if r == role && c < len(u.Cells) && containsAny(strings.ToLower(u.CellText(c)), words) != "" {
			return true
		}
	}
	return false
}
