package services

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// syncWarnEvery paces the warnings while the informers' first lists wait
// for the API server.
const syncWarnEvery = 30 * time.Second

// indexService indexes EndpointSlices by the Service they belong to.
const indexService = "service"

// Start runs the informers, the node Lease and the loop until ctx ends.
// Nothing is bound before the informers have synced. On return the node
// Lease has been released (or left to expire) and no write is in flight.
func (c *Controller) Start(ctx context.Context) error {

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.deps.Client.CoreV1().Events("")})
	c.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "vipkeeper", Host: c.cfg.Node})
	// The announcer Events (announce.go) on a client of their own.
	events := c.deps.Events
	if events == nil {
		events = c.deps.Client
	}
	announcements := record.NewBroadcaster(record.WithContext(ctx))
	defer announcements.Shutdown()
	announcements.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: events.CoreV1().Events("")})
	c.announcer = announcements.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "vipkeeper", Host: c.cfg.Node})
	for _, x := range c.pools.Exclusions() {
		c.log.Warn("pool address not handed out", "pool", x.Pool, "addrs", x.Prefix, "why", x.Why)
	}

	defer func() {
		c.stop() // first: the informers' handlers may be sending to the loop
		for _, set := range c.sets {
			set.cancel()
		}
		for _, set := range c.sets {
			set.done.Wait()
		}
	}()
	set, err := c.startInformers(ctx)
	if err != nil {
		return err
	}
	c.services, c.slices, c.poolObjs, c.nodes = set.services, set.slices, set.pools, set.nodes
	c.st.poolsDirty = c.cfg.PoolObjects

	// Wait for the first lists however long the API server is away:
	// acting on half a picture could take addresses that are in use, and
	// exiting would need an operator or a restart to come back.
	for synced := false; !synced; {
		waitCtx, cancel := context.WithTimeout(ctx, syncWarnEvery)
		synced = cache.WaitForCacheSync(waitCtx.Done(), set.synced...)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if !synced {
			c.log.Warn("still waiting for the first list of Services, EndpointSlices and Leases", "waited_at_least", syncWarnEvery)
		}
	}
	c.log.Info("informers synced", "services", len(c.services.ListKeys()), "endpointslices", len(c.slices.ListKeys()))

	// The node Lease campaigns only once we can act on it.
	c.deps.NodeLease.SetCandidate(c.st.tenure.Healthy())
	leaseCtx, stopLease := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLease()
	leaseDone := make(chan error, 1)
	go func() { leaseDone <- c.deps.NodeLease.Start(leaseCtx) }()

	var writes sync.WaitGroup
	err = c.loop(ctx, &writes)
	c.stop()
	// Shutting down: the keeper has unbound every VIP before the
	// components stop (pkg/cli), so the node Lease may go now; peers take
	// our addresses over as soon as they see it released.
	stopLease()
	select {
	case <-leaseDone:
	case <-time.After(c.cfg.RenewDeadline + time.Second):
		c.log.Warn("node Lease not released in time; it will expire instead")
	}
	writes.Wait()
	return err
}

// informerSet is one generation of the three informers. After an API
// outage a new set replaces the old one: client-go's reflectors back off
// up to 30 s after repeated failures, and a watch that comes back "too
// old" would otherwise leave the caches stale for that long.
type informerSet struct {
	services, slices cache.Indexer
	pools, nodes     cache.Indexer // nil without pool objects
	synced           []cache.InformerSynced
	cancel           context.CancelFunc
	done             sync.WaitGroup
}

// startInformers starts a new set; its handlers feed the loop at once,
// and the loop reads its caches once it has synced.
func (c *Controller) startInformers(parent context.Context) (*informerSet, error) {
	// Informers built from the typed clients alone: client-go's informer
	// factory would link every API group's informers into the binary.
	core, disc := c.deps.Informers.CoreV1(), c.deps.Informers.DiscoveryV1()
	leaseAPI := c.deps.Informers.CoordinationV1().Leases(c.cfg.Namespace)
	svcInf := c.informer(&corev1.Service{}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return core.Services("").List(ctx, o)
	}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return core.Services("").Watch(ctx, o)
	})
	epsInf := c.informer(&discoveryv1.EndpointSlice{}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return disc.EndpointSlices("").List(ctx, o)
	}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return disc.EndpointSlices("").Watch(ctx, o)
	})
	if err := epsInf.AddIndexers(cache.Indexers{indexService: sliceService}); err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	ours := func(o *metav1.ListOptions) { o.LabelSelector = LabelRole }
	leaseInf := c.informer(&coordinationv1.Lease{}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		ours(&o)
		return leaseAPI.List(ctx, o)
	}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		ours(&o)
		return leaseAPI.Watch(ctx, o)
	})

	dirty := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.poke() },
		UpdateFunc: func(any, any) { c.poke() },
		DeleteFunc: func(any) { c.poke() },
	}
	leases := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.leaseChanged(o, false) },
		UpdateFunc: func(_, o any) { c.leaseChanged(o, false) },
		DeleteFunc: func(o any) { c.leaseChanged(o, true) },
	}
	infs := []cache.SharedIndexInformer{svcInf, epsInf, leaseInf}
	handlers := []cache.ResourceEventHandler{dirty, dirty, leases}
	set := &informerSet{services: svcInf.GetIndexer(), slices: epsInf.GetIndexer()}
	if c.cfg.PoolObjects {
		poolInf := c.poolInformer()
		infs = append(infs, poolInf)
		handlers = append(handlers, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { c.send(poolsChanged{}) },
			UpdateFunc: func(any, any) { c.send(poolsChanged{}) },
			DeleteFunc: func(any) { c.send(poolsChanged{}) },
		})
		set.pools = poolInf.GetIndexer()
		nodeInf := c.informer(&corev1.Node{}, func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return core.Nodes().List(ctx, o)
		}, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return core.Nodes().Watch(ctx, o)
		})
		infs = append(infs, nodeInf)
		handlers = append(handlers, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(any) { c.poke() },
			UpdateFunc: c.nodeChanged,
			DeleteFunc: func(any) { c.poke() },
		})
		set.nodes = nodeInf.GetIndexer()
	}
	for i, h := range handlers {
		if _, err := infs[i].AddEventHandler(h); err != nil {
			return nil, fmt.Errorf("services: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	set.cancel = cancel
	for _, inf := range infs {
		set.synced = append(set.synced, inf.HasSynced)
		set.done.Go(func() { inf.RunWithContext(ctx) })
	}
	c.sets = append(c.sets, set)
	return set, nil
}

// restartInformers starts a new set and, once it has synced, hands it to
// the loop (informersSynced), which then stops the old one. Until then the
// loop keeps reading the old caches: a half-filled new one would make
// allocated addresses look unused.
func (c *Controller) restartInformers(ctx context.Context) {
	set, err := c.startInformers(ctx)
	if err != nil {
		c.log.Error("restarting informers", "err", err)
		return
	}
	c.st.pendingSet = set
	go func() {
		waitCtx, cancel := context.WithTimeout(ctx, syncWarnEvery)
		defer cancel()
		if cache.WaitForCacheSync(waitCtx.Done(), set.synced...) {
			c.send(informersSynced{set: set})
			return
		}
		c.send(informersSynced{set: set, failed: true})
	}()
}

// informersSynced: a new informer set has its first lists (or gave up).
type informersSynced struct {
	set    *informerSet
	failed bool
}

func (e informersSynced) apply(c *Controller) {
	st := &c.st
	if st.pendingSet != e.set {
		return
	}
	st.pendingSet = nil
	if e.failed {
		e.set.cancel() // the next API recovery, or the next idle pass, tries again
		st.relist = true
		return
	}
	c.services, c.slices, c.poolObjs, c.nodes = e.set.services, e.set.slices, e.set.pools, e.set.nodes
	st.poolsDirty = c.cfg.PoolObjects
	for _, old := range c.sets {
		if old != e.set {
			old.cancel() // waited for at shutdown; its last events are harmless
		}
	}
	c.sets = []*informerSet{e.set}
	c.log.Info("informers restarted after the API server came back", "services", len(c.services.ListKeys()))
}

// informer builds one shared informer with no resync, its objects trimmed.
func (c *Controller) informer(obj runtime.Object, list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) cache.SharedIndexInformer {
	return c.informerVia(c.deps.Informers, obj, list, watchFn)
}

// informerVia is informer on client's watch-list semantics.
func (c *Controller) informerVia(client any, obj runtime.Object, list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) cache.SharedIndexInformer {
	// The client says whether it serves streaming lists (the fake one in
	// tests does not), as client-go's own informers ask it.
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{ListWithContextFunc: list, WatchFuncWithContext: watchFn}, client)
	inf := cache.NewSharedIndexInformer(lw, obj, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	_ = inf.SetTransform(c.transform) // fails only once started
	return inf
}

// leaseChanged runs on the informer's goroutine: it hands the loop a copy
// of what matters.
func (c *Controller) leaseChanged(o any, deleted bool) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	l, ok := o.(*coordinationv1.Lease)
	if !ok {
		return
	}
	c.send(leaseEvent{lease: l, deleted: deleted})
}

// trim keeps of each cached object only what the controller reads, so
// memory stays flat with thousands of Services and large EndpointSlices.
// Nothing cached is ever written back (statuses go out as patches).
func trim(o any) (any, error) {
	switch x := o.(type) {
	case *corev1.Service:
		trimMeta(&x.ObjectMeta, func(k string) bool { return strings.HasPrefix(k, annotationPrefix) })
		x.Labels = nil
		sp := &x.Spec
		sp.ClusterIP, sp.ClusterIPs, sp.ExternalIPs, sp.ExternalName = "", nil, nil, ""
		sp.SessionAffinityConfig, sp.LoadBalancerSourceRanges, sp.TrafficDistribution = nil, nil, nil
		for i := range sp.Ports {
			sp.Ports[i] = corev1.ServicePort{Protocol: sp.Ports[i].Protocol, Port: sp.Ports[i].Port}
		}
	case *corev1.Node:
		// Placement reads the name and the labels only.
		*x = corev1.Node{TypeMeta: x.TypeMeta, ObjectMeta: metav1.ObjectMeta{
			Name: x.Name, Labels: x.Labels, ResourceVersion: x.ResourceVersion, UID: x.UID}}
	case *discoveryv1.EndpointSlice:
		trimMeta(&x.ObjectMeta, func(string) bool { return false })
		x.Ports = nil
		for i, ep := range x.Endpoints {
			x.Endpoints[i] = discoveryv1.Endpoint{NodeName: ep.NodeName, Conditions: discoveryv1.EndpointConditions{Ready: ep.Conditions.Ready}}
		}
	case metav1.Object:
		x.SetManagedFields(nil)
	}
	return o, nil
}

// annotationPrefix is the prefix of the annotations we read on Services.
const annotationPrefix = "vipkeeper.io/"

func trimMeta(m *metav1.ObjectMeta, keepAnnotation func(string) bool) {
	m.ManagedFields, m.OwnerReferences, m.Finalizers = nil, nil, nil
	for k := range m.Annotations {
		if !keepAnnotation(k) {
			delete(m.Annotations, k)
		}
	}
}

func sliceService(o any) ([]string, error) {
	s, ok := o.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + name}, nil
}
