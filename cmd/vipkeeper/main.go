// Command vipkeeper keeps a virtual IP on exactly one healthy node.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vipkeeper/vipkeeper/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
