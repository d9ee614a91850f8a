package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Auth checks who may use the server: users of a bcrypt htpasswd file
// (HTTP Basic), or holders of one token (Authorization: Bearer TOKEN, or
// Basic with any user and the token as password, which a browser asks
// for).
type Auth struct {
	users map[string][]byte // user → bcrypt hash
	token []byte

	mu sync.Mutex
	ok map[[32]byte]bool // credentials bcrypt already accepted
}

// ParseAuth reads an --auth file: "user:$2y$…" lines (htpasswd -B) make
// an htpasswd file; a single line without a colon is a token. Blank lines
// and # comments are skipped. name is for errors.
func ParseAuth(name string, data []byte) (*Auth, error) {
	a := &Auth{users: map[string][]byte{}, ok: map[[32]byte]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	var lines []string
	for sc.Scan() {
		n++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		user, hash, ok := strings.Cut(l, ":")
		if !ok {
			lines = append(lines, l)
			continue
		}
		if user == "" {
			return nil, fmt.Errorf("%s: line %d: empty user name", name, n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("%s: line %d: user %q: not a bcrypt hash (%v); make the file with htpasswd -B", name, n, user, err)
		}
		a.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	switch {
	case len(a.users) > 0 && len(lines) > 0:
		return nil, fmt.Errorf("%s: mixes htpasswd lines (user:hash) and a token line; use one kind", name)
	case len(lines) > 1:
		return nil, fmt.Errorf("%s: %d token lines; a token file holds one token", name, len(lines))
	case len(lines) == 1:
		if len(lines[0]) < 16 || strings.ContainsAny(lines[0], " \t") {
			return nil, fmt.Errorf("%s: the token is one word of at least 16 characters (openssl rand -hex 16)", name)
		}
		a.token = []byte(lines[0])
	case len(a.users) == 0:
		return nil, fmt.Errorf("%s: no user and no token in it", name)
	default: // htpasswd users: the unknown user's hash is made now
		dummyHash()
	}
	return a, nil
}

// Check reports whether the request carries valid credentials.
func (a *Auth) Check(r *http.Request) bool {
	if a.token != nil {
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			return subtle.ConstantTimeCompare([]byte(strings.TrimPrefix(h, "Bearer ")), a.token) == 1
		}
		_, pass, ok := r.BasicAuth()
		return ok && subtle.ConstantTimeCompare([]byte(pass), a.token) == 1
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	hash, known := a.users[user]
	if !known {
		// Spend the same time as for a known user.
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(pass))
		return false
	}
	key := sha256.Sum256([]byte(user + "\x00" + pass + "\x00" + string(hash)))
	a.mu.Lock()
	seen := a.ok[key]
	a.mu.Unlock()
	if seen {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false
	}
	a.mu.Lock()
	if len(a.ok) > 1024 {
		clear(a.ok)
	}
	a.ok[key] = true
	a.mu.Unlock()
	return true
}

// dummyHash is what an unknown user's password is compared with, so that a
// wrong user name takes the time of a wrong password. It is made by the
// first ParseAuth of an htpasswd file, before the server answers, and not
// at init, which every command of the CLI would pay (1.4 ms).
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("portolan"), bcrypt.MinCost)
	return h
})
