//go:build linux

// Package netnstest is the network-namespace scaffolding shared by the
// root-only integration tests: it creates named namespaces that are deleted
// when the test ends, joins them with veth pairs, sets sysctls in them and
// runs commands or Go code inside them. Nothing it does touches the host
// namespace.
//
// It is test support: import it only from _test.go files. Every helper that
// needs privileges skips the test, with a message that says why, when it
// runs without them.
package netnstest
