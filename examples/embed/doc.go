// Package embed is a module of its own that uses idlab as a user's module
// would: through its public packages only (idlabtest and emulators/*),
// with a replace directive pointing at this checkout. Its tests start the
// emulators in process and drive them with the unmodified cloud SDKs.
//
// Its module path (example.com/embed) is outside github.com/idlab/idlab on
// purpose: Go lets any package below github.com/idlab/idlab/ import
// github.com/idlab/idlab/internal/..., so only a module elsewhere meets the
// restriction a user meets. That its tests compile at all proves no public
// API of idlab needs an internal package; TestModuleIsOutsideIdlab keeps
// the proof from being voided by a rename.
package embed
