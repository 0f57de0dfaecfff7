package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Errors Apply and Plan return; callers tell them apart with errors.Is.
var (
	// ErrUnknownSetting: a name that is not one of Settings().
	ErrUnknownSetting = errors.New("unknown setting")
	// ErrNotPresent: the kernel has no such key (module not loaded).
	ErrNotPresent = errors.New("not present on this node")
	// ErrOverridden: conf.all holds a value that the interface's own
	// value cannot lower, since the kernel uses the larger of the two.
	ErrOverridden = errors.New("overridden by conf.all")
)

// DropInPath is where the drop-in DropIn renders is meant to go.
const DropInPath = "/etc/sysctl.d/90-vipkeeper.conf"

// ApplyOptions say what Plan and Apply work on.
type ApplyOptions struct {
	Root      string   // filesystem root, "/" when empty
	Interface string   // for per-interface settings (arp_*)
	Names     []string // names from Settings()
}

// Change is one setting Apply writes, or would write.
type Change struct {
	Check   string `json:"check"`   // the name, e.g. "be_liberal"
	Setting string `json:"setting"` // the sysctl
	From    string `json:"from"`    // current value; "" when not present
	To      string `json:"to"`      // equal to From when already as recommended

	path      string // file under the root
	dropInKey string
	module    string // module providing the key, if any
	why       string
}

// Changed reports whether applying c writes anything.
func (c Change) Changed() bool { return c.From != c.To }

// Plan validates the names and works out, without writing, what Apply would
// do: a setting already within its recommended range keeps its value. An
// unknown name fails the whole plan, with every unknown name in the error.
func Plan(o ApplyOptions) ([]Change, error) {
	ts, err := resolve(o.Names)
	if err != nil {
		return nil, err
	}
	fsys := os.DirFS(rootOf(o.Root))
	changes := make([]Change, 0, len(ts))
	for _, t := range ts {
		c, err := plan(fsys, o.Interface, t)
		if err != nil {
			return nil, err
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// resolve maps names to tunables, in report order, each once.
func resolve(names []string) ([]tunable, error) {
	var unknown []string
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if _, ok := lookup(n); !ok {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
		want[n] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w %s (known: %s)", ErrUnknownSetting, strings.Join(unknown, ", "), strings.Join(Settings(), ", "))
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no settings named (known: %s)", strings.Join(Settings(), ", "))
	}
	var ts []tunable
	for _, t := range tunables {
		if want[t.name] {
			ts = append(ts, t)
		}
	}
	return ts, nil
}

func plan(fsys fs.FS, iface string, t tunable) (Change, error) {
	if t.maxAll { // per-interface key
		if err := validInterfaceName(iface); err != nil {
			return Change{}, fmt.Errorf("%s needs the VIP interface: %w", t.name, err)
		}
	}
	k := t.key(iface)
	c := Change{Check: t.name, Setting: k.String(), To: itoa(t.want), path: k.path(), dropInKey: k.dropInKey(), module: t.module, why: t.why}
	v, err := readValue(fsys, c.path)
	switch {
	case notPresent(err):
		return c, nil
	case err != nil:
		return Change{}, fmt.Errorf("%s: %w", c.Setting, err)
	}
	c.From = itoa(v)
	eff := v
	if t.maxAll {
		all := t.key("all")
		a, err := readValue(fsys, all.path())
		if err != nil {
			return Change{}, fmt.Errorf("%s: %w", all, err)
		}
		eff = max(a, v)
		if !t.good(eff) && !t.good(max(a, t.want)) {
			return Change{}, fmt.Errorf("%s: %s is %d: %w; change it by hand", t.name, all, a, ErrOverridden)
		}
	}
	if t.good(eff) {
		c.To = c.From
	}
	return c, nil
}

// Apply writes the named settings that are not yet as recommended and
// returns every named setting with its old and new value. It checks every
// name and key before writing anything; if a write fails, it returns the
// changes written so far with the error.
func Apply(o ApplyOptions) ([]Change, error) {
	changes, err := Plan(o)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		if c.From == "" {
			return nil, fmt.Errorf("%s: %w%s", c.Setting, ErrNotPresent, moduleHint(c.module))
		}
	}
	root := rootOf(o.Root)
	for i, c := range changes {
		if !c.Changed() {
			continue
		}
		if err := write(filepath.Join(root, filepath.FromSlash(c.path)), c.To); err != nil {
			done := slices.DeleteFunc(slices.Clone(changes[:i]), func(c Change) bool { return !c.Changed() })
			return done, fmt.Errorf("%s: %w", c.Setting, err)
		}
	}
	return changes, nil
}

func moduleHint(module string) string {
	if module == "" {
		return ""
	}
	return " (is the " + module + " module loaded?)"
}

// write replaces a sysctl's value. It never creates a file.
func write(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// DropIn renders changes as a sysctl.d file for DropInPath, so the values
// survive a reboot. Keys a module provides start with "-": systemd-sysctl
// and sysctl --system then skip them quietly when the module is not loaded.
func DropIn(changes []Change) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s, rendered by `vipkeeper doctor --sysctl-d`.\n", DropInPath)
	b.WriteString("# Kernel settings for keeping connections across a VIP failover; see docs/tuning.md.\n")
	var modules []string
	for _, c := range changes {
		if c.module != "" && !slices.Contains(modules, c.module) {
			modules = append(modules, c.module)
		}
	}
	switch len(modules) {
	case 0:
	case 1:
		fmt.Fprintf(&b, "# Keys starting with \"-\" exist only once %s is loaded: list it in\n", modules[0])
		b.WriteString("# /etc/modules-load.d/ so it is loaded before systemd-sysctl runs.\n")
	default:
		fmt.Fprintf(&b, "# Keys starting with \"-\" exist only once %s are loaded: list them in\n", strings.Join(modules, " and "))
		b.WriteString("# /etc/modules-load.d/ so they are loaded before systemd-sysctl runs.\n")
	}
	for _, c := range changes {
		fmt.Fprintf(&b, "\n# %s: %s\n", c.Check, c.why)
		prefix := ""
		if c.module != "" {
			prefix = "-"
		}
		fmt.Fprintf(&b, "%s%s = %s\n", prefix, c.dropInKey, c.To)
	}
	return []byte(b.String())
}
