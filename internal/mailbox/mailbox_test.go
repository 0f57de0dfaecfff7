package mailbox

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

func TestSendQueuesInOrder(t *testing.T) {
	b := New[int](2)
	b.Send(1)
	b.Send(2)
	if got := []int{<-b.C(), <-b.C()}; got[0] != 1 || got[1] != 2 {
		t.Errorf("got %v, want [1 2]", got)
	}
}

// TestSendBlocksUntilTaken: a full box holds the sender back (no event is
// dropped) until the loop takes one.
func TestSendBlocksUntilTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New[int](1)
		b.Send(1)
		sent := make(chan struct{})
		go func() { b.Send(2); close(sent) }()
		synctest.Wait()
		select {
		case <-sent:
			t.Fatal("Send returned while the box was full")
		default:
		}
		<-b.C()
		synctest.Wait()
		<-sent
		if got := <-b.C(); got != 2 {
			t.Errorf("got %d, want 2", got)
		}
	})
}

func TestClosedBoxNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New[int](1)
		b.Send(1)
		b.Close()
		b.Close() // twice is fine
		b.Send(2) // full and closed: returns
		if err := b.SendContext(t.Context(), 3); !errors.Is(err, ErrClosed) {
			t.Errorf("SendContext after Close = %v, want ErrClosed", err)
		}
		<-b.Done()
	})
}

func TestSendContextGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New[int](0)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error)
		go func() { errc <- b.SendContext(ctx, 1) }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("SendContext = %v, want context.Canceled", err)
		}
	})
}
