package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Environment overrides, for CI caches and for running against a binary
// built elsewhere.
const (
	envVipkeeperBin = "VIPKEEPER_BIN"      // use this vipkeeper binary instead of building one
	envAPIServerBin = "KUBE_APISERVER_BIN" // use this kube-apiserver instead of tools/kube-apiserver/build.sh
	envKeep         = "VIPKEEPER_E2E_KEEP" // keep the lab's directory (logs, certs) after teardown
)

const (
	// buildTimeout bounds `go build ./cmd/vipkeeper`; a warm build takes seconds.
	buildTimeout = 5 * time.Minute
	// apiserverBuildTimeout bounds build.sh; a cold build takes ~8 minutes on 2 cores.
	apiserverBuildTimeout = 20 * time.Minute
)

// binaries are built or located once per test process.
var binaries struct {
	once      sync.Once
	dir       string // process-wide scratch dir for the vipkeeper binary
	vipkeeper string
	apiserver string
	err       error
}

// getBinaries returns the vipkeeper and kube-apiserver paths, building them
// on first use.
func getBinaries() (vipkeeper, apiserver string, err error) {
	binaries.once.Do(func() {
		binaries.vipkeeper, binaries.apiserver, binaries.err = findBinaries()
	})
	return binaries.vipkeeper, binaries.apiserver, binaries.err
}

func findBinaries() (string, string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	apiserver := os.Getenv(envAPIServerBin)
	if apiserver == "" {
		out, err := runIn(root, apiserverBuildTimeout, filepath.Join(root, "e2e/tools/kube-apiserver/build.sh"))
		if err != nil {
			return "", "", fmt.Errorf("kube-apiserver: %w", err)
		}
		apiserver = lastLine(out)
	}
	if _, err := os.Stat(apiserver); err != nil {
		return "", "", fmt.Errorf("kube-apiserver: %w", err)
	}
	vk := os.Getenv(envVipkeeperBin)
	if vk == "" {
		dir, err := os.MkdirTemp("", "vk-bin-")
		if err != nil {
			return "", "", err
		}
		binaries.dir = dir
		vk = filepath.Join(dir, "vipkeeper")
		if _, err := runIn(root, buildTimeout, "go", "build", "-o", vk, "./cmd/vipkeeper"); err != nil {
			return "", "", fmt.Errorf("build vipkeeper: %w", err)
		}
	}
	return vk, apiserver, nil
}

// removeBinaries deletes the process-wide scratch dir; Main calls it on exit.
func removeBinaries() {
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
}

// repoRoot walks up from the working directory to the daemon's module.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 20 { // deeper than any checkout we run from
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/vipkeeper/vipkeeper\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("repository root (go.mod of github.com/vipkeeper/vipkeeper) not found above the working directory")
}

func runIn(dir string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", name, err, lastLines(stderr.String(), 30))
	}
	return stdout.String(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
