package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/portolan/portolan/target"
)

func TestWriteTree(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc-firewalld")
	files := []target.File{
		{Path: "services/portolan-demo.xml", Data: []byte("<service/>\n")},
		{Path: "zones/public.xml", Data: []byte("<zone/>\n")},
	}
	if err := writeTree(dir, "demo", files); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || string(got) != string(f.Data) {
			t.Errorf("%s: %q, %v", f.Path, got, err)
		}
	}
	for _, c := range []struct {
		name  string
		dir   string
		files []target.File
		err   string
	}{
		{"climbs out", dir, []target.File{{Path: "../evil.xml"}}, "outside it"},
		{"absolute", dir, []target.File{{Path: "/etc/passwd"}}, "outside it"},
		{"not a directory", filepath.Join(dir, "zones/public.xml"), files, "not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := writeTree(c.dir, "demo", c.files)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want %q", err, c.err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil.xml")); err == nil {
		t.Error("a file outside the tree was written")
	}
}

type flagTarget struct{ zone *string }

func (f flagTarget) Flags(fs *pflag.FlagSet) { fs.StringVar(f.zone, "zone", "public", "the zone") }

func TestTargetFlags(t *testing.T) {
	var zone string
	cmd := &cobra.Command{Use: "rules"}
	owners := map[string]string{}
	own := pflag.NewFlagSet("x", pflag.ContinueOnError)
	flagTarget{&zone}.Flags(own)
	own.VisitAll(func(fl *pflag.Flag) { cmd.Flags().AddFlag(fl); owners[fl.Name] = "firewalld" })
	if err := cmd.Flags().Parse([]string{"--zone", "internal"}); err != nil {
		t.Fatal(err)
	}
	if zone != "internal" {
		t.Errorf("zone = %q", zone)
	}
	if err := checkTargetFlags(cmd, owners, "firewalld"); err != nil {
		t.Errorf("its own target: %v", err)
	}
	err := checkTargetFlags(cmd, owners, "nftables")
	if err == nil || !strings.Contains(err.Error(), "--zone is a flag of --target firewalld, not of nftables") {
		t.Errorf("another target: %v", err)
	}
}
