// Package cli implements vipkeeper's commands. main parses nothing itself:
// it calls Main, and only main calls os.Exit.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/vipkeeper/vipkeeper/pkg/config"
	"github.com/vipkeeper/vipkeeper/pkg/version"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the daemon failed while running
	exitUsage   = 2 // bad flags or configuration; nothing was changed
)

// Main runs the command in args (without the program name) and returns the
// process's exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "run":
		return runCommand(ctx, args[1:], stdout, stderr)
	case "doctor":
		return doctorCommand(ctx, args[1:], stdout, stderr)
	case "status":
		return statusCommand(ctx, args[1:], stdout, stderr)
	case "manifest":
		return manifestCommand(args[1:], stdout, stderr)
	case "version":
		return versionCommand(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "vipkeeper: unknown command %q (try `vipkeeper help`)\n", args[0])
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `vipkeeper keeps a virtual IP on exactly one healthy node.

Usage:
  vipkeeper run [flags]      keep the VIP (see `+"`vipkeeper run --help`"+`)
  vipkeeper doctor [flags]   check the kernel settings a failover depends on (see `+"`vipkeeper doctor --help`"+`)
  vipkeeper status [flags]   who holds the Lease, since when, and whether it is this node (-o json)
  vipkeeper manifest KIND    print a static pod, DaemonSet, RBAC, systemd unit or its config from run's flags (see `+"`vipkeeper manifest --help`"+`)
  vipkeeper version [-o json]
  vipkeeper help
`)
}

func versionCommand(args []string, stdout, stderr io.Writer) int {
	i := version.Get()
	switch strings.Join(args, " ") {
	case "":
		fmt.Fprintf(stdout, "vipkeeper %s (commit %s, %s)\n", i.Version, i.Commit, i.GoVersion)
	case "-o json", "--output json", "-o=json", "--output=json":
		b, _ := json.Marshal(i)
		fmt.Fprintln(stdout, string(b))
	default:
		fmt.Fprintf(stderr, "vipkeeper version: unexpected arguments %q\n", args)
		return exitUsage
	}
	return exitOK
}

func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(config.Sources{Args: args})
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprintln(stdout, "Usage: vipkeeper run [flags]\n\nEvery flag can also be set as VIPKEEPER_<FLAG> or in the --config YAML file (camelCase key).")
		fs := config.FlagSet("run")
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper: %v\n", err)
		return exitUsage
	}
	tuneGC(os.LookupEnv)
	d, err := newDaemon(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "vipkeeper: %v\n", err)
		var ce *config.Error
		if errors.As(err, &ce) {
			return exitUsage
		}
		return exitFailure
	}
	if err := d.run(ctx); err != nil {
		d.log.Error("vipkeeper stopped", "err", err)
		return exitFailure
	}
	return exitOK
}

// gcPercent is the daemon's GOGC unless the environment sets one. The
// live heap is small (10–20 MB with a thousand Services) and the daemon
// mostly idles, so collecting at +50% instead of +100% costs little CPU and
// keeps the resident set well inside a DaemonSet's memory budget.
const gcPercent = 50

// tuneGC applies gcPercent unless GOGC is set.
func tuneGC(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

// newLogger builds the process's logger from the validated settings.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
