package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/explain"
)

func decisionsCommand() command {
	return command{name: "decisions", summary: "print the emulator's allow/deny decisions, one a line (--follow to keep reading)", run: runDecisions,
		usage: "decisions [--follow] [--principal P] [--effect deny] [--json] [filters] [--state-dir DIR]",
		about: `Reads the lab's decision log (every allow, deny and rejection of the
emulated AWS, Google and Azure services, oldest first) from the emulator's
admin API, which only the host reaches, and prints one line per decision:

  SEQ TIME EFFECT CLOUD/SERVICE ACTION RESOURCE principal=... request=... code=... reason="..."

--json prints each decision as a JSON object on its own line instead.
--follow keeps printing new decisions until interrupted. The log keeps the
newest 10000 decisions. idlab explain SEQ|REQUEST-ID tells one decision's
chain.`,
		env: labEnv[:1],
		examples: []example{
			{"idlab decisions --effect deny", "every refusal so far"},
			{"idlab decisions --follow --principal :assumed-role/app-a/", "watch app-a's sessions' decisions as they come"},
			{"idlab decisions --json --request-id 6f1c... | jq .", "one request's decisions as JSON"},
		}}
}

// decisionFlags are the filters decisions and explain share.
type decisionFlags struct {
	principal, effect, cloud, service, action, resource, requestID string
	since                                                          int64
}

func (f *decisionFlags) filter() (harness.DecisionFilter, error) {
	effect := f.effect
	switch strings.ToLower(effect) {
	case "":
	case "deny", "denied":
		effect = "Deny" // every denial, AWS's three kinds too
	case "allow", "allowed":
		effect = "Allow"
	case "implicitdeny":
		effect = "ImplicitDeny"
	case "explicitdeny":
		effect = "ExplicitDeny"
	case "rejected":
		effect = "Rejected"
	default:
		return harness.DecisionFilter{}, fmt.Errorf("%w: --effect %q: want allow, deny, implicitdeny, explicitdeny or rejected", errUsage, f.effect)
	}
	if f.since < 0 {
		return harness.DecisionFilter{}, fmt.Errorf("%w: --since %d: want a decision's seq, 0 or more", errUsage, f.since)
	}
	return harness.DecisionFilter{Principal: f.principal, Effect: effect, Cloud: f.cloud, Service: f.service, Action: f.action,
		Resource: f.resource, RequestID: f.requestID, Since: f.since}, nil
}

func runDecisions(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("decisions")
	stateDir := stateDirFlag(fs)
	var df decisionFlags
	fs.StringVar(&df.principal, "principal", "", "only decisions whose principal contains this (\":assumed-role/app-a/\")")
	fs.StringVar(&df.effect, "effect", "", "only this effect: allow, deny (every denial), implicitdeny, explicitdeny, rejected")
	fs.StringVar(&df.cloud, "cloud", "", "only this cloud: aws, google, azure")
	fs.StringVar(&df.service, "service", "", "only this service: iam, gcpiam, entra, azureblob")
	fs.StringVar(&df.action, "action", "", "only this action (sts:AssumeRoleWithWebIdentity)")
	fs.StringVar(&df.resource, "resource", "", "only this resource (an ARN ...)")
	fs.StringVar(&df.requestID, "request-id", "", "only this request's decisions")
	fs.Int64Var(&df.since, "since", 0, "only decisions after this seq")
	asJSON := fs.Bool("json", false, "one JSON object per decision and line")
	follow := fs.Bool("follow", false, "keep printing new decisions until interrupted")
	interval := fs.Duration("interval", time.Second, "how often --follow asks for new decisions")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f, err := df.filter()
	if err != nil {
		return err
	}
	if *interval <= 0 {
		return fmt.Errorf("%w: --interval %s: want a positive duration", errUsage, *interval)
	}
	st, err := harness.Open(*stateDir)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.stdout)
	for {
		ds, err := st.Decisions(ctx, f)
		if err != nil {
			if *follow && ctx.Err() != nil {
				return nil // interrupted: done
			}
			return fmt.Errorf("decision log: %w", err)
		}
		for _, d := range ds {
			if *asJSON {
				if err := enc.Encode(d); err != nil {
					return err
				}
			} else if _, err := fmt.Fprintln(env.stdout, explain.Line(d)); err != nil {
				return err
			}
			f.Since = d.Seq
		}
		if !*follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

func explainCommand() command {
	return command{name: "explain", summary: "tell why the emulator allowed or denied a request, step by step", run: runExplain,
		usage: "explain [--state-dir DIR] REQUEST-ID|SEQ",
		about: `Prints the chain behind the decisions of one request (its request ID, as
the SDK's error or idlab decisions shows it) or one decision (its seq),
from the decision log: for a web identity, the token's claims, the IAM
OIDC provider, the role, the trust statement and the condition that held
or failed, then the verdict; for any other AWS request, the principal, the
action and resource, the policy statements, then the verdict; for Google
and Azure, what their emulators record.`,
		env: labEnv[:1],
		examples: []example{
			{"idlab explain 8d7f3b2a-0c1e-4c8e-9a7d-2b1f0e9c6a55", "why STS refused that AssumeRoleWithWebIdentity"},
			{"idlab explain 42", "decision 42 of idlab decisions"},
		}}
}

func runExplain(ctx context.Context, env *cliEnv, args []string) error {
	fs := env.flagSet("explain")
	stateDir := stateDirFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: name one request ID or decision seq", errUsage)
	}
	id := fs.Arg(0)
	st, err := harness.Open(*stateDir)
	if err != nil {
		return err
	}
	ds, err := st.Decisions(ctx, harness.DecisionFilter{RequestID: id})
	if err != nil {
		return fmt.Errorf("decision log: %w", err)
	}
	if seq, serr := strconv.ParseInt(id, 10, 64); len(ds) == 0 && serr == nil && seq > 0 {
		all, err := st.Decisions(ctx, harness.DecisionFilter{Since: seq - 1})
		if err != nil {
			return fmt.Errorf("decision log: %w", err)
		}
		if len(all) > 0 && all[0].Seq == seq {
			ds = all[:1]
		}
	}
	if len(ds) == 0 {
		return fmt.Errorf("no decision of request %q in the decision log (it keeps the newest 10000; idlab decisions lists them)", id)
	}
	for i, d := range ds {
		if i > 0 {
			fmt.Fprintln(env.stdout)
		}
		if err := explain.Chain(env.stdout, d); err != nil {
			return err
		}
	}
	return nil
}
