package awserrcodes_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idlab/idlab/internal/awserrcodes"
)

const (
	module     = "github.com/idlab/idlab"
	awsxmlCode = module + "/internal/awsxml.Error.Code"
)

// TestScanFollowsEveryWay: the scanner finds a code however the fixture
// package puts it into a sink, ignores strings that never reach one, and
// reports each value it cannot follow instead of dropping it.
func TestScanFollowsEveryWay(t *testing.T) {
	res, err := awserrcodes.Scan(context.Background(), awserrcodes.Config{BuildFlags: buildFlags,
		Packages: []string{"./testdata/fakeemu"}, Sinks: []string{awsxmlCode}})
	require.NoError(t, err)

	require.Equal(t, []string{
		"(X-Amzn-ErrorType header or map key Code)",
		module + "/internal/awserrcodes/testdata/fakeemu.(struct).Code",
		module + "/internal/awserrcodes/testdata/fakeemu.(struct).Code",
		module + "/internal/awserrcodes/testdata/fakeemu.Error.Code",
		module + "/internal/awserrcodes/testdata/fakeemu.batchEntry.Code",
		module + "/internal/awserrcodes/testdata/fakeemu.tagged.Kind",
		awsxmlCode,
	}, res.Sinks)

	codes := res.Codes()
	for _, want := range []string{"ViaLiteral", "ViaConst", "ViaPositional", "ViaParam", "ViaForward", "ViaClosure",
		"ViaResult", "ViaLocal", "ViaLocalToo", "ViaTuple", "ViaConversion", "ViaOtherSink", "ViaShared",
		"ViaTag", "ViaAnonymous", "ViaLocalType", "ViaHeader", "ViaMapKey"} {
		require.Contains(t, codes, want)
	}
	for _, not := range []string{"NotACode", "Compared", "FromMap", "FromRange", "NotACodeEither", "NotACodeToo"} {
		require.NotContains(t, codes, not)
	}
	// internal/awsxml's own codes reach its Error.Code too.
	require.Contains(t, codes, "InternalFailure")

	var unresolved []string
	for _, u := range res.Unresolved {
		unresolved = append(unresolved, filepath.Base(u.Pos.Filename)+" "+u.Func+": "+u.Expr)
	}
	slices.Sort(unresolved)
	require.Equal(t, []string{
		"fakeemu.go fakeemu.fromCall: fmt.Sprint(n) (fmt.Sprint's body is not scanned)",
		"fakeemu.go fakeemu.fromMap: table[k]",
		"fakeemu.go fakeemu.fromRange: []string{\"FromRange\"}",
		"fakeemu.go fakeemu.viaInterface: f.fail(\"ViaInterface\") calls a method through an interface, maybe " +
			"(github.com/idlab/idlab/internal/awserrcodes/testdata/fakeemu.wireFailer).fail, whose arguments are not followed",
		"fakeemu.go fakeemu: newErr used as a value, so calls through it are not followed",
	}, unresolved)
}

// TestScanSiteNamesItsLine: a code's site is the line that writes it, so a
// failure points at the code to fix.
func TestScanSiteNamesItsLine(t *testing.T) {
	res, err := awserrcodes.Scan(context.Background(), awserrcodes.Config{BuildFlags: buildFlags, Packages: []string{"./testdata/invented"}, Sinks: []string{awsxmlCode}})
	require.NoError(t, err)
	var lines []int
	for _, s := range res.Sites {
		if s.Code == "InventedCode" {
			require.Equal(t, "invented.go", filepath.Base(s.Pos.Filename))
			lines = append(lines, s.Pos.Line)
		}
	}
	require.Equal(t, []int{12}, lines)
}

func TestScanRefusesAnUnknownSink(t *testing.T) {
	_, err := awserrcodes.Scan(context.Background(), awserrcodes.Config{BuildFlags: buildFlags, Packages: []string{"./testdata/invented"},
		Sinks: []string{module + "/internal/awsxml.Error.Kode"}})
	require.ErrorContains(t, err, "Error.Kode")
	_, err = awserrcodes.Scan(context.Background(), awserrcodes.Config{})
	require.Error(t, err)
}

// TestProgramScanIsScan: a scan on a shared load finds what a scan of its
// own finds, for each of two services loaded together, and refuses a
// package the load was not given.
func TestProgramScanIsScan(t *testing.T) {
	invented, fake := module+"/internal/awserrcodes/testdata/invented", module+"/internal/awserrcodes/testdata/fakeemu"
	prog, err := awserrcodes.Load(context.Background(), awserrcodes.Config{BuildFlags: buildFlags, Packages: []string{invented, fake}})
	require.NoError(t, err)
	for _, pkg := range []string{invented, fake} {
		cfg := awserrcodes.Config{BuildFlags: buildFlags, Packages: []string{pkg}, Sinks: []string{awsxmlCode}}
		want, err := awserrcodes.Scan(context.Background(), cfg)
		require.NoError(t, err)
		got, err := prog.Scan(cfg)
		require.NoError(t, err)
		require.Equal(t, want, got, pkg)
		require.NotEmpty(t, got.Sites, pkg)
	}
	_, err = prog.Scan(awserrcodes.Config{Packages: []string{module + "/emulators/awssts"}})
	require.ErrorContains(t, err, "was not loaded")
	_, err = awserrcodes.Load(context.Background(), awserrcodes.Config{})
	require.Error(t, err)
}
