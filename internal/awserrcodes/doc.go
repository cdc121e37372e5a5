// Package awserrcodes checks idlab's AWS emulators against AWS's own list of
// error codes: Scan finds every code an emulator's Go code can put on the
// wire, and Model and ReadList read the codes botocore's service models and
// AWS's documentation define.
package awserrcodes
