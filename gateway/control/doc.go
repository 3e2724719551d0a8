// Package control is the running agent's local control API: HTTP+JSON over a
// Unix socket (never a TCP listener), with access decided by the caller's
// kernel-verified credentials (SO_PEERCRED) and every change and every denial
// written to the audit trail before the call returns.
//
// Roles are cumulative: viewer (read calls), technician (one-off reads,
// buffer flush, log level, device enable/disable) and admin (root, or the
// admin group; everything). Only callers that can open the socket file can
// talk to the agent at all: the socket is mode 0660 in a 0750 directory, so
// every caller, whatever its role, must also be in the viewer group
// (`edgegw` by default) or be root.
package control
