"""Shared helpers of the AWS-protocol scripts in tests/aws/ (not a test itself).

The scripts talk to vaultd's AWS endpoint with the real AWS clients (boto3, the AWS CLI, the AWS
Encryption SDK) and assert what those clients return against real AWS. They read the standard AWS
environment only:

    AWS_ENDPOINT_URL        http://HOST:PORT of the endpoint (required: the scripts never talk to AWS)
    AWS_ACCESS_KEY_ID       credentials allowed everything (vaultd's root user)
    AWS_SECRET_ACCESS_KEY
    AWS_DEFAULT_REGION      us-east-1 unless set

The scripts run with `python -I`, which leaves their directory off sys.path, so each one inserts it
before importing this module. A failed check raises CheckFailed with what was expected and what
came back; `main` prints it (with the checks that passed before it) and exits 1.

AWSCHECK_CONTINUE=1 makes a failed check print a MISMATCH line and go on instead (the script still
exits 1 at the end): for comparing a peer that cuts corners, such as moto_server, check by check.
"""

import contextlib
import datetime
import os
import sys
import traceback
import uuid

import boto3
import botocore.auth
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "000000000000"
REGION = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

# One attempt per call: a retried call would hide the first answer, which is the one under test.
CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=5,
    read_timeout=60,
)


KEEP_GOING = os.environ.get("AWSCHECK_CONTINUE") == "1"
_mismatches = []


class CheckFailed(AssertionError):
    pass


def check(condition, message):
    """Fails with `message` unless `condition` holds."""
    if not condition:
        if not KEEP_GOING:
            raise CheckFailed(message)
        _mismatches.append(message)
        print(f"MISMATCH: {message}", flush=True)


def eq(got, want, what):
    """Fails unless got == want, saying both."""
    check(got == want, f"{what}: expected {want!r}, got {got!r}")
    return got


def ok(message):
    """Records a passed check (printed at once, so a later failure shows how far it got)."""
    print(f"ok: {message}", flush=True)


def unique(prefix):
    """A name no other run uses, so that scripts can share one daemon."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def endpoint():
    url = os.environ.get("AWS_ENDPOINT_URL", "")
    check(url.startswith("http://") or url.startswith("https://"),
          f"AWS_ENDPOINT_URL must be set to the endpoint under test, got {url!r}")
    return url


def client(service, **kwargs):
    """A boto3 client for `service` on its own session, configured from the environment (endpoint,
    credentials and region) unless `kwargs` say otherwise. Fails unless it points at the endpoint
    under test, so that AWS_ENDPOINT_URL being ignored can never send a request to AWS itself."""
    url = endpoint()
    c = boto3.session.Session().client(service, config=kwargs.pop("config", CONFIG), **kwargs)
    eq(c.meta.endpoint_url, url, f"{service} client endpoint (from AWS_ENDPOINT_URL)")
    eq(c.meta.region_name, REGION, f"{service} client region")
    return c


def status_of(response_or_error):
    """The HTTP status of a boto3 response dict or ClientError."""
    meta = (response_or_error.response if isinstance(response_or_error, ClientError)
            else response_or_error).get("ResponseMetadata", {})
    return meta.get("HTTPStatusCode")


def describe_error(err):
    error = err.response.get("Error", {})
    return (f"{error.get('Code')!r} (HTTP {status_of(err)}, message {error.get('Message')!r}, "
            f"type {error.get('Type')!r})")


def expect_error(call, code, what, status=None, message_contains=None):
    """Runs `call` (no arguments) and fails unless it raises a ClientError whose AWS error code is
    `code` (and whose HTTP status is `status`, and whose message contains `message_contains`, when
    given). Returns the error."""
    try:
        response = call()
    except ClientError as err:
        got = err.response.get("Error", {}).get("Code")
        check(got == code, f"{what}: expected error {code!r}, got {describe_error(err)}")
        if status is not None:
            check(status_of(err) == status,
                  f"{what}: expected {code} with HTTP status {status}, got {describe_error(err)}")
        if message_contains is not None:
            message = err.response.get("Error", {}).get("Message") or ""
            check(message_contains.lower() in message.lower(),
                  f"{what}: expected {code} with a message containing {message_contains!r}, got "
                  f"{describe_error(err)}")
        return err
    response = dict(response or {})
    response.pop("ResponseMetadata", None)
    check(False, f"{what}: expected error {code!r}, but the call succeeded: {response!r}")
    return None


def request_id(response):
    """The request id AWS returns with every answer (x-amzn-RequestId); fails if there is none."""
    rid = response.get("ResponseMetadata", {}).get("RequestId")
    check(rid, f"no request id in the response metadata {response.get('ResponseMetadata')!r}")
    return rid


def recent(value, what, within=datetime.timedelta(minutes=5)):
    """Fails unless `value` is a timezone-aware datetime within `within` of now."""
    check(isinstance(value, datetime.datetime),
          f"{what}: expected a datetime, got {type(value).__name__} {value!r}")
    check(value.tzinfo is not None, f"{what}: expected a timezone-aware datetime, got {value!r}")
    now = datetime.datetime.now(datetime.timezone.utc)
    check(abs(now - value) <= within, f"{what}: expected about now ({now.isoformat()}), got "
                                      f"{value.isoformat()}")
    return value


def strip_metadata(response):
    response = dict(response)
    response.pop("ResponseMetadata", None)
    return response


@contextlib.contextmanager
def skewed_clock(offset):
    """Signs requests as if the clock were `offset` (a timedelta) away from the real time: botocore's
    SigV4 signer dates a request with botocore.auth.get_current_datetime()."""
    check(hasattr(botocore.auth, "get_current_datetime"),
          "botocore.auth.get_current_datetime is gone: update skewed_clock for this botocore")
    real = botocore.auth.get_current_datetime

    def skewed(*args, **kwargs):
        return real(*args, **kwargs) + offset

    botocore.auth.get_current_datetime = skewed
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = real


def main(run, title):
    """Runs `run()`; exits 0 after printing a summary, 1 on a failed check or unexpected error."""
    try:
        endpoint()
        run()
    except CheckFailed as failure:
        print(f"FAIL: {failure}", flush=True)
        traceback.print_exc()
        sys.exit(1)
    except ClientError as err:
        op = getattr(err, "operation_name", "?")
        print(f"FAIL: unexpected error from {op}: {describe_error(err)}", flush=True)
        traceback.print_exc()
        sys.exit(1)
    except Exception as err:  # noqa: BLE001 - report anything else the same way
        print(f"FAIL: unexpected {type(err).__name__}: {err}", flush=True)
        traceback.print_exc()
        sys.exit(1)
    if _mismatches:
        print(f"FAIL: {len(_mismatches)} check(s) failed (AWSCHECK_CONTINUE=1), the first: "
              f"{_mismatches[0]}", flush=True)
        sys.exit(1)
    print(f"PASS: {title}", flush=True)
