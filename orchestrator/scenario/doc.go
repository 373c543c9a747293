// Package scenario holds the end-to-end scenario suite: Switchyard's call
// runtime, its outbound-socket server and a store, driven by simulated
// callers over real Event Socket TCP. By default the suite runs against the
// in-tree FreeSWITCH emulator; with SWITCHYARD_FS_ESL=host:port (and
// SWITCHYARD_FS_PASSWORD, SWITCHYARD_TEST_SOCKET) the same scenarios run
// against a real FreeSWITCH configured with freeswitch-conf/.
package scenario
