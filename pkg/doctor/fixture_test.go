package doctor

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// Node profiles under testdata/, written as real files so they can be read
// with `cat` and copied for Apply tests.
const (
	profileGood            = "good"             // everything as recommended, IPVS loaded
	profileIPVSNoSloppy    = "ipvs-no-sloppy"   // kernel defaults, IPVS and kube-ipvs0
	profileConntrackStrict = "conntrack-strict" // no loose pickup, short timeout, table 80% full
	profileInterfaceDown   = "interface-down"   // eth0 administratively down
	profileNoConntrack     = "no-conntrack"     // no conntrack, no IPVS, no IPv6, no default route
)

var profiles = []string{profileGood, profileIPVSNoSloppy, profileConntrackStrict, profileInterfaceDown, profileNoConntrack}

func profileRoot(profile string) string { return filepath.Join("testdata", profile) }

// mapFS loads a profile into memory, so a test can change single files.
func mapFS(t *testing.T, profile string) fstest.MapFS {
	t.Helper()
	src := os.DirFS(profileRoot(profile))
	m := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, p)
		m[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// copyProfile copies a profile to a temporary directory for Apply to write.
func copyProfile(t *testing.T, profile string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(profileRoot(profile))); err != nil {
		t.Fatal(err)
	}
	return dst
}

// snapshot returns every file under root with its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	files := map[string]string{}
	fsys := os.DirFS(root)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
