// Package depcheck holds only a test: it enforces that imports point one way
// (cmd -> harness -> emulators -> internal) and that emulators stay free of
// cloud SDKs, kind and the harness.
package depcheck
