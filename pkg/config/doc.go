// Package config builds the one validated Config of `vipkeeper run` from
// defaults, a YAML file, VIPKEEPER_* environment variables and flags, in
// increasing precedence. Every setting is declared once (options.go); the
// environment variable and the YAML key are derived from the flag name.
//
// Validation is in one place: every numeric setting's range, each bound
// with its reason, is the bounds table (bounds.go); the rules between
// settings are in validate.go; names (node, interface, Lease) in names.go;
// what the node itself rules out (the interface's addresses) in CheckHost.
// The config file is read strictly (file.go: bounded, one document, no
// duplicate keys, scalars as written), and a VIPKEEPER_* variable that is
// a near miss of a setting is an error (env.go).
//
// Errors are *Error values that name the flag, variable or file field that
// holds the bad value — for a rule between settings, the one someone set —
// and are returned before anything touches the network or the API server.
// Their text is one printable line and never shows a URL's user
// information.
package config
