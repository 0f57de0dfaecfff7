//go:build tools

// Package tools pins the kube-apiserver that the end-to-end lab runs.
// It is a module of its own so that the daemon's go.mod never sees
// k8s.io/kubernetes and its replace directives.
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
