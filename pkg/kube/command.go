package kube

import (
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// CommandClient builds the client of a one-shot command (status, doctor):
// every request is bounded by timeout, so a dead API server makes the
// command fail instead of hang.
func CommandClient(c *rest.Config, timeout time.Duration) (kubernetes.Interface, error) {
	c.Timeout = timeout
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cs, nil
}
