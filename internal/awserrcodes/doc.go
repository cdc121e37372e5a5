// Package awserrcodes checks idlab's AWS emulators against AWS's own error
// codes: Scan finds every code an emulator's Go code can put on the wire,
// LoadModel reads the codes a botocore service model defines, and ReadList
// reads a cited list of codes AWS documents.
package awserrcodes
