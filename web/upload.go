package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// maxFiles bounds the ruleset files of one audit (nft JSON, iptables-save,
// ip6tables-save, ipset save).
const maxFiles = 4

// postForm is a POST's fields and uploaded files, all in memory.
type postForm struct {
	values url.Values
	files  []upload
}

type upload struct {
	name string
	data []byte
}

// readPost reads an urlencoded or multipart body. The caller has bounded
// the body with http.MaxBytesReader; files are read into memory part by
// part (mime/multipart's ReadForm would put large ones in temporary
// files: nothing uploaded is stored).
func readPost(r *http.Request, limit int64) (*postForm, error) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, fmt.Errorf("Content-Type: %v; post the page's form", err)
	}
	f := &postForm{values: url.Values{}}
	switch ct {
	case "application/x-www-form-urlencoded":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		if f.values, err = url.ParseQuery(string(body)); err != nil {
			return nil, fmt.Errorf("the form: %v", err)
		}
		return f, nil
	case "multipart/form-data":
	default:
		return nil, fmt.Errorf("Content-Type %q: post the page's form (multipart/form-data or urlencoded)", ct)
	}
	if params["boundary"] == "" {
		return nil, errors.New("multipart form without a boundary")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return nil, wrapBody(err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, wrapBody(err)
		}
		name := p.FormName()
		if p.FileName() != "" {
			if len(data) == 0 {
				continue // an empty file input
			}
			if len(f.files) == maxFiles {
				return nil, fmt.Errorf("%s: at most %d files", name, maxFiles)
			}
			f.files = append(f.files, upload{name: path.Base(strings.ReplaceAll(p.FileName(), `\`, "/")), data: data})
			continue
		}
		if name == "" {
			continue
		}
		f.values.Add(name, string(data))
	}
}

// wrapBody keeps a MaxBytesError findable.
func wrapBody(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return fmt.Errorf("the form: %v", err)
}
