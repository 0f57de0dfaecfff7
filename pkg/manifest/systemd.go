package manifest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/vipkeeper/vipkeeper/pkg/config"
)

// Paths on a host without kubelet (docs/deploy-systemd.md).
const (
	BinaryPath     = "/usr/local/bin/vipkeeper"
	ConfigPath     = "/etc/vipkeeper/config.yaml"
	EnvFilePath    = "/etc/vipkeeper/vipkeeper.env"
	UnitPath       = "/etc/systemd/system/vipkeeper.service"
	kubeconfigCred = "kubeconfig" // the systemd credential's name
)

// minWatchdog keeps systemd's watchdog from biting on a loaded host: the
// keeper loop gets half of it to answer a ping.
const minWatchdog = 2 * time.Second

var unitTemplate = template.Must(template.New("unit").Parse(`{{.Header}}[Unit]
Description=vipkeeper: keeps a virtual IP on exactly one healthy node
Documentation=https://github.com/vipkeeper/vipkeeper/blob/main/docs/deploy-systemd.md
Wants=network-online.target
After=network-online.target
# Never stop restarting: a node without vipkeeper cannot take the VIP over.
StartLimitIntervalSec=0

[Service]
# READY=1 once the keeper loop runs; WATCHDOG=1 every WatchdogSec/2 while it
# answers. A stuck loop is killed and restarted within about one lease
# duration, and the new process removes the VIP before it campaigns.
Type=notify
NotifyAccess=main
WatchdogSec={{.Watchdog}}
ExecStart={{.Binary}} run --config {{.Config}}
# Optional overrides, e.g. VIPKEEPER_LOG_LEVEL=debug (the environment wins
# over the config file, flags over both).
EnvironmentFile=-{{.EnvFile}}
# The kubeconfig stays root-only (0600); systemd hands the service a copy
# only it can read (systemd 248 or later).
LoadCredential={{.Cred}}:{{.Kubeconfig}}
Environment=VIPKEEPER_KUBECONFIG=%d/{{.Cred}}
Restart=always
RestartSec=2s
# Shutdown removes the VIP, then releases the lease (at most the renew
# deadline and a second).
TimeoutStopSec={{.StopTimeout}}

# A transient user for each run, with only the two capabilities it needs:
# NET_ADMIN to add and remove the VIP, NET_RAW for ARP and NA.
DynamicUser=yes
AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
# unix: sd_notify; netlink: addresses and links; packet: ARP;
# inet, inet6: the API server, NDP, health checks.
RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_PACKET AF_INET AF_INET6

[Install]
WantedBy=multi-user.target
`))

func unit(cfg *config.Config, o Options) ([]byte, error) {
	if cfg.Kubeconfig == "" {
		return nil, errors.New("--kubeconfig: required outside a pod (there is no in-cluster configuration); the unit hands it to the service as a systemd credential")
	}
	var b strings.Builder
	err := unitTemplate.Execute(&b, map[string]string{
		"Header": header(o,
			"vipkeeper as a systemd service on a host without kubelet (docs/deploy-systemd.md):",
			"save as "+UnitPath+", settings in "+ConfigPath+" (`vipkeeper manifest config`).",
		),
		"Watchdog":    systemdSpan(max(cfg.LeaseDuration, minWatchdog)),
		"Binary":      BinaryPath,
		"Config":      ConfigPath,
		"EnvFile":     EnvFilePath,
		"Cred":        kubeconfigCred,
		"Kubeconfig":  cfg.Kubeconfig,
		"StopTimeout": systemdSpan(cfg.RenewDeadline + time.Second + stopSlack),
	})
	return []byte(b.String()), err
}

// stopSlack is room on top of the release for unbinding and logging.
const stopSlack = 5 * time.Second

// systemdSpan writes d as a systemd time span, in milliseconds when it is
// not whole seconds.
func systemdSpan(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// configFile renders the non-default settings as the unit's config file.
// The kubeconfig is left out: the unit passes it as a credential.
func configFile(cfg *config.Config, o Options) ([]byte, error) {
	if cfg.Kubeconfig == "" {
		return nil, errors.New("--kubeconfig: required outside a pod; it goes into the unit (`vipkeeper manifest systemd`), not this file")
	}
	var b strings.Builder
	b.WriteString(header(o,
		"vipkeeper settings for the systemd unit: save as "+ConfigPath+" (docs/deploy-systemd.md).",
		"Keys are `vipkeeper run` flags in camelCase (README: configuration reference).",
		"The kubeconfig is not set here: the unit hands "+cfg.Kubeconfig+" over as a credential.",
	))
	for _, s := range cfg.Settings() {
		if s.Name == "kubeconfig" {
			continue
		}
		key := config.YAMLKey(s.Name)
		if !s.List {
			fmt.Fprintf(&b, "%s: %s\n", key, strconv.Quote(s.Values[0]))
			continue
		}
		fmt.Fprintf(&b, "%s:\n", key)
		for _, v := range s.Values {
			fmt.Fprintf(&b, "  - %s\n", strconv.Quote(v))
		}
	}
	return []byte(b.String()), nil
}
