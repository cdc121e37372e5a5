package gke

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// mdsLine is one decision line of the GKE metadata server's log
// (components/gkemetadata handler.go: "token issued", "caller not served").
type mdsLine struct {
	Msg       string `json:"msg"`
	Decision  string `json:"decision"`
	RemoteIP  string `json:"remote_ip"`
	Principal string `json:"principal"`
	GSA       string `json:"gsa"`
	Reason    string `json:"reason"`
}

// mdsLines reads the decision lines of a metadata server's log.
func mdsLines(raw []byte) []mdsLine {
	var out []mdsLine
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var l mdsLine
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			l = textLine(sc.Text())
		}
		if l.Decision != "" {
			out = append(out, l)
		}
	}
	return out
}

// textLine reads a line of log/slog's text handler (key=value, values
// quoted as strconv does when they hold spaces or quotes), as `idlab
// gke-metadata serve` writes them; an unreadable line has no fields.
func textLine(line string) mdsLine {
	f := map[string]string{}
	for rest := strings.TrimSpace(line); rest != ""; rest = strings.TrimLeft(rest, " ") {
		k, v, ok := strings.Cut(rest, "=")
		if !ok || strings.Contains(k, " ") {
			return mdsLine{}
		}
		if strings.HasPrefix(v, `"`) {
			q, err := strconv.QuotedPrefix(v)
			if err != nil {
				return mdsLine{}
			}
			f[k], _ = strconv.Unquote(q)
			rest = v[len(q):]
			continue
		}
		val, after, _ := strings.Cut(v, " ")
		f[k], rest = val, after
	}
	return mdsLine{Msg: f["msg"], Decision: f["decision"], RemoteIP: f["remote_ip"], Principal: f["principal"], GSA: f["gsa"], Reason: f["reason"]}
}

// The multi-node rows' outcomes.
const (
	// mdsCrossNodeDenied: the other node's metadata server did not know
	// the caller (it serves the pods of its node only, by source address,
	// as GKE's does).
	mdsCrossNodeDenied = "Metadata404 from the other node's metadata server (no pod of its node has the caller's IP)"
)

// mdsServedBy is what a pod saw from the metadata server: its probe's
// outcome and the node whose metadata server issued the pod's KSA a token
// for gsa; served names the nodes that did.
func mdsServedBy(ok bool, code string, served []string) string {
	out := "allow"
	if !ok {
		out = code
	}
	if len(served) != 1 {
		return fmt.Sprintf("%s (a token issued on %d nodes: %v)", out, len(served), served)
	}
	return out + " from " + served[0] + "'s metadata server"
}

// issued reports whether lines hold a token issued to principal for gsa.
func issued(lines []mdsLine, principal, gsa string) bool {
	return slices.ContainsFunc(lines, func(l mdsLine) bool {
		return l.Decision == "allow" && l.Principal == principal && l.GSA == gsa
	})
}

// mdsCrossNodeObserved is what a pod saw asking another node's metadata
// server: the row holds only when the probe got Metadata404 and that
// server logged it did not serve the caller (the pod's address, or its
// node's when masqueraded) for want of a pod with its IP, and issued it
// nothing.
func mdsCrossNodeObserved(ok bool, code string, lines []mdsLine, callers ...string) string {
	if ok {
		return "allow"
	}
	denied := false
	for _, l := range lines {
		if !slices.Contains(callers, l.RemoteIP) {
			continue
		}
		if l.Decision == "allow" {
			return fmt.Sprintf("%s, but the other node's metadata server issued %s a token for %s", code, l.Principal, l.GSA)
		}
		denied = denied || (l.Msg == "caller not served" && l.Reason == "no pod with this IP on the node")
	}
	if denied && code == "Metadata404" {
		return mdsCrossNodeDenied
	}
	return fmt.Sprintf("%s (the other node's metadata server logged %d lines about the caller, none its 404)", code, len(lines))
}
