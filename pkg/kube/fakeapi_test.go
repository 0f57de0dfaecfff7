package kube_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// leaseAPI serves /readyz and Leases: GET, POST (create), PUT
// (compare-and-swap on resourceVersion) and a watch; it answers in JSON. A
// stored Lease is never mutated, only replaced, so readers may keep a
// pointer.
type leaseAPI struct {
	srv     *httptest.Server
	done    chan struct{} // closed to end every watch
	closing sync.Once
	watches atomic.Int64 // watch requests being served
	watched atomic.Int64 // when the latest watch began, UnixNano
	callers sync.Map     // remote address → user agent of its last request

	mu      sync.Mutex // guards the fields below
	lease   *coordinationv1.Lease
	rv      int
	changed chan struct{} // closed and replaced on every write
}

func newLeaseAPI() *leaseAPI {
	return &leaseAPI{done: make(chan struct{}), changed: make(chan struct{})}
}

// close ends the watches and stops the server.
func (f *leaseAPI) close() {
	f.closing.Do(func() {
		close(f.done)
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
}

const leaseAPIPrefix = "/apis/coordination.k8s.io/v1/namespaces/"

func (f *leaseAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.callers.Store(r.RemoteAddr, r.UserAgent())
	if r.URL.Path == "/readyz" {
		io.WriteString(w, "ok")
		return
	}
	// namespaces/<ns>/leases[/<name>]
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, leaseAPIPrefix), "/")
	if !strings.HasPrefix(r.URL.Path, leaseAPIPrefix) || len(parts) < 2 || parts[1] != "leases" {
		apiStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, r.URL.Path)
		return
	}
	switch item := len(parts) == 3; {
	case !item && r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		f.watch(w, r)
	case !item && r.Method == http.MethodPost:
		f.write(w, r, true)
	case item && r.Method == http.MethodPut:
		f.write(w, r, false)
	case item && r.Method == http.MethodGet:
		f.mu.Lock()
		l := f.lease
		f.mu.Unlock()
		if l == nil {
			apiStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "lease not found")
			return
		}
		apiJSON(w, http.StatusOK, l)
	default:
		apiStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, r.Method)
	}
}

func (f *leaseAPI) write(w http.ResponseWriter, r *http.Request, create bool) {
	// The clients send protobuf by default; the deserializer takes both.
	var l coordinationv1.Lease
	body, err := io.ReadAll(r.Body)
	if err == nil {
		_, _, err = scheme.Codecs.UniversalDeserializer().Decode(body, nil, &l)
	}
	if err != nil {
		apiStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case create && f.lease != nil:
		apiStatus(w, http.StatusConflict, metav1.StatusReasonAlreadyExists, "lease exists")
		return
	case !create && f.lease == nil:
		apiStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "lease not found")
		return
	case !create && l.ResourceVersion != f.lease.ResourceVersion:
		apiStatus(w, http.StatusConflict, metav1.StatusReasonConflict, "resourceVersion mismatch")
		return
	}
	f.rv++
	l.ResourceVersion = strconv.Itoa(f.rv)
	l.TypeMeta = metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"}
	f.lease = &l
	close(f.changed)
	f.changed = make(chan struct{})
	apiJSON(w, map[bool]int{true: http.StatusCreated, false: http.StatusOK}[create], &l)
}

// watch streams the Lease (ADDED, then MODIFIED on every write) until the
// client goes away, timeoutSeconds pass or the fake is closed.
func (f *leaseAPI) watch(w http.ResponseWriter, r *http.Request) {
	window := 30 * time.Second
	if s, err := strconv.Atoi(r.URL.Query().Get("timeoutSeconds")); err == nil {
		window = time.Duration(s) * time.Second
	}
	f.watched.Store(time.Now().UnixNano())
	f.watches.Add(1)
	defer f.watches.Add(-1)
	timer := time.NewTimer(window)
	defer timer.Stop()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	enc, sent := json.NewEncoder(w), ""
	for {
		f.mu.Lock()
		l, changed := f.lease, f.changed
		f.mu.Unlock()
		if l != nil && l.ResourceVersion != sent {
			typ := map[bool]string{true: "ADDED", false: "MODIFIED"}[sent == ""]
			if enc.Encode(struct {
				Type   string                `json:"type"`
				Object *coordinationv1.Lease `json:"object"`
			}{typ, l}) != nil {
				return
			}
			w.(http.Flusher).Flush()
			sent = l.ResourceVersion
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-timer.C:
			return
		case <-f.done:
			return
		}
	}
}

func apiJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func apiStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	apiJSON(w, code, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code),
	})
}

// blackholeProxy forwards TCP from 127.0.0.1 to target. Blackholed, it stops
// forwarding on every connection it holds and on every new one, and those
// connections stay dead for good (as if the peer behind them vanished):
// nothing is answered, nothing is reset; only their owner closing them, or
// closeDead, ends them. New connections made after pass resumes forward.
type blackholeProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu        sync.Mutex // guards the fields below
	blackhole bool
	closed    bool
	conns     map[*proxiedConn]struct{}
	accepted  int
}

// proxiedConn is one proxied connection; up is nil when it was accepted
// while blackholed (there is nothing to forward to).
type proxiedConn struct {
	p        *blackholeProxy
	down, up net.Conn
	dead     bool // guarded by p.mu
	since    time.Time
	once     sync.Once
}

func newBlackholeProxy(target string) (*blackholeProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &blackholeProxy{ln: ln, target: target, conns: map[*proxiedConn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *blackholeProxy) addr() string { return p.ln.Addr().String() }

func (p *blackholeProxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		pc := &proxiedConn{p: p, down: down, since: time.Now()}
		p.mu.Lock()
		dead := p.blackhole
		p.mu.Unlock()
		if !dead {
			if pc.up, err = net.Dial("tcp", p.target); err != nil {
				down.Close()
				continue
			}
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pc.close()
			return
		}
		p.accepted++
		p.conns[pc] = struct{}{}
		pc.dead = p.blackhole || pc.up == nil
		p.mu.Unlock()
		p.wg.Add(1)
		go func() { defer p.wg.Done(); pc.pipe(pc.down, pc.up) }()
		if pc.up != nil {
			p.wg.Add(1)
			go func() { defer p.wg.Done(); pc.pipe(pc.up, pc.down) }()
		}
	}
}

// pipe copies src to dst while the connection is alive and discards what
// it reads once dead. The client side ending ends both sides; the server
// side ending a dead connection is never seen by the client.
func (pc *proxiedConn) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		pc.p.mu.Lock()
		dead := pc.dead
		pc.p.mu.Unlock()
		if n > 0 && !dead && dst != nil {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if src == pc.up && dead {
				pc.up.Close()
				return
			}
			pc.close()
			return
		}
	}
}

func (pc *proxiedConn) close() {
	pc.once.Do(func() {
		pc.down.Close()
		if pc.up != nil {
			pc.up.Close()
		}
		pc.p.mu.Lock()
		delete(pc.p.conns, pc)
		pc.p.mu.Unlock()
	})
}

// setBlackhole switches the mode; switching on kills every held connection.
func (p *blackholeProxy) setBlackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blackhole = on
	if on {
		for pc := range p.conns {
			pc.dead = true
		}
	}
}

// counts returns the connections held (client side open), how many of
// them are dead, and how many connections were ever accepted.
func (p *blackholeProxy) counts() (open, dead, accepted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		if pc.dead {
			dead++
		}
	}
	return len(p.conns), dead, p.accepted
}

// deadBy counts the dead connections by what their last request was, as
// told by caller (given the proxy's address on the server side), and
// returns the age of the oldest.
func (p *blackholeProxy) deadBy(caller func(upstream string) string) (map[string]int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	by, oldest := map[string]int{}, time.Duration(0)
	for pc := range p.conns {
		switch {
		case !pc.dead:
			continue
		case pc.up == nil:
			by["accepted while blackholed"]++
		default:
			by[caller(pc.up.LocalAddr().String())]++
		}
		oldest = max(oldest, time.Since(pc.since))
	}
	return by, oldest.Round(time.Millisecond)
}

// closeDead resets every dead connection, as a real dead peer's would be
// in the end.
func (p *blackholeProxy) closeDead() {
	p.mu.Lock()
	var dead []*proxiedConn
	for pc := range p.conns {
		if pc.dead {
			dead = append(dead, pc)
		}
	}
	p.mu.Unlock()
	for _, pc := range dead {
		pc.close()
	}
}

// close stops accepting, closes every connection and waits for the
// proxy's goroutines.
func (p *blackholeProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	all := make([]*proxiedConn, 0, len(p.conns))
	for pc := range p.conns {
		all = append(all, pc)
	}
	p.mu.Unlock()
	for _, pc := range all {
		pc.close()
	}
	p.wg.Wait()
}
