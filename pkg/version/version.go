// Package version holds the build's version and commit, set at link time:
//
//	go build -ldflags "-X github.com/vipkeeper/vipkeeper/pkg/version.Version=v0.1.0 -X github.com/vipkeeper/vipkeeper/pkg/version.Commit=abc123"
package version

import (
	"runtime"
	"runtime/debug"
)

// Set by the linker; see the package comment.
var (
	Version = "dev"
	Commit  = ""
)

// Info is what `vipkeeper version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
}

// Get returns the build's version information. Without a linked-in commit
// it falls back to the VCS revision the Go toolchain recorded, if any.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if i.Commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					i.Commit = s.Value
				}
			}
		}
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	return i
}
