package extract

import (
	"strings"
	"unicode"
)

// stopWords are frequent words that tell languages apart.
var stopWords = map[string][]string{
	"en": {"the", "and", "to", "of", "for", "is", "are", "with", "your", "must", "this", "that", "be", "on"},
	"de": {"der", "die", "das", "und", "für", "nicht", "mit", "ist", "sind", "auf", "zu", "den", "ihre", "werden", "müssen", "über"},
	"pt": {"os", "as", "para", "não", "são", "com", "uma", "deve", "devem", "na", "nas", "porta", "portas", "da", "do", "em"},
	"es": {"el", "los", "las", "para", "del", "con", "una", "debe", "puerto", "puertos", "es", "que", "se", "al", "y"},
	"it": {"il", "di", "per", "che", "della", "delle", "dei", "con", "una", "porta", "porte", "deve", "è", "sono", "verso"},
	"fr": {"le", "les", "des", "pour", "est", "sur", "une", "avec", "doit", "du", "être", "flux", "au", "aux", "vous"},
	"tr": {"ve", "için", "bir", "bu", "ile", "olmalıdır", "gerekli", "da", "de", "açık", "portu", "izin", "veya", "en"},
	"nl": {"het", "een", "van", "voor", "niet", "zijn", "worden", "moet", "poort", "poorten", "naar"},
}

// DetectLang guesses a document's language: Japanese by its script, the
// others by their most frequent words. English when unsure.
func DetectLang(d *Document) string {
	kana, letters := 0, 0
	counts := map[string]int{}
	words := 0
	for _, u := range d.Units {
		for _, r := range u.Text {
			if unicode.In(r, unicode.Hiragana, unicode.Katakana) {
				kana++
			}
			if unicode.IsLetter(r) {
				letters++
			}
		}
		for _, w := range strings.FieldsFunc(strings.ToLower(u.Text), func(r rune) bool { return !unicode.IsLetter(r) }) {
			words++
			for lang, sw := range stopWords {
				for _, s := range sw {
					if w == s {
						counts[lang]++
					}
				}
			}
		}
		if words > 20000 {
			break
		}
	}
	if letters > 0 && kana*20 >= letters {
		return "ja"
	}
	best, n := "en", 0
	for _, lang := range []string{"en", "de", "pt", "es", "it", "fr", "tr", "nl"} {
		if counts[lang] > n {
			best, n = lang, counts[lang]
		}
	}
	return best
}
