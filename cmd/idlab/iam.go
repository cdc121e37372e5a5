package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/idlab/idlab/harness"
	"github.com/idlab/idlab/harness/iamimport"
)

func iamCommand() command {
	return command{
		name:    "iam",
		summary: "import what awscli prints for real IAM roles, policies and OIDC providers into the running lab's IAM",
		run:     runIAM,
		usage:   "iam import [flags] FILE...",
		about: `Reads the JSON that aws iam get-role, get-role-policy,
list-attached-role-policies, get-policy, get-policy-version and
get-open-id-connect-provider print, as they are, and makes those roles,
inline and managed policies, attachments and OIDC providers in the lab
through its IAM API (iam.amazonaws.com), as each account's lab admin. An
entity already there is updated in place, so an import runs again after
the files are edited; the running lab uses the result at once.

What an output does not say: get-open-id-connect-provider's ARN is
arn:aws:iam::ACCOUNT:oidc-provider/URL, ACCOUNT from --account or else the
one account of the import's roles (as is the account of a get-role-policy
output whose role is not in the import); list-attached-role-policies
attaches to the import's only role, or --role; a get-policy-version output
is named after its policy, NAME.json for the policy NAME that an
attached-policies list or a get-policy output of the same import gives
the ARN of.

Without --endpoint it imports into the lab of --state-dir, whose admin API
gives each account's admin (making one for an account the lab did not
know). With --endpoint, --ca-bundle and --credentials it imports into an
idlab serve run by hand, with the admin profiles (idlab-ACCOUNT) of its
DATA/iam/admin-credentials.`,
		env: labEnv[:1],
		examples: []example{
			{"aws iam get-role --role-name app > app.json; aws iam get-role-policy --role-name app --policy-name s3 > s3.json; idlab iam import app.json s3.json",
				"a real role and its inline policy, into the lab of ./.idlab"},
			{"aws iam get-policy-version --policy-arn arn:aws:iam::123456789012:policy/read-data --version-id v3 > read-data.json",
				"a managed policy's document, named for the policy"},
			{"idlab iam import --account 123456789012 provider.json", "an OIDC provider, whose output names no account"},
			{"idlab iam import --endpoint https://127.0.0.1:8443 --ca-bundle /tmp/d/ca.pem --credentials /tmp/d/iam/admin-credentials app.json",
				"into idlab serve --data-dir /tmp/d"},
		},
	}
}

func runIAM(ctx context.Context, env *cliEnv, args []string) error {
	switch {
	case len(args) > 0 && args[0] == "import":
		return runIAMImport(ctx, env, args[1:])
	case len(args) > 0 && isHelpFlag(args[0]):
		return runIAMImport(ctx, env, args)
	}
	return fmt.Errorf("%w: idlab iam import [flags] FILE... (the one iam subcommand)", errUsage)
}

func runIAMImport(ctx context.Context, env *cliEnv, args []string) error {
	lab, err := harness.ConfigFromEnv(os.Getenv)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	fs := env.flagSet("iam import")
	stateDir := fs.String("state-dir", lab.StateDir, "the lab's state directory (IDLAB_STATE_DIR)")
	account := fs.String("account", "", "account of OIDC providers and of inline policies whose role is not in the import (default: the one account of the import's roles)")
	role := fs.String("role", "", "role that list-attached-role-policies outputs attach to (default: the import's only role)")
	endpoint := fs.String("endpoint", "", "IAM API of an idlab serve run by hand (https://127.0.0.1:PORT), instead of the lab of --state-dir")
	caBundle := fs.String("ca-bundle", "", "with --endpoint: the CA bundle to trust (DATA/ca.pem)")
	credsFile := fs.String("credentials", "", "with --endpoint: the admin credentials file (DATA/iam/admin-credentials)")
	dryRun := fs.Bool("dry-run", false, "print what would be imported, change nothing")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: no FILE to import", errUsage)
	}
	if *endpoint != "" && (*caBundle == "" || *credsFile == "") {
		return fmt.Errorf("%w: --endpoint needs --ca-bundle and --credentials", errUsage)
	}
	var files []*iamimport.File
	for _, name := range fs.Args() {
		raw, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		f, err := iamimport.Parse(name, raw)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	plan, err := iamimport.Build(files, iamimport.Options{Account: *account, Role: *role})
	if err != nil {
		return err
	}
	if *dryRun {
		plan.Describe(env.stdout)
		return nil
	}
	var target iamimport.Target
	if *endpoint != "" {
		hc, err := harness.CAClient(*caBundle)
		if err != nil {
			return err
		}
		target.Clients = iamimport.Clients(ctx, *endpoint, hc, func(ctx context.Context, account string) (aws.Credentials, error) {
			return iamimport.ProfileCredentials(ctx, *credsFile, account)
		})
	} else if target, err = labTarget(ctx, *stateDir); err != nil {
		return err
	}
	return iamimport.Apply(ctx, plan, target, env.stdout)
}

// labTarget is the lab in stateDir (iamimport.LabTarget).
func labTarget(ctx context.Context, stateDir string) (iamimport.Target, error) {
	st, err := harness.Open(stateDir)
	if err != nil {
		return iamimport.Target{}, err
	}
	return iamimport.LabTarget(ctx, st)
}
