package config

import "slices"

// Setting is one option's effective value as text, as it would be written
// on the command line (Values holds one element unless the option is a
// list).
type Setting struct {
	Name   string // the flag name
	Values []string
	List   bool // the option may be given several times
}

// Settings returns the settings that differ from their defaults, in the
// order of the reference, whatever layer they came from (flag, environment
// or config file). Rendered back as flags or as a config file they give the
// same Config, which is how `vipkeeper manifest` cannot drift from `run`.
// A node name taken from the hostname is not a setting.
func (c *Config) Settings() []Setting {
	var out []Setting
	for _, o := range options {
		vals, ok := c.values[o.name]
		if !ok || (!o.list && len(vals) == 1 && vals[0] == o.def) {
			continue
		}
		out = append(out, Setting{Name: o.name, Values: slices.Clone(vals), List: o.list})
	}
	return out
}

// Args renders settings as `--name=value` arguments.
func Args(settings []Setting) []string {
	var args []string
	for _, s := range settings {
		for _, v := range s.Values {
			args = append(args, "--"+s.Name+"="+v)
		}
	}
	return args
}

// Value returns an option's effective value (its first, for a list),
// whether set or defaulted, and false when the option does not exist or
// has neither a value nor a default.
func (c *Config) Value(name string) (string, bool) {
	if vals, ok := c.values[name]; ok && len(vals) > 0 {
		return vals[0], true
	}
	if o, ok := lookupOption(name); ok && o.def != "" {
		return o.def, true
	}
	return "", false
}
