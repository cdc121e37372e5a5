#!/usr/bin/env python3
"""idlab's Python probe: what Debian's boto3 and awscli do with a pod's identity.

It runs in the idlab/pyclient image (harness.PyClientImage: Debian's awscli
and python3-boto3, nothing else); scenarios mount it from a ConfigMap
(scenarios/kit/pyprobe). Credentials come from each client's own
default chain (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE as the IRSA
webhook sets them, ...) and TLS trust from AWS_CA_BUNDLE, as for any
unmodified application: the probe configures nothing itself.

Usage:
    probe.py [--client boto3|awscli] [CALL]
    probe.py [--client boto3|awscli] loop --interval SECONDS --duration SECONDS [CALL]
    probe.py [--client boto3|awscli] loop --interval SECONDS --until-renewed N [CALL]
    probe.py --client boto3 presign-get BUCKET KEY [s3v4]   (presign_get, at the end)
    probe.py [--client ...] fetch-link PAGE-URL | fetch-url URL   (fetch_cmd, at the end)

CALL (default sts):
    sts                 sts:GetCallerIdentity
                        boto3:  session.client("sts").get_caller_identity()
                        awscli: aws sts get-caller-identity --output json
    sts-hosts [URL]     sts:GetCallerIdentity, "output" naming every host a request
                        was sent to, the credential chain's STS call included:
                        "hosts=a,b" (read from botocore's "Sending http request"
                        debug line). URL is the app's own STS client's
                        endpoint_url (boto3#2258: the credential chain ignores it)
                        boto3:  session.client("sts"[, endpoint_url=URL])
                        awscli: aws --debug sts get-caller-identity --output json
                                [--endpoint-url URL]
    s3-get BUCKET KEY   s3:GetObject, the object's text in "output"
                        boto3:  session.client("s3").get_object(...)
                        awscli: aws s3 cp s3://BUCKET/KEY -   (awscli asks
                        HeadObject first, whose 403 has no body: the code
                        it reports for a refusal is "403", as with real S3)
    s3-put BUCKET KEY TEXT   s3:PutObject of TEXT, the ETag in "output"
                        boto3:  session.client("s3").put_object(...)
                        awscli: aws s3 cp - s3://BUCKET/KEY   (TEXT on stdin;
                        "output" is empty: aws s3 cp prints no ETag)
    sns-publish TOPIC-ARN MESSAGE   sns:Publish, the MessageId in "output"
                        boto3:  session.client("sns").publish(...)
                        awscli: aws sns publish --topic-arn ARN --message M --output json

Output: one JSON line with the fields of the Go probe's probe.Result (ok,
arn, account, userId, output, errorCode, errorMessage); the process always
exits 0, the outcome is in the line.
    boto3:  errorCode is botocore's ClientError code (response Error.Code);
            a failure without one (no credentials, no connection) gives the
            exception's class name (NoCredentialsError ...).
    awscli: errorCode is CODE from awscli's stderr "An error occurred (CODE)
            when calling the OP operation: MESSAGE", else "ExitStatusN";
            exitStatus is aws's exit status.

Loop mode (token rotation): calls start every --interval seconds (a slow
call delays the next), from 0 to --duration, or with --until-renewed N until
N calls have succeeded after the call that first saw a new token in the file
(end "renewed"), but none starts more than EXPIRY_GRACE seconds past the
first token's exp (end "tokenExpired"; "noTokenExp" after one call if the
file has no exp claim); with both, the first end reached. boto3 keeps one
session, as a long-running app does, awscli runs a new process each time
(which reads its own credentials cache, ~/.aws/cli/cache). Every call
prints one line: the fields above plus
    seq           call number from 1
    elapsed       seconds since the loop started
    tokenSha256   first 16 hex of the SHA-256 of the token file (AWS_WEB_IDENTITY_TOKEN_FILE)
    tokenIat, tokenExp   the token's iat and exp claims (not verified)
    tokenChanged  true when the token file differs from the previous call's
    accessKeyId   boto3: the access key of the session's credentials after the call
and the last line is a summary (probe.Parse reads the last line):
    summary: true, ok: every call succeeded, calls, failures, tokens (distinct
    token files seen), accessKeys (distinct boto3 access keys), arn (the
    last), errorCode/errorMessage (the first failure), output (in words),
    end ("duration", "renewed", "tokenExpired" or "noTokenExp"), and once
    the token changed: renewedSeq and renewedElapsed (the call that first
    saw the new token), callsAfterRenewal (calls after it that succeeded).
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time

AWSCLI_ERROR = re.compile(
    r"An error occurred \(([^)]+)\) when calling the (\w+) operation(?: \(reached max retries: \d+\))?: ?(.*)")


def result(ok=False, **fields):
    out = {"ok": ok}
    out.update({k: v for k, v in fields.items() if v not in (None, "")})
    return out


class Boto3Client:
    """One boto3 session for the probe's life, like an application."""

    def __init__(self):
        import boto3  # imported here so awscli runs do not pay for it
        self.session = boto3.session.Session()
        self.clients = {}

    def client(self, service):
        if service not in self.clients:
            self.clients[service] = self.session.client(service)
        return self.clients[service]

    def call(self, call, args):
        from botocore.exceptions import ClientError
        hosts = HostRecorder() if call == "sts-hosts" else None
        try:
            if call == "sts":
                out = self.client("sts").get_caller_identity()
                return result(True, arn=out.get("Arn"), account=out.get("Account"), userId=out.get("UserId"))
            if call == "sts-hosts":
                sts = self.session.client("sts", endpoint_url=args[0]) if args else self.client("sts")
                out = sts.get_caller_identity()
                return result(True, arn=out.get("Arn"), account=out.get("Account"), userId=out.get("UserId"), output=hosts.output())
            if call == "s3-get":
                out = self.client("s3").get_object(Bucket=args[0], Key=args[1])
                return result(True, output=out["Body"].read(1 << 20).decode("utf-8", "replace"))
            if call == "s3-put":
                out = self.client("s3").put_object(Bucket=args[0], Key=args[1], Body=args[2].encode("utf-8"))
                return result(True, output=out.get("ETag", ""))
            if call == "sns-publish":
                out = self.client("sns").publish(TopicArn=args[0], Message=args[1])
                return result(True, output=out.get("MessageId", ""))
        except ClientError as e:
            err = e.response.get("Error", {})
            return result(errorCode=err.get("Code") or type(e).__name__, errorMessage=err.get("Message") or str(e),
                          output=hosts and hosts.output())
        except Exception as e:  # no credentials, no connection ...
            return result(errorCode=type(e).__name__, errorMessage=str(e), output=hosts and hosts.output())
        finally:
            if hosts:
                hosts.close()
        raise AssertionError(call)

    def access_key(self):
        creds = self.session.get_credentials()
        if creds is None:
            return None
        return creds.get_frozen_credentials().access_key


class AWSCLIClient:
    """A new aws process per call, as a shell script runs it."""

    def call(self, call, args):
        stdin = None
        if call == "sts":
            cmd = ["aws", "sts", "get-caller-identity", "--output", "json"]
        elif call == "s3-put":
            cmd, stdin = ["aws", "s3", "cp", "-", "s3://%s/%s" % (args[0], args[1])], args[2]
        elif call == "sns-publish":
            cmd = ["aws", "sns", "publish", "--topic-arn", args[0], "--message", args[1], "--output", "json"]
        elif call == "sts-hosts":
            cmd = ["aws", "--debug", "sts", "get-caller-identity", "--output", "json"]
            if args:
                cmd += ["--endpoint-url", args[0]]
        else:
            cmd = ["aws", "s3", "cp", "s3://%s/%s" % (args[0], args[1]), "-"]
        try:
            p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
        except Exception as e:
            return result(errorCode=type(e).__name__, errorMessage=str(e))
        hosts = "hosts=" + ",".join(sent_hosts(p.stderr.splitlines())) if call == "sts-hosts" else None
        if p.returncode != 0:
            res = awscli_error(p.returncode, p.stderr)
            if hosts:
                res["output"] = hosts
            return res
        if call in ("s3-get", "s3-put"):
            return result(True, output=p.stdout, exitStatus=0)
        try:
            out = json.loads(p.stdout)
        except ValueError as e:
            return result(errorCode="BadOutput", errorMessage="%s: %r" % (e, p.stdout[:200]))
        if call == "sns-publish":
            return result(True, output=out.get("MessageId", ""), exitStatus=0)
        return result(True, arn=out.get("Arn"), account=out.get("Account"), userId=out.get("UserId"), exitStatus=0, output=hosts)

    def access_key(self):
        return None  # every call is a new process with its own session


# botocore's debug line for each HTTP request it sends (endpoint.py,
# _do_get_response; the same in Debian's botocore 1.29 and in awscli 2's):
# "Sending http request: <AWSPreparedRequest stream_output=..., method=...,
# url=URL, headers=...>".
SENDING = re.compile(r"Sending http request: <AWSPreparedRequest [^>]*?url=([^,\s>]+)")


def sent_hosts(lines):
    """The hosts of the requests botocore logged as sent, in order, once each."""
    import urllib.parse
    hosts = []
    for line in lines:
        m = SENDING.search(line)
        if m:
            host = urllib.parse.urlsplit(m.group(1)).hostname
            if host and host not in hosts:
                hosts.append(host)
    return hosts


class HostRecorder:
    """Collects botocore.endpoint's debug lines while boto3 calls."""

    def __init__(self):
        import logging
        self.lines = []
        recorder = self

        class Handler(logging.Handler):
            def emit(self, record):
                recorder.lines.append(record.getMessage())

        self.logger = logging.getLogger("botocore.endpoint")
        self.handler, self.level, self.propagate = Handler(logging.DEBUG), self.logger.level, self.logger.propagate
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False

    def output(self):
        return "hosts=" + ",".join(sent_hosts(self.lines))

    def close(self):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)
        self.logger.propagate = self.propagate


def awscli_error(status, stderr):
    """The error code and message awscli printed, or its exit status."""
    m = AWSCLI_ERROR.search(stderr)
    if m:
        return result(errorCode=m.group(1), errorMessage=m.group(3).strip(), exitStatus=status)
    lines = [l for l in stderr.strip().splitlines() if l.strip()]
    return result(errorCode="ExitStatus%d" % status, errorMessage=lines[-1] if lines else "", exitStatus=status)


def token_info():
    """Hash and iat/exp of the web identity token file, if there is one."""
    path = os.environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            raw = f.read().strip()
    except OSError as e:
        return {"tokenError": str(e)}
    info = {"tokenSha256": hashlib.sha256(raw).hexdigest()[:16]}
    try:
        payload = raw.split(b".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        info["tokenIat"], info["tokenExp"] = claims.get("iat"), claims.get("exp")
    except (IndexError, ValueError):
        pass
    return info


# The loop's end in --until-renewed mode: a call is not started later than
# this many seconds past the first token's exp claim.
EXPIRY_GRACE = 30


def loop(client, call, args, opts, emit, clock=time):
    """Call on a fixed schedule until opts say stop; clock is the time module
    or a fake (monotonic, time, sleep)."""
    start = clock.monotonic()
    calls = failures = 0
    tokens, keys = [], []
    first_error, last = None, {}
    renewal = Renewal(opts.get("until-renewed"))
    while True:
        calls += 1
        res = client.call(call, args)
        info = token_info()
        sha = info.get("tokenSha256")
        res.update(info)
        res["seq"], res["elapsed"] = calls, round(clock.monotonic() - start, 1)
        res["tokenChanged"] = bool(tokens) and sha is not None and sha != tokens[-1]
        if sha is not None and sha not in tokens:
            tokens.append(sha)
        key = client.access_key() if res["ok"] else None
        if key:
            res["accessKeyId"] = key
            if key not in keys:
                keys.append(key)
        if not res["ok"]:
            failures += 1
            first_error = first_error or res
        renewal.observe(res)
        last = res
        emit(res)
        # Calls start on a fixed schedule (0, interval, 2*interval ...); a
        # call that overruns its slot delays the next one.
        due = calls * opts["interval"]
        wait = max(0.0, start + due - clock.monotonic())
        end = renewal.end(clock.time() + wait, due, opts.get("duration"))
        if end:
            break
        clock.sleep(wait)
    summary = result(failures == 0, summary=True, calls=calls, failures=failures, tokens=len(tokens),
                     accessKeys=len(keys), arn=last.get("arn"), end=end,
                     output="%d calls, %d failed, %d tokens, %d access keys" % (calls, failures, len(tokens), len(keys)))
    summary.update(renewal.fields())
    if first_error:
        summary["errorCode"], summary["errorMessage"] = first_error.get("errorCode"), first_error.get("errorMessage")
    emit(summary)


class Renewal:
    """When the token file first changed and how many calls succeeded after
    the call that saw it; with want (--until-renewed N) it ends the loop
    after N such calls, or past the first token's exp + EXPIRY_GRACE."""

    def __init__(self, want):
        self.want, self.exp = want, None
        self.seen = None  # the call that first saw the new token
        self.after = 0

    def observe(self, res):
        if self.exp is None:
            self.exp = res.get("tokenExp")
        if self.seen is not None and res["ok"]:
            self.after += 1
        if self.seen is None and res["tokenChanged"]:
            self.seen = res

    def end(self, next_start, due, duration):
        """Why the loop ends before a call due to start at next_start (epoch
        seconds), due seconds into the loop; None to go on."""
        if duration is not None and due > duration:
            return "duration"
        if self.want is None:
            return None
        if self.after >= self.want:
            return "renewed"
        if self.exp is None:
            return "noTokenExp"
        if next_start > self.exp + EXPIRY_GRACE:
            return "tokenExpired"
        return None

    def fields(self):
        if self.seen is None:
            return {}
        return {"renewedSeq": self.seen["seq"], "renewedElapsed": self.seen["elapsed"],
                "callsAfterRenewal": self.after}


def parse(argv):
    """(client, call, args, loop) from the command line; raises ValueError."""
    argv = list(argv)
    client, loop_opts = "boto3", None
    if argv[:1] == ["--client"]:
        if len(argv) < 2 or argv[1] not in ("boto3", "awscli"):
            raise ValueError("--client takes boto3 or awscli")
        client, argv = argv[1], argv[2:]
    if argv[:1] == ["loop"]:
        argv, loop_opts = argv[1:], {}
        while argv[:1] in (["--interval"], ["--duration"], ["--until-renewed"]):
            if len(argv) < 2:
                raise ValueError("%s needs a number" % argv[0])
            loop_opts[argv[0][2:]] = (int if argv[0] == "--until-renewed" else float)(argv[1])
            argv = argv[2:]
        if loop_opts.get("interval", 0) <= 0 or not {"duration", "until-renewed"} & set(loop_opts):
            raise ValueError("loop needs --interval (> 0) and --duration or --until-renewed")
        if loop_opts.get("until-renewed", 1) < 1:
            raise ValueError("--until-renewed needs at least 1 call")
    call, args = (argv[0], argv[1:]) if argv else ("sts", [])
    if (call, len(args)) not in (("sts", 0), ("s3-get", 2), ("s3-put", 3), ("sns-publish", 2), ("sts-hosts", 0), ("sts-hosts", 1)):
        raise ValueError("unknown call %r" % argv)
    return client, call, args, loop_opts


def main(argv, emit):
    if is_presign_get(argv):
        presign_get(argv, emit)
        return
    if fetch_mode(argv):
        fetch_cmd(argv, emit)
        return
    try:
        client_name, call, args, loop_opts = parse(argv)
    except ValueError as e:
        emit(result(errorCode="UsageError", errorMessage=str(e)))
        return
    try:
        client = Boto3Client() if client_name == "boto3" else AWSCLIClient()
    except Exception as e:
        emit(result(errorCode=type(e).__name__, errorMessage=str(e)))
        return
    if loop_opts is None:
        emit(client.call(call, args))
        return
    loop(client, call, args, loop_opts, emit)


PRESIGN_GET = "presign-get"


def is_presign_get(argv):
    """Whether the call, after an optional --client CLIENT, is presign-get."""
    call = argv[2:3] if argv[:1] == ["--client"] else argv[:1]
    return call == [PRESIGN_GET]


def presign_get(argv, emit):
    """presign-get mode: what a web app does with the pod's identity.

    probe.py --client boto3 presign-get BUCKET KEY [s3v4]

    Presigns s3:GetObject exactly as the IRSA walk-through's Flask app does,
    boto3.client('s3').generate_presigned_url('get_object', Params={'Bucket':
    BUCKET, 'Key': KEY}) with no other configuration (with s3v4, the control:
    Config(signature_version='s3v4')), then fetches the URL with plain urllib,
    as a browser given the link would, trusting what the environment trusts
    (SSL_CERT_FILE). One line: ok (2xx), status, signature ("SigV2" when the
    URL carries AWSAccessKeyId, "SigV4" when X-Amz-Credential), host (the
    URL's), output (the body when ok), errorCode/errorMessage (S3's <Error>
    Code and Message, "HTTP<status>" when the body has none, or the
    exception's class when no response came back).
    """
    args = list(argv)
    client = "boto3"
    if args[:1] == ["--client"]:
        client, args = (args[1] if len(args) > 1 else ""), args[2:]
    args = args[1:]
    if client != "boto3" or len(args) not in (2, 3) or args[2:] not in ([], ["s3v4"]):
        emit(result(errorCode="UsageError", errorMessage="usage: --client boto3 presign-get BUCKET KEY [s3v4]"))
        return
    try:
        import boto3
        if args[2:]:
            from botocore.config import Config
            s3 = boto3.client("s3", config=Config(signature_version="s3v4"))
        else:
            s3 = boto3.client("s3")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": args[0], "Key": args[1]})
    except Exception as e:  # no credentials, no region ...
        emit(result(errorCode=type(e).__name__, errorMessage=str(e)))
        return
    emit(fetch_url(url))


def fetch_url(url):
    """GET url with urllib: the presign-get line for what came back."""
    import ssl
    import urllib.error
    import urllib.parse
    import urllib.request
    import xml.etree.ElementTree as ET
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qs(parts.query)
    sig = "SigV2" if "AWSAccessKeyId" in query else "SigV4" if "X-Amz-Credential" in query else "unknown"
    seen = {"signature": sig, "host": parts.hostname}
    try:
        with urllib.request.urlopen(url, context=ssl.create_default_context(), timeout=60) as resp:
            return result(True, status=resp.status, output=resp.read(1 << 20).decode("utf-8", "replace"), **seen)
    except urllib.error.HTTPError as e:
        body = e.read(1 << 20)
        code = message = None
        try:
            root = ET.fromstring(body)
            if root.tag == "Error":
                code, message = root.findtext("Code"), root.findtext("Message")
        except ET.ParseError:
            pass
        return result(status=e.code, errorCode=code or "HTTP%d" % e.code,
                      errorMessage=message or body[:200].decode("utf-8", "replace"), **seen)
    except Exception as e:  # no connection, TLS ...
        return result(errorCode=type(e).__name__, errorMessage=str(e), **seen)


FETCH_LINK, FETCH_URL = "fetch-link", "fetch-url"


def fetch_mode(argv):
    """fetch-link or fetch-url when the call, after an optional --client
    CLIENT, is one of them; else None."""
    call = argv[2:3] if argv[:1] == ["--client"] else argv[:1]
    return call[0] if call and call[0] in (FETCH_LINK, FETCH_URL) else None


def fetch_cmd(argv, emit):
    """fetch-link and fetch-url modes: what a browser gets from a web app's
    download link. No AWS client is used (--client, if given, is ignored).

    probe.py fetch-link PAGE-URL   GET the app's page, take its first
        <img src> (HTML-unescaped, as a browser reads it) and fetch that
        URL as presign-get does; the line adds "page" (the page's HTTP
        status) and "link" (the URL found). A page that fails: errorCode
        "PageHTTP<status>" (or the exception's class), "NoLink" for a page
        without an <img src>.
    probe.py fetch-url URL         fetch URL as presign-get does: a link
        handed out earlier, fetched again.
    """
    args = argv[2:] if argv[:1] == ["--client"] else argv
    if len(args) != 2:
        emit(result(errorCode="UsageError", errorMessage="usage: fetch-link PAGE-URL | fetch-url URL"))
        return
    if args[0] == FETCH_URL:
        emit(fetch_url(args[1]))
        return
    emit(fetch_link(args[1]))


def fetch_link(page_url):
    """The fetch-link line for the app's page at page_url."""
    import html.parser
    import ssl
    import urllib.error
    import urllib.request

    class ImgSrc(html.parser.HTMLParser):
        src = None

        def handle_starttag(self, tag, attrs):
            if tag == "img" and self.src is None:
                self.src = dict(attrs).get("src")

    try:
        with urllib.request.urlopen(page_url, context=ssl.create_default_context(), timeout=60) as resp:
            status, body = resp.status, resp.read(1 << 20).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return result(page=e.code, errorCode="PageHTTP%d" % e.code, errorMessage=e.read(200).decode("utf-8", "replace"))
    except Exception as e:  # no connection ...
        return result(errorCode=type(e).__name__, errorMessage=str(e))
    parser = ImgSrc()
    parser.feed(body)
    if not parser.src:
        return result(page=status, errorCode="NoLink", errorMessage="no <img src> in the page: %r" % body[:200])
    res = fetch_url(parser.src)
    res.update(page=status, link=parser.src)
    return res


if __name__ == "__main__":
    main(sys.argv[1:], lambda r: print(json.dumps(r, sort_keys=True), flush=True))
