package sdnotify

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Alive answers nil while the daemon's loops run; it must return once ctx
// ends (keeper.Keeper.Ping).
type Alive func(ctx context.Context) error

// readyPoll is how often the notifier asks whether the loop has started
// before READY=1; start-up takes milliseconds once the process runs.
const readyPoll = 100 * time.Millisecond

// Notifier tells systemd about the daemon's state. It reads NOTIFY_SOCKET,
// WATCHDOG_USEC and WATCHDOG_PID from the environment, as systemd sets them.
type Notifier struct {
	alive Alive
	log   *slog.Logger
}

// New returns a Notifier; it starts nothing.
func New(alive Alive, log *slog.Logger) *Notifier {
	return &Notifier{alive: alive, log: log.With("component", "sdnotify")}
}

// Start sends READY=1 once the loop answers, then WATCHDOG=1 every half
// watchdog interval on which it answers, until ctx ends; then STOPPING=1.
// Without NOTIFY_SOCKET it returns at once.
func (n *Notifier) Start(ctx context.Context) error {
	if os.Getenv("NOTIFY_SOCKET") == "" || !n.ready(ctx) {
		return nil
	}
	defer n.send(daemon.SdNotifyStopping)
	every, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("systemd watchdog setting unusable; sending no keep-alives", "err", err)
	}
	if every <= 0 {
		<-ctx.Done()
		return nil
	}
	// systemd's advice: keep-alives at half the interval; the loop gets
	// the other half of each period to answer.
	period := every / 2
	t := time.NewTicker(period)
	defer t.Stop()
	stuck := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, period)
		err := n.alive(pctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !stuck {
				n.log.Error("keeper loop not answering; withholding the systemd watchdog keep-alive", "err", err, "watchdog", every)
			}
			stuck = true
		default:
			if stuck {
				n.log.Info("keeper loop answering again")
			}
			stuck = false
			n.send(daemon.SdNotifyWatchdog)
		}
	}
}

// ready waits for the loop's first answer and sends READY=1; false means
// ctx ended first.
func (n *Notifier) ready(ctx context.Context) bool {
	for {
		pctx, cancel := context.WithTimeout(ctx, readyPoll)
		err := n.alive(pctx)
		cancel()
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			n.send(daemon.SdNotifyReady)
			n.log.Debug("told systemd we are ready")
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(readyPoll):
		}
	}
}

// send notifies systemd; a failure is logged, and the next keep-alive
// tries again.
func (n *Notifier) send(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.log.Warn("cannot notify systemd", "state", state, "err", err)
	}
}
