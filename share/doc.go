// Package share lets pair partners watch a live handrail session over
// SSH (handrail run --share ADDR --share-keys FILE).
//
// A partner runs `ssh -p PORT HOST` and sees the operator's session drawn
// by the same fold as the operator's own screen (ui's Watch mode, the
// WATCHING screen), fed in-process from the engine's events as the journal
// recorded them (secrets redacted): no shared file, no shared Unix user.
//
// Who may join is the keys file (keys.go); the server (server.go,
// partner.go, built on charm.land/wish/v2) accepts public-key
// authentication with those keys and nothing else: no password or
// keyboard-interactive login, no shell, no command, no subsystem, no port
// forwarding (an agent-forwarding request is acknowledged by the ssh
// package, but nothing ever opens a channel to the agent). Every join and
// leave goes through the engine (Engine.PartnerJoined, PartnerLeft), so the
// journal is the record, and a partner is let in only once it is recorded.
//
// A partner never slows or blocks the operator: the engine only appends
// to the Hub (hub.go), each partner's screen reads from it on its own
// goroutine, and connections are bounded (handshake timeout, connections
// and partners at once).
//
// A partner can send the engine only the partner commands
// (steps.PartnerCommands: approve, hold, release, ask for the rollback):
// the screen (ui's Watch mode with Options.Partner) draws its keys from
// State.AcceptsFrom for that partner, and partner.go hands what it sends
// to Engine.PartnerSend with the partner's identity (steps.Partner: name,
// role, key fingerprint, connection), dropping any other command type.
// The engine answers each on the record like the operator's, and refuses
// what a role may not do (an observer approving, the operator approving
// their own change). share itself decides nothing about a write.
package share
