// Package config builds the one validated Config of `vipkeeper run` from
// defaults, a YAML file, VIPKEEPER_* environment variables and flags, in
// increasing precedence. Every setting is declared once (options.go); the
// environment variable and the YAML key are derived from the flag name.
//
// Errors name the flag, variable or file field that holds the bad value and
// are returned before anything touches the network or the API server.
package config
