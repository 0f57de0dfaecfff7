//go:build linux

package netnstest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIntegrationPair(t *testing.T) {
	RequireRoot(t, "creates network namespaces")
	var names []string
	t.Run("pair", func(t *testing.T) {
		p := NewPair(t, "vknnt")
		names = []string{p.A.Name, p.B.Name}
		if len(p.IfA) > maxIfname || len(p.IfB) > maxIfname {
			t.Errorf("interface names %q, %q longer than %d bytes", p.IfA, p.IfB, maxIfname)
		}
		for _, c := range []struct {
			ns       *NS
			mine     string
			notMine  string
			nonlocal string
		}{{p.A, p.IfA, p.IfB, "1"}, {p.B, p.IfB, p.IfA, "0"}} {
			err := c.ns.Do(func() error {
				if _, err := net.InterfaceByName(c.mine); err != nil {
					return err
				}
				if _, err := net.InterfaceByName(c.notMine); err == nil {
					t.Errorf("%s is visible in %s", c.notMine, c.ns.Name)
				}
				return nil
			})
			if err != nil {
				t.Errorf("in %s: %v", c.ns.Name, err)
			}
			if c.ns == p.A {
				c.ns.Sysctl(t, "net.ipv4.ip_nonlocal_bind", "1")
			}
			if got := strings.TrimSpace(c.ns.Must(t, "cat", "/proc/sys/net/ipv4/ip_nonlocal_bind")); got != c.nonlocal {
				t.Errorf("ip_nonlocal_bind in %s = %s, want %s", c.ns.Name, got, c.nonlocal)
			}
		}
		WaitFor(t, time.Second, "link listed in B", func() (bool, string) {
			out := p.B.IP(t, "link", "show", p.IfB)
			return strings.Contains(out, p.IfB), out
		})
	})
	for _, name := range names {
		if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
			t.Errorf("namespace %s left behind (stat: %v)", name, err)
		}
	}
}

// TestImportedOnlyFromTests keeps the package out of the daemon's build.
func TestImportedOnlyFromTests(t *testing.T) {
	const self = "github.com/vipkeeper/vipkeeper/internal/netnstest"
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || (strings.HasPrefix(n, ".") && n != "." && n != "..") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == self {
				t.Errorf("%s imports %s; only _test.go files may", path, self)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
