package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one process the lab started, usually inside a namespace through
// `ip netns exec` (which execs in place, so the PID is the program's own).
type proc struct {
	name string
	log  string // path of the file that collects stdout and stderr
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped

	mu       sync.Mutex // guards the fields below
	state    *os.ProcessState
	expected bool // the lab signalled it, so exiting is not a failure
}

// startProc starts bin (inside ns unless ns is nil), appending its output to
// logPath. onExit runs once the process is reaped; unexpected is true unless
// the lab itself stopped or signalled the process.
func startProc(name, logPath string, ns *NS, env []string, onExit func(p *proc, unexpected bool), bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	argv := append([]string{bin}, args...)
	if ns != nil {
		argv = append([]string{"ip", "netns", "exec", ns.Name}, argv...)
	}
	fmt.Fprintf(f, "=== lab: %s starting %s\n=== lab: %s\n", time.Now().Format(time.RFC3339Nano), name, strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // Ctrl-C reaches the test binary only; the lab stops children itself
		Pdeathsig: syscall.SIGKILL, // last resort if the test binary dies without cleaning up
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.state = cmd.ProcessState
		unexpected := !p.expected
		p.mu.Unlock()
		fmt.Fprintf(f, "=== lab: %s %s exited: %v\n", time.Now().Format(time.RFC3339Nano), name, errOrState(err, cmd.ProcessState))
		f.Close()
		close(p.done)
		if onExit != nil {
			onExit(p, unexpected)
		}
	}()
	return p, nil
}

func errOrState(err error, st *os.ProcessState) string {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return err.Error()
	}
	return st.String()
}

// PID returns the process ID.
func (p *proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has been reaped.
func (p *proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal marks the exit as intended and sends sig. Signalling a reaped
// process is a no-op.
func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	p.expected = true
	p.mu.Unlock()
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.PID(), err)
	}
	return nil
}

// wait blocks until the process exits or timeout passes.
func (p *proc) wait(timeout time.Duration) (*os.ProcessState, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.state, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("%s (pid %d) still running after %v", p.name, p.PID(), timeout)
	}
}

// stop sends SIGTERM, and SIGKILL if the process outlives grace. It returns
// the exit state, or an error if even SIGKILL did not end it in time.
func (p *proc) stop(grace time.Duration) (*os.ProcessState, error) {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return nil, err
	}
	if st, err := p.wait(grace); err == nil {
		return st, nil
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return nil, err
	}
	return p.wait(5 * time.Second) // the kernel reaps a SIGKILLed process promptly
}

// tail returns the last n lines of a file, for failure reports.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
