// Package scenario holds the end-to-end scenario suite: Switchyard's call
// runtime, its outbound-socket server and a store, driven by simulated
// callers over real Event Socket TCP.
//
// By default the suite runs against the in-tree FreeSWITCH emulator (a few
// scenarios at real speed with FreeSWITCH's 20 ms media tick, the rest on
// a fast clock). With SWITCHYARD_FS=archive the same scenarios run on real
// FreeSWITCH nodes started from the project's archive and configured from
// freeswitch-conf/ (orchestrator/fsnode), several in parallel; with
// SWITCHYARD_FS_ESL=host:port on a node of your own (see node_test.go).
// make test runs both and prints how many scenarios passed on each.
package scenario
