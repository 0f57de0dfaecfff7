package nlsub

import (
	"context"
	"log/slog"
	"time"
)

// Subscribe opens one subscription: it sends events on ch until done is
// closed, then closes ch. It also closes ch when the subscription breaks,
// and reports socket errors to onErr (also the one that closing done
// causes). It returns an error, and closes nothing, when it cannot
// subscribe.
type Subscribe[T any] func(ch chan<- T, done <-chan struct{}, onErr func(error)) error

// Config configures Run.
type Config[T any] struct {
	// Subscribe opens one subscription.
	Subscribe Subscribe[T]
	// Events names the events in log lines: "address", "link".
	Events string
	// Buffer is the capacity of the event channel: it lets the netlink
	// reader run ahead of a busy caller during a burst.
	Buffer int
	// RetryDelay is the pause before subscribing again after a failed
	// attempt or a closed subscription.
	RetryDelay time.Duration
	// Log receives subscription errors; nil discards them.
	Log *slog.Logger
}

// Run keeps a subscription open until ctx ends. After every attempt to
// subscribe, successful or not, it calls sync, so that the caller reads
// the current state; then it calls handle with each event of that
// subscription, in order. sync and handle run on Run's goroutine and may
// block (until ctx ends). Run returns once ctx has ended and its
// subscription is closed.
func Run[T any](ctx context.Context, cfg Config[T], sync func(), handle func(T)) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	log := cfg.Log.With("events", cfg.Events)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		once(ctx, cfg, log, sync, handle)
		if ctx.Err() != nil {
			return
		}
		timer.Reset(cfg.RetryDelay)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// once runs one subscription until it fails, closes or ctx ends.
func once[T any](ctx context.Context, cfg Config[T], log *slog.Logger, sync func(), handle func(T)) {
	ch := make(chan T, cfg.Buffer)
	done := make(chan struct{})
	onErr := func(err error) {
		select {
		case <-done: // our own close of the socket
		default:
			log.Warn("netlink subscription error", "err", err)
		}
	}
	if err := cfg.Subscribe(ch, done, onErr); err != nil {
		close(done)
		log.Error("subscribe to netlink events", "err", err, "retry_in", cfg.RetryDelay)
		sync()
		return
	}
	defer func() {
		close(done)
		for range ch { // the reader closes it once the socket is closed
		}
	}()
	sync()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				log.Warn("netlink subscription closed, resubscribing", "retry_in", cfg.RetryDelay)
				return
			}
			handle(ev)
		}
	}
}
