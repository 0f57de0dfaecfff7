// Package manifest renders the files that deploy vipkeeper — a static pod,
// a DaemonSet, its RBAC, a systemd unit and its config file — from the
// validated Config of `vipkeeper run`. The container arguments and the
// config file are the Config's non-default settings written back out
// (config.Config.Settings), so a manifest cannot drift from what `run`
// accepts: an invalid setting fails here as it would at start-up.
//
// Security choices, each explained where it is made:
//   - pods run on the host network with only NET_ADMIN and NET_RAW, a
//     read-only root filesystem and no privilege escalation as root when
//     they read a host kubeconfig (kubeadm's are root-only), or as the
//     image's non-root user with its file capabilities when they use the
//     in-cluster ServiceAccount (pod.go);
//   - the Role allows exactly what the election and the Lease's Events
//     need in the lease namespace, nothing cluster-wide; services mode
//     (--services) adds a ClusterRole to read Services and EndpointSlices
//     and patch their status and Events, a Role for its node and claim
//     Leases in the services namespace (with --services-namespace one of
//     its own, emitted as a Namespace), and the guard's list in the lease
//     namespace; each verb is one the code sends (rbac.go);
//   - the systemd unit runs as a dynamic user with ambient capabilities
//     and a credential for the kubeconfig (systemd.go);
//   - the files are data: YAML from a marshaller, and every value that
//     reaches a comment header, a unit line or a hostPath is checked
//     first — no control characters, absolute paths, "%" escaped in the
//     unit, the image a reference with a tag or a digest (safe.go,
//     image.go).
package manifest
