package manifest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"go.yaml.in/yaml/v3"

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
	paths := map[string]string{}
	for _, p := range []struct{ key, flag, path string }{
		{"Kubeconfig", "--kubeconfig", cfg.Kubeconfig},
		{"Binary", "the binary's path", cmp.Or(o.Binary, BinaryPath)},
		{"Config", "the config file's path", cmp.Or(o.ConfigFile, ConfigPath)},
		{"EnvFile", "the environment file's path", EnvFilePath},
	} {
		v, err := unitPath(p.flag, p.path)
		if err != nil {
			return nil, err
		}
		paths[p.key] = v
	}
	var b strings.Builder
	err := unitTemplate.Execute(&b, map[string]string{
		"Header": header(o,
			"vipkeeper as a systemd service on a host without kubelet (docs/deploy-systemd.md):",
			"save as "+UnitPath+", settings in "+cmp.Or(o.ConfigFile, ConfigPath)+" (`vipkeeper manifest config`).",
		),
		"Watchdog":    systemdSpan(max(cfg.LeaseDuration, minWatchdog)),
		"Binary":      paths["Binary"],
		"Config":      paths["Config"],
		"EnvFile":     paths["EnvFile"],
		"Cred":        kubeconfigCred,
		"Kubeconfig":  paths["Kubeconfig"],
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

// configFile renders the non-default settings as the unit's config file,
// every value a double-quoted YAML string written by the YAML encoder (so
// "no" stays "no", and a quote or "#" stays data). The kubeconfig is left
// out: the unit passes it as a credential.
func configFile(cfg *config.Config, o Options) ([]byte, error) {
	if cfg.Kubeconfig == "" {
		return nil, errors.New("--kubeconfig: required outside a pod; it goes into the unit (`vipkeeper manifest systemd`), not this file")
	}
	str := func(v string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: v}
	}
	doc := &yaml.Node{Kind: yaml.MappingNode}
	for _, s := range cfg.Settings() {
		if s.Name == "kubeconfig" {
			continue
		}
		var val *yaml.Node
		if s.List {
			val = &yaml.Node{Kind: yaml.SequenceNode}
			for _, v := range s.Values {
				val.Content = append(val.Content, str(v))
			}
		} else {
			val = str(s.Values[0])
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: config.YAMLKey(s.Name)}, val)
	}
	var b bytes.Buffer
	b.WriteString(header(o,
		"vipkeeper settings for the systemd unit: save as "+cmp.Or(o.ConfigFile, ConfigPath)+" (docs/deploy-systemd.md).",
		"Keys are `vipkeeper run` flags in camelCase (README: configuration reference).",
		"The kubeconfig is not set here: the unit hands "+cfg.Kubeconfig+" over as a credential.",
	))
	if len(doc.Content) == 0 {
		return b.Bytes(), nil // every setting at its default: an empty file
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return b.Bytes(), nil
}
