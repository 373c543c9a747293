// Package api is Switchyard's HTTP surface, built on Echo: binding,
// validation, authentication, error mapping and Exotel's response shapes
// (XML and JSON). It holds no business rules: handlers call the
// orchestrator and the store and translate the results.
package api
