package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/vipkeeper/vipkeeper/pkg/doctor"
	"github.com/vipkeeper/vipkeeper/pkg/kube"
)

// doctorTimeout bounds a whole doctor run; only the kube-proxy ConfigMap
// read can wait on anything, and one GET needs far less.
const doctorTimeout = 15 * time.Second

// doctorArgs are the parsed flags of `vipkeeper doctor`.
type doctorArgs struct {
	iface, kubeconfig, output, root string
	apply                           []string
	sysctlD                         bool
}

func doctorFlags(a *doctorArgs) *pflag.FlagSet {
	fs := pflag.NewFlagSet("doctor", pflag.ContinueOnError)
	fs.StringVar(&a.iface, "interface", "", "interface that carries the VIP (default: the interface of the default route)")
	fs.StringVar(&a.kubeconfig, "kubeconfig", "", "kubeconfig to read kube-proxy's ConfigMap with (kube-system/kube-proxy); without it that check is skipped")
	fs.StringVarP(&a.output, "output", "o", "table", "output format: table or json")
	fs.StringSliceVar(&a.apply, "apply", nil, "write these settings (comma-separated, e.g. sloppy_tcp,be_liberal) instead of checking; known: "+strings.Join(doctor.Settings(), ","))
	fs.BoolVar(&a.sysctlD, "sysctl-d", false, "with --apply: print a "+doctor.DropInPath+" drop-in instead of writing")
	fs.StringVar(&a.root, "root", "/", "filesystem root holding proc/ and sys/ (for tests)")
	_ = fs.MarkHidden("root") // the flag exists; MarkHidden fails only for unknown names
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

// doctorCommand runs `vipkeeper doctor`. Exit status: 0 all good (or only
// info), 1 warnings, 2 errors or bad flags.
func doctorCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var a doctorArgs
	fs := doctorFlags(&a)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			doctorUsage(stdout, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "vipkeeper doctor: %v\n", err)
		return exitUsage
	}
	if fs.Changed("apply") && len(a.apply) == 0 {
		fmt.Fprintln(stderr, "vipkeeper doctor: --apply: no settings named (known: "+strings.Join(doctor.Settings(), ", ")+")")
		return exitUsage
	}
	if err := a.validate(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "vipkeeper doctor: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	if len(a.apply) > 0 {
		return doctorApply(a, stdout, stderr)
	}
	return doctorCheck(ctx, a, stdout, stderr)
}

func (a *doctorArgs) validate(rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments %q", rest)
	case a.output != "table" && a.output != "json":
		return fmt.Errorf("--output: %q is not table or json", a.output)
	case a.sysctlD && len(a.apply) == 0:
		return errors.New("--sysctl-d: needs --apply NAMES to say which settings to render")
	case a.kubeconfig != "" && len(a.apply) > 0:
		return errors.New("--kubeconfig: not used with --apply (kube-proxy's ConfigMap is not changed)")
	}
	return nil
}

func doctorUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintln(w, `Usage: vipkeeper doctor [flags]

Checks the kernel settings that decide whether a VIP failover keeps
connections alive, and prints setting, current and recommended value,
severity and why (see docs/tuning.md). Changes nothing unless --apply names
settings. Exit status: 0 all good, 1 warnings, 2 errors or bad flags.

Flags:`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// resolveInterface returns --interface, or the default route's interface;
// verb says what is done with it.
func (a *doctorArgs) resolveInterface(stderr io.Writer, verb string) (string, error) {
	if a.iface != "" {
		return a.iface, nil
	}
	iface, err := doctor.DefaultInterface(os.DirFS(a.root))
	if err != nil {
		return "", fmt.Errorf("--interface: not given and %w to take it from; name the VIP interface", err)
	}
	fmt.Fprintf(stderr, "vipkeeper doctor: %s %s, the interface of the default route (choose another with --interface)\n", verb, iface)
	return iface, nil
}

func doctorCheck(ctx context.Context, a doctorArgs, stdout, stderr io.Writer) int {
	iface, err := a.resolveInterface(stderr, "checking")
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper doctor: %v\n", err)
		return exitUsage
	}
	o := doctor.Options{Root: a.root, Interface: iface}
	if a.kubeconfig != "" {
		cms, err := configMaps(a.kubeconfig)
		if err != nil {
			fmt.Fprintf(stderr, "vipkeeper doctor: --kubeconfig: %v\n", err)
			return exitUsage
		}
		o.ConfigMaps = cms
	}
	findings := doctor.Check(ctx, o)
	write := doctor.WriteTable
	if a.output == "json" {
		write = doctor.WriteJSON
	}
	if err := write(stdout, findings); err != nil {
		fmt.Fprintf(stderr, "vipkeeper doctor: %v\n", err)
		return exitUsage
	}
	return doctorExit(doctor.Worst(findings))
}

// Exit statuses of a check; bad flags exit with exitUsage (also 2).
const (
	exitWarnings = 1
	exitErrors   = 2
)

// doctorExit maps the worst finding to the exit status.
func doctorExit(worst doctor.Severity) int {
	switch worst {
	case doctor.Error:
		return exitErrors
	case doctor.Warning:
		return exitWarnings
	default:
		return exitOK
	}
}

// configMaps returns a reader for kube-system's ConfigMaps.
func configMaps(kubeconfig string) (doctor.ConfigMapGetter, error) {
	c, err := kube.Load(kubeconfig)
	if err != nil {
		return nil, err
	}
	cs, err := kube.CommandClient(c, doctorTimeout)
	if err != nil {
		return nil, err
	}
	return cs.CoreV1().ConfigMaps(doctor.KubeProxyNamespace), nil
}

func doctorApply(a doctorArgs, stdout, stderr io.Writer) int {
	o := doctor.ApplyOptions{Root: a.root, Interface: a.iface, Names: a.apply}
	// Names are checked first; only the arp_* settings need an interface,
	// and only then is the default route's taken.
	changes, err := doctor.Plan(o)
	if errors.Is(err, doctor.ErrInterfaceName) && a.iface == "" {
		if o.Interface, err = a.resolveInterface(stderr, "setting"); err == nil {
			changes, err = doctor.Plan(o)
		}
	}
	if err != nil {
		return applyFailed(stderr, err)
	}
	if a.sysctlD {
		_, _ = stdout.Write(doctor.DropIn(changes))
		fmt.Fprintf(stderr, "vipkeeper doctor: nothing written; save this as %s and run `sysctl --system`\n", doctor.DropInPath)
		return exitOK
	}
	changes, err = doctor.Apply(o)
	if werr := writeChanges(stdout, a.output, changes); werr != nil {
		fmt.Fprintf(stderr, "vipkeeper doctor: %v\n", werr)
	}
	if err != nil {
		return applyFailed(stderr, err)
	}
	return exitOK
}

func applyFailed(stderr io.Writer, err error) int {
	if errors.Is(err, doctor.ErrUnknownSetting) {
		fmt.Fprintf(stderr, "vipkeeper doctor: --apply: %v\n", err)
	} else {
		fmt.Fprintf(stderr, "vipkeeper doctor: %v\n", err)
	}
	return exitUsage
}

func writeChanges(w io.Writer, output string, changes []doctor.Change) error {
	if output == "json" {
		if changes == nil {
			changes = []doctor.Change{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(changes)
	}
	for _, c := range changes {
		var err error
		if c.Changed() {
			_, err = fmt.Fprintf(w, "%s: %s -> %s\n", c.Setting, c.From, c.To)
		} else {
			_, err = fmt.Fprintf(w, "%s: %s (already as recommended, unchanged)\n", c.Setting, c.From)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
