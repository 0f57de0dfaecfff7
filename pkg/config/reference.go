package config

import (
	"fmt"
	"strings"
)

// Reference renders the configuration reference as a Markdown table: every
// flag with its environment variable, YAML key and default. README.md embeds
// it between markers, and a test keeps the two identical.
func Reference() string {
	var b strings.Builder
	b.WriteString("| flag | environment | YAML key | default | meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	row := func(name, key, def, usage string) {
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s | %s |\n", name, EnvVar(name), key, def, usage)
	}
	row("config", "—", "", "YAML config file; only as a flag or environment variable")
	for _, o := range options {
		usage := o.usage
		if o.list {
			env := o.envList
			if env == "" {
				env = "comma-separated"
			}
			usage += "; in YAML a list, in the environment " + env
		}
		row(o.name, "`"+YAMLKey(o.name)+"`", o.def, usage)
	}
	return b.String()
}
