package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSummarizeAPI(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	d := func(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }
	read := func(start, lat int) APIRequest { return APIRequest{Start: at(start), Latency: d(lat)} }
	failed := func(start, lat int, write bool, class string) APIRequest {
		return APIRequest{Start: at(start), Latency: d(lat), Write: write, Err: "boom", Class: class}
	}
	for _, tc := range []struct {
		name     string
		reqs     []APIRequest
		terrs    []TransportError
		from, to int
		want     APISummary
	}{
		{
			name: "steady reads: the outage is the read interval",
			reqs: []APIRequest{read(0, 5), read(50, 5), read(100, 5), read(150, 5)},
			from: 0, to: 160,
			want: APISummary{Reads: 4, ReadOutage: d(50), MaxReadLatency: d(5)},
		},
		{
			name: "refused reads, then served: the outage spans them",
			reqs: []APIRequest{read(0, 5), failed(50, 1, false, ClassRefused), failed(100, 1, false, ClassRefused),
				read(1300, 5), read(1350, 5)},
			from: 20, to: 1360,
			want: APISummary{Reads: 4, FailedReads: 2, ReadOutage: d(1285), MaxReadLatency: d(5),
				FailedByClass: map[string]int{ClassRefused: 2},
				Failures:      []string{"+0.030s GET after 1ms: boom", "+0.080s GET after 1ms: boom"}},
		},
		{
			name: "a read retried after a reset succeeds late: no failure, but the gap counts",
			reqs: []APIRequest{read(0, 5), read(50, 1010), read(100, 5), read(150, 5)},
			terrs: []TransportError{{At: at(55), Class: ClassReset}, {At: at(900), Class: ClassRefused},
				{At: at(5000), Class: ClassReset}},
			from: 0, to: 1100,
			want: APISummary{Reads: 4, ReadOutage: d(905), MaxReadLatency: d(1010), Resets: 1, TransportErrors: 2},
		},
		{
			name: "writes count apart",
			reqs: []APIRequest{read(0, 5), {Start: at(10), Latency: d(3), Write: true}, failed(20, 2, true, ClassReset), read(50, 5)},
			from: 0, to: 60,
			want: APISummary{Reads: 2, Writes: 2, FailedWrites: 1, ReadOutage: d(50), MaxReadLatency: d(5),
				FailedByClass: map[string]int{ClassReset: 1}, Failures: []string{"+0.020s PATCH after 2ms: boom"}},
		},
		{
			name: "no read after the fault: the outage runs to the end",
			reqs: []APIRequest{read(0, 5), failed(100, 5000, false, ClassTimeout)},
			from: 50, to: 3050,
			want: APISummary{Reads: 1, FailedReads: 1, ReadOutage: d(3000), MaxReadLatency: d(5000),
				FailedByClass: map[string]int{ClassTimeout: 1}, Failures: []string{"+0.050s GET after 5s: boom"}},
		},
		{
			name: "a read started before the window that ends in it ends the first gap",
			reqs: []APIRequest{read(0, 300), read(350, 5)},
			from: 100, to: 360,
			want: APISummary{Reads: 1, ReadOutage: d(200), MaxReadLatency: d(5)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SummarizeAPI(tc.reqs, tc.terrs, at(tc.from), at(tc.to))
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("SummarizeAPI (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrClass(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("read tcp: %w", syscall.ECONNRESET), ClassReset},
		{errors.New(`Get "https://192.0.2.100:6443/x": read: connection reset by peer`), ClassReset},
		{io.EOF, ClassReset},
		{errors.New("http2: server sent GOAWAY and closed the connection"), ClassReset},
		{errors.New(`Get "https://192.0.2.100:6443/x": http2: client connection force closed via ClientConn.Close`), ClassReset},
		{fmt.Errorf("dial tcp 192.0.2.100:6443: %w", syscall.ECONNREFUSED), ClassRefused},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), ClassTimeout},
		{errors.New("x509: certificate is valid for 192.0.2.11, not 127.0.0.1"), ClassOther},
	} {
		if got := ErrClass(tc.err); got != tc.want {
			t.Errorf("ErrClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
