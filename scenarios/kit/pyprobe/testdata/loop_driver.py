"""Runs probe.py's loop with a fake clock and a fake client, for pyprobe's Go
tests: no process, no network, no sleeping.

Usage: loop_driver.py PROBE_DIR SPEC_JSON, where SPEC_JSON holds
    start        the fake clock's epoch seconds when the loop starts
    callSeconds  how long each call takes
    fail         call numbers (from 1) that fail with ExpiredTokenException
    tokenFile    the token file (AWS_WEB_IDENTITY_TOKEN_FILE)
    renewAt      epoch seconds at which the "kubelet" writes renewed to the file (0: never)
    renewed      the new token
    args         probe.py's arguments from "loop" on
It prints what probe.py prints, then {"slept": [...]}: every sleep asked.
"""

import json
import os
import sys


class FakeClock:
    """monotonic, time and sleep of one fake clock; the kubelet's renewal
    lands when the clock passes renewAt."""

    def __init__(self, spec):
        self.now, self.spec, self.slept = float(spec["start"]), spec, []

    def monotonic(self):
        return self.now - self.spec["start"]

    def time(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0, seconds
        self.slept.append(round(seconds, 3))
        self.advance(seconds)

    def advance(self, seconds):
        before, self.now = self.now, self.now + seconds
        at = self.spec["renewAt"]
        if at and before < at <= self.now:
            with open(self.spec["tokenFile"], "w") as f:
                f.write(self.spec["renewed"])


class FakeClient:
    def __init__(self, clock, spec):
        self.clock, self.spec, self.calls = clock, spec, 0

    def call(self, call, args):
        self.calls += 1
        self.clock.advance(self.spec["callSeconds"])
        if self.calls in self.spec["fail"]:
            return probe.result(errorCode="ExpiredTokenException", errorMessage="Token expired")
        return probe.result(True, arn="arn:aws:sts::123456789012:assumed-role/r/s")

    def access_key(self):
        return None


sys.path.insert(0, sys.argv[1])
import probe  # noqa: E402

spec = json.loads(sys.argv[2])
os.environ["AWS_WEB_IDENTITY_TOKEN_FILE"] = spec["tokenFile"]
clock = FakeClock(spec)
_, call, args, opts = probe.parse(spec["args"])
emit = lambda r: print(json.dumps(r, sort_keys=True))  # noqa: E731
probe.loop(FakeClient(clock, spec), call, args, opts, emit, clock=clock)
print(json.dumps({"slept": clock.slept}))
