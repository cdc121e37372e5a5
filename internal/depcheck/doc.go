// Package depcheck holds only a test: it enforces that imports point one way
// (cmd -> harness -> components, emulators -> internal), that in-cluster
// components and cloud emulators never import each other outside tests, and
// that both stay free of cloud SDKs, kind and the harness.
package depcheck
