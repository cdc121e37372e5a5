package storm

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseMemUsage reads the used part of docker stats' MemUsage column
// ("849.8MiB / 23.54GiB") in bytes.
func ParseMemUsage(s string) (uint64, error) {
	used, _, _ := strings.Cut(s, "/")
	used = strings.TrimSpace(used)
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(used, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 || v*u.mult >= math.MaxUint64 || math.IsNaN(v) {
				return 0, fmt.Errorf("docker memory usage %q: not a size", s)
			}
			return uint64(v * u.mult), nil
		}
	}
	return 0, fmt.Errorf("docker memory usage %q: no unit", s)
}

// ParseStats sums the memory of docker stats' lines "NAME\tMEMUSAGE" and
// lists each container's.
func ParseStats(out string) (total uint64, each map[string]uint64, err error) {
	each = map[string]uint64{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		name, mem, ok := strings.Cut(l, "\t")
		if !ok {
			return 0, nil, fmt.Errorf("docker stats line %q: want NAME<TAB>MEMUSAGE", l)
		}
		b, err := ParseMemUsage(mem)
		if err != nil {
			return 0, nil, err
		}
		each[strings.TrimSpace(name)] = b
		total += b
	}
	return total, each, nil
}

// MiB formats bytes in MiB.
func MiB(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
