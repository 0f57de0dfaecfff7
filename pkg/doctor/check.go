package doctor

import (
	"context"
	"io/fs"
	"os"
)

// Options say what Check inspects.
type Options struct {
	// Root is the filesystem root that holds proc/ and sys/; "/" when
	// empty. Tests point it at a fixture tree.
	Root string
	// Interface is the interface that carries the VIP.
	Interface string
	// ConfigMaps reads ConfigMaps of kube-system, for kube-proxy's
	// configuration; nil skips that check.
	ConfigMaps ConfigMapGetter
}

func rootOf(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

// Check inspects the node and returns one finding per setting, in a fixed
// order: the interface, binding, ARP, IPv6, IPVS, conntrack, TCP keepalive
// and, with ConfigMaps, kube-proxy. It changes nothing. Only the kube-proxy
// check uses ctx.
func Check(ctx context.Context, o Options) []Finding {
	return checkFS(ctx, os.DirFS(rootOf(o.Root)), o.Interface, o.ConfigMaps)
}

func checkFS(ctx context.Context, fsys fs.FS, iface string, cms ConfigMapGetter) []Finding {
	out, present := checkInterface(fsys, iface)
	out = append(out, checkBind(fsys)...)
	if present {
		out = append(out, checkARP(fsys, iface)...)
		out = append(out, checkIPv6(fsys, iface)...)
	}
	out = append(out, checkIPVS(fsys)...)
	out = append(out, checkConntrack(fsys)...)
	out = append(out, checkKeepalive(fsys)...)
	if cms != nil {
		out = append(out, CheckKubeProxy(ctx, cms)...)
	}
	return out
}
