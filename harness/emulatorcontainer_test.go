package harness

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseEmulatorInspect(t *testing.T) {
	ours := emulatorContainer{Image: "idlab/emulator:abc", Running: true, DataDir: "/check/work/main/.idlab/serve-root", HostPort: "127.0.0.1:8443"}
	for _, tc := range []struct {
		name string
		out  string
		want emulatorContainer
		ours bool
	}{
		{"this lab's", "idlab/emulator:abc\ttrue\t/check/work/main/.idlab/serve-root\t127.0.0.1:8443", ours, true},
		// The CI failure of 0d0bf5c: a lab of another checkout left the
		// container, same image, running; restarting it served that
		// checkout's admin socket.
		{"another state dir's", "idlab/emulator:abc\ttrue\t/work/baseline/.idlab/serve-root\t127.0.0.1:8443",
			emulatorContainer{Image: "idlab/emulator:abc", Running: true, DataDir: "/work/baseline/.idlab/serve-root", HostPort: "127.0.0.1:8443"}, false},
		{"stopped", "idlab/emulator:abc\tfalse\t/check/work/main/.idlab/serve-root\t127.0.0.1:8443",
			emulatorContainer{Image: "idlab/emulator:abc", DataDir: "/check/work/main/.idlab/serve-root", HostPort: "127.0.0.1:8443"}, false},
		{"another image", "idlab/emulator:def\ttrue\t/check/work/main/.idlab/serve-root\t127.0.0.1:8443",
			emulatorContainer{Image: "idlab/emulator:def", Running: true, DataDir: "/check/work/main/.idlab/serve-root", HostPort: "127.0.0.1:8443"}, false},
		{"another port", "idlab/emulator:abc\ttrue\t/check/work/main/.idlab/serve-root\t127.0.0.1:9443",
			emulatorContainer{Image: "idlab/emulator:abc", Running: true, DataDir: "/check/work/main/.idlab/serve-root", HostPort: "127.0.0.1:9443"}, false},
		{"no /data mount", "idlab/emulator:abc\ttrue\t\t127.0.0.1:8443",
			emulatorContainer{Image: "idlab/emulator:abc", Running: true, HostPort: "127.0.0.1:8443"}, false},
		{"no container", "", emulatorContainer{}, false},
		{"the old two-field format", "idlab/emulator:abc true", emulatorContainer{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseEmulatorInspect(tc.out)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.ours, got == ours)
		})
	}
}
