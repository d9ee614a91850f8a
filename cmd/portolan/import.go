package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/portolan/portolan/extract"
	"github.com/portolan/portolan/internal/safeio"
)

func init() { extraCommands = append(extraCommands, newImportCmd) }

// maxList bounds a published list: the Microsoft 365 list is about 100 KB.
const maxList = 8 << 20

func newImportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Write a profile from a vendor's machine-readable endpoint list",
		Long: `Write a profile from a list a vendor publishes for machines to read, not
from a document (for documents, see portolan extract).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newImportM365Cmd())
	return cmd
}

func newImportM365Cmd() *cobra.Command {
	var area, slug, version, outFile string
	cmd := &cobra.Command{
		Use:   "m365 FILE|URL",
		Short: "A profile from the Microsoft 365 endpoints web service's JSON",
		Long: `Read the JSON of the Microsoft 365 IP address and URL web service's
endpoints method (a file, - for standard input, or its https URL) and write
a profile: one host set per endpoint set (its URLs, wildcards and IPv4/IPv6
ranges), one flow per set and protocol with the set's TCP and UDP ports,
required or optional as the list says, and no SSL inspection for the
Optimize and Allow sets. Every statement quotes the set's "id" on its line
of the JSON. The list's version is the profile's revision: from
--list-version, or, for a URL, from the service's version method.

--service-area keeps one service area (Exchange, SharePoint, Skype,
Common); Teams is Skype. A URL without a clientrequestid gets a random one,
as the service asks.

Exit codes: 0 written; 1 nothing of the service area in the list; 2
unreadable input or usage.`,
		Example: `  # a saved copy of the list
  portolan import m365 endpoints.json --service-area Skype --list-version 2024053100 -o teams.yaml

  # straight from Microsoft (the version method gives the revision)
  portolan import m365 https://endpoints.office.com/endpoints/worldwide --service-area Skype -o teams.yaml

  # then, as with any profile
  portolan rules --catalog . m365-skype --target nftables --no-resolve`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src := args[0]
			var data []byte
			doc := filepath.Base(src)
			if u, err := url.Parse(src); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
				u = withRequestID(u)
				if data, err = fetchList(cmd.Context(), u.String()); err != nil {
					return err
				}
				doc = u.Scheme + "://" + u.Host + u.Path
				if version == "" {
					if v, err := fetchVersion(cmd.Context(), u); err != nil {
						warnf(cmd.ErrOrStderr(), "the list's version: %v", err)
					} else {
						version = v
					}
				}
			} else {
				if data, err = safeio.ReadFile(src, maxList, cmd.InOrStdin()); err != nil {
					return err
				}
				if src == safeio.Stdin {
					doc = "stdin"
				}
			}
			_, out, warnings, err := extract.ImportM365(data, extract.M365Options{ServiceArea: area, Slug: slug, Document: doc, Version: version})
			for _, w := range warnings {
				warnf(cmd.ErrOrStderr(), "%s", w)
			}
			if err != nil {
				if strings.Contains(err.Error(), "no endpoint set") {
					return failed(err.Error())
				}
				return err
			}
			return writeResult(cmd.OutOrStdout(), outFile, func(w io.Writer) error {
				_, err := w.Write(out)
				return err
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&area, "service-area", "", "keep one service area: Exchange, SharePoint, Skype (Teams) or Common")
	fs.StringVar(&slug, "slug", "", "the service's slug (default m365, or m365-AREA)")
	fs.StringVar(&version, "list-version", "", "the list's version, recorded as the profile's revision")
	addOutputFile(fs, &outFile, "the profile")
	return cmd
}

// withRequestID adds the clientrequestid the web service asks for.
func withRequestID(u *url.URL) *url.URL {
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "clientrequestid") {
			return u
		}
	}
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	q.Set("clientrequestid", fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
	v := *u
	v.RawQuery = q.Encode()
	return &v
}

// fetchVersion asks the version method beside the endpoints method:
// …/endpoints/worldwide → …/version/worldwide.
func fetchVersion(ctx context.Context, u *url.URL) (string, error) {
	if !strings.Contains(u.Path, "/endpoints/") {
		return "", fmt.Errorf("%s is not an …/endpoints/INSTANCE address; give --list-version", u.Redacted())
	}
	v := *u
	v.Path = strings.Replace(u.Path, "/endpoints/", "/version/", 1)
	data, err := fetchList(ctx, v.String())
	if err != nil {
		return "", err
	}
	return extract.M365Version(data)
}

// fetchList gets a published list over HTTP(S), bounded in time and size.
func fetchList(ctx context.Context, addr string) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", redact(addr), resp.Status)
	}
	return safeio.ReadAll(resp.Body, redact(addr), maxList)
}

func redact(addr string) string {
	if u, err := url.Parse(addr); err == nil {
		return u.Scheme + "://" + u.Host + u.Path
	}
	return addr
}
