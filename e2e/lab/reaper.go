package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// stateDir holds one file per running lab, naming what it created. It is on
// tmpfs, like the namespaces, so both vanish on reboot.
const stateDir = "/run/vipkeeper-lab"

// labState is what a lab writes before it creates anything, so that a later
// run can remove what a crashed or timed-out test process left behind.
type labState struct {
	PID        int      `json:"pid"`
	Start      string   `json:"start"` // the process's start time, against PID reuse
	Namespaces []string `json:"namespaces"`
	Dir        string   `json:"dir"`
}

func (l *Lab) writeState(namespaces []string) error {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(labState{PID: os.Getpid(), Start: procStart(os.Getpid()), Namespaces: namespaces, Dir: l.Dir})
	if err != nil {
		return err
	}
	l.state = filepath.Join(stateDir, l.ID+".json")
	return os.WriteFile(l.state, b, 0o600)
}

// procStart returns field 22 (starttime) of /proc/<pid>/stat, or "".
func procStart(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may contain spaces
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19] // fields after ")" start at field 3
}

// reapStale removes namespaces and directories of labs whose test process is
// gone. Their children died with them (Pdeathsig), so only kernel objects
// and files remain.
func reapStale(logf func(string, ...any)) {
	files, _ := filepath.Glob(filepath.Join(stateDir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st labState
		if json.Unmarshal(b, &st) != nil {
			continue
		}
		if st.Start != "" && procStart(st.PID) == st.Start {
			continue // its owner still runs (maybe a parallel test)
		}
		for _, ns := range st.Namespaces {
			if !strings.HasPrefix(ns, "vk-") {
				continue // never touch a namespace that is not ours by name
			}
			if _, err := os.Stat(filepath.Join("/run/netns", ns)); err == nil {
				if err := deleteNS(ns); err != nil {
					logf("lab reaper: %v", err)
				}
			}
		}
		if strings.HasPrefix(filepath.Base(st.Dir), "vk-lab-") && filepath.Dir(st.Dir) == filepath.Clean(os.TempDir()) {
			os.RemoveAll(st.Dir)
		}
		os.Remove(f)
		logf("lab reaper: removed leftovers of lab %s (pid %d)", strings.TrimSuffix(filepath.Base(f), ".json"), st.PID)
	}
}

// live is every lab of this process not yet torn down, for the signal handler.
var live struct {
	mu   sync.Mutex // guards labs
	labs map[*Lab]bool
}

func register(l *Lab) {
	live.mu.Lock()
	defer live.mu.Unlock()
	if live.labs == nil {
		live.labs = map[*Lab]bool{}
	}
	live.labs[l] = true
}

func unregister(l *Lab) {
	live.mu.Lock()
	defer live.mu.Unlock()
	delete(live.labs, l)
}

func teardownAll() {
	live.mu.Lock()
	labs := make([]*Lab, 0, len(live.labs))
	for l := range live.labs {
		labs = append(labs, l)
	}
	live.mu.Unlock()
	for _, l := range labs {
		l.teardown()
	}
}

// Main is the TestMain of every package that uses the lab:
//
//	func TestMain(m *testing.M) { lab.Main(m) }
//
// In a helper process (see helper.go) it runs the helper instead of the
// tests. Otherwise it tears every lab down on SIGINT or SIGTERM and exits.
func Main(m *testing.M) {
	if runHelper() {
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "lab: %v: tearing down\n", s)
		teardownAll()
		removeBinaries()
		os.Exit(1)
	}()
	code := m.Run()
	teardownAll()
	removeBinaries()
	os.Exit(code)
}
