package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/manifest"
	"github.com/vipkeeper/vipkeeper/pkg/version"
)

const manifestUsage = `Usage: vipkeeper manifest KIND [--image IMAGE] [run flags]

Prints a ready-to-use file for KIND, built from the flags ` + "`vipkeeper run`" + ` takes
(validated the same way; --config is read too, the environment is not):

  static-pod   a Pod for /etc/kubernetes/manifests (needs --kubeconfig)
  daemonset    a DaemonSet using the ServiceAccount of ` + "`manifest rbac`" + `
  rbac         ServiceAccount, Role and RoleBinding: the least vipkeeper needs
               (with --services, also what services mode needs; see below)
  systemd      vipkeeper.service for a host without kubelet (needs --kubeconfig)
  config       /etc/vipkeeper/config.yaml for that unit
  crds         the AddressPool CustomResourceDefinition (--services-pool-objects;
               Kubernetes 1.31 or later); takes no flags

Services mode: give rbac and daemonset the same flags, --services and its
--services-pool among them, and for a new install --services-namespace
vipkeeper-system. rbac then adds ClusterRole vipkeeper-services (list and
watch Services and EndpointSlices, patch Services' status, create and patch
Events, in every namespace), Role vipkeeper-services (the node and claim
Leases in the services namespace), the Namespace, and Role
vipkeeper-services-guard (list Leases in the lease namespace at start-up),
each bound like the Role (docs/services.md).

Values are checked for what the files can hold: no control characters,
absolute file paths, and --image a reference with a tag or a digest
(REGISTRY/NAME:TAG or REGISTRY/NAME@sha256:<64 hex digits>).

--image sets the pods' image (default %s:<version>).
Guides: docs/deploy-static-pod.md, docs/deploy-daemonset.md, docs/deploy-systemd.md.
`

// manifestCommand implements `vipkeeper manifest`.
func manifestCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, manifestUsage, manifest.DefaultImageRepo)
		return exitUsage
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stdout, manifestUsage, manifest.DefaultImageRepo)
		return exitOK
	}
	// The kind first: an unknown one is the mistake, not the run flags.
	kind, err := manifest.ParseKind(args[0])
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper manifest: %v\n", err)
		return exitUsage
	}
	if kind == manifest.CRDs {
		// The CRDs depend on no run flag.
		if _, err := stdout.Write(manifest.CRDFile(manifest.Options{Command: "vipkeeper manifest crds"})); err != nil {
			fmt.Fprintf(stderr, "vipkeeper manifest: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	image, runArgs, err := splitImage(args[1:])
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper manifest: %v\n", err)
		return exitUsage
	}
	if image == "" {
		image = manifest.DefaultImageRepo + ":" + version.Get().Version
	}
	cfg, err := config.Load(config.Sources{
		Args: runArgs,
		// The output depends on the command line (and --config) alone,
		// not on the environment of the machine that renders it.
		LookupEnv: func(string) (string, bool) { return "", false },
		// Each node's own name is filled in where the file runs.
		Hostname: func() (string, error) { return "node", nil },
	})
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprintf(stdout, manifestUsage, manifest.DefaultImageRepo)
		fs := config.FlagSet("run")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper manifest: %v\n", err)
		return exitUsage
	}
	command := []string{"vipkeeper manifest", string(kind)}
	if kind == manifest.StaticPod || kind == manifest.DaemonSet {
		command = append(command, shellQuote("--image="+image))
	}
	for _, a := range config.Args(cfg.Settings()) {
		command = append(command, shellQuote(a))
	}
	if kind == manifest.StaticPod && cfg.UserSet("api-server-check") && !cfg.APIServerCheck.Enabled {
		// Off is the daemon's default, so Settings leaves it out, but a
		// static pod turns the check on unless told otherwise: the
		// header's command must say so to render the same file again.
		command = append(command, "--api-server-check=false")
	}
	out, err := manifest.Generate(kind, cfg, manifest.Options{Image: image, Command: strings.Join(command, " ")})
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper manifest %s: %v\n", kind, err)
		return exitUsage
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintf(stderr, "vipkeeper manifest: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// splitImage takes --image out of args; the rest are `run` flags.
func splitImage(args []string) (image string, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--image":
			if i+1 >= len(args) {
				return "", nil, errors.New("--image needs a value")
			}
			image = args[i+1]
			i++
		case strings.HasPrefix(a, "--image="):
			image = strings.TrimPrefix(a, "--image=")
		case a == "--":
			return image, append(rest, args[i:]...), nil
		default:
			rest = append(rest, a)
		}
	}
	return image, rest, nil
}

// shellQuote quotes an argument of the header's command line for a POSIX
// shell when it holds anything but plain characters: a pool's ";" would
// otherwise end the command when it is pasted to regenerate the file.
func shellQuote(s string) string {
	plain := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=./:,@%+", r))
	}) < 0
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
