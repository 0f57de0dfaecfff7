// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)) for `vipkeeper run` under a Type=notify unit: READY=1 once
// the keeper loop answers, WATCHDOG=1 every half WatchdogSec while it keeps
// answering, and STOPPING=1 at shutdown. A loop that stops answering gets
// no keep-alive, so systemd kills and restarts the daemon; the new process
// clears the stale VIP before it campaigns.
//
// Outside systemd (NOTIFY_SOCKET unset) it does nothing.
package sdnotify
