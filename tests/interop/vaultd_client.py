"""Shared machinery of the Python interop scripts (kms_client.py, asymmetric.py).

A client built from proto/ and the signing rule of design/auth.md alone: stubs generated from proto/
with grpc_tools.protoc into a temporary directory, a client interceptor that signs every call, the
google.rpc.ErrorInfo check of error replies, and the common entry point (environment, auth.md test
vectors, exit codes). The scripts run with `python -I`, which leaves their directory off sys.path:
each inserts it before importing this module.
"""

import collections
import datetime
import hashlib
import hmac
import importlib
import importlib.resources
import os
import sys
import tempfile
import traceback

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

PROTO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto"))
PROTO_FILES = ["vault/v1/key_management.proto", "vault/v1/identity.proto", "vault/v1/security_token.proto"]
SERVICE_PATH = "/vault.v1.KeyManagement/"
TIMEOUT = 10.0  # seconds, per call


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


# --- Stubs from proto/ ---------------------------------------------------------------------------

def generate_stubs(out_dir):
    """{"key_management": (pb2, pb2_grpc), "identity": ..., "security_token": ...}."""
    from grpc_tools import protoc

    well_known = str(importlib.resources.files("grpc_tools") / "_proto")
    args = ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}",
            f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *PROTO_FILES]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {PROTO_ROOT}/{PROTO_FILES}")
    sys.path.insert(0, out_dir)
    modules = {}
    for name in ["key_management", "identity", "security_token"]:
        modules[name] = (importlib.import_module(f"vault.v1.{name}_pb2"),
                         importlib.import_module(f"vault.v1.{name}_pb2_grpc"))
    return modules


# --- The auth.md signing rule, as a client interceptor -------------------------------------------

ALGORITHM = "VAULT-HMAC-SHA256"


def sign(secret, date, method, session_token=None):
    token_hash = hashlib.sha256((session_token or "").encode()).hexdigest()
    string_to_sign = "\n".join([ALGORITHM, date, method, token_hash])
    return hmac.new(secret.encode("ascii"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class _CallDetails(collections.namedtuple(
        "_CallDetails", ["method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"]),
        grpc.ClientCallDetails):
    pass


class SigningInterceptor(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, access_key_id, secret, session_token=None):
        self.access_key_id, self.secret, self.session_token = access_key_id, secret, session_token

    def intercept_unary_unary(self, continuation, details, request):
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        signature = sign(self.secret, date, method, self.session_token)
        metadata = list(details.metadata or []) + [
            ("x-vault-date", date),
            ("authorization", f"{ALGORITHM} Credential={self.access_key_id}, Signature={signature}"),
        ]
        if self.session_token:
            metadata.append(("x-vault-security-token", self.session_token))
        return continuation(_CallDetails(details.method, details.timeout, metadata, details.credentials,
                                         details.wait_for_ready, details.compression), request)


def check_test_vectors():
    """Both vectors of auth.md, before talking to any server."""
    secret, date = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20261126T031618Z"
    method = SERVICE_PATH + "Encrypt"
    got = sign(secret, date, method)
    check(got == "793a5d4ca6c877f4ee43cdc306e54042e4187f92d5d91a60bcf02d86a25d2459",
          f"auth.md test vector (no session token) does not match: {got}")
    got = sign(secret, date, method, "example-session-token")
    check(got == "50f2494179bb6ce7e5f12b3a2e7bd0225e51f8def40f56ae10f2adb254e34dba",
          f"auth.md test vector (session token) does not match: {got}")


def connect(endpoint):
    """A plaintext channel to `endpoint`, once it is ready."""
    channel = grpc.insecure_channel(endpoint)
    try:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT)
    except grpc.FutureTimeoutError:
        raise CheckFailed(f"cannot connect to {endpoint} within {TIMEOUT} s")
    return channel


# --- Errors --------------------------------------------------------------------------------------

def expect_error(call, code, reason, what):
    """Runs `call`, expects an RpcError with `code` whose google.rpc.Status carries ErrorInfo `reason`."""
    try:
        result = call()
    except grpc.RpcError as err:
        check(err.code() == code, f"{what}: expected {code.name} [{reason}], got {err.code().name}: {err.details()}")
        status = rpc_status.from_call(err)  # also checks code and message agree with the trailers
        check(status is not None, f"{what}: no grpc-status-details-bin trailer (google.rpc.Status)")
        infos = []
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                infos.append(info)
        check(len(infos) == 1, f"{what}: expected one google.rpc.ErrorInfo, got {len(infos)}: {status}")
        check(infos[0].reason == reason, f"{what}: expected reason {reason}, got {infos[0].reason!r}")
        check(infos[0].domain == "vault.v1", f"{what}: expected domain vault.v1, got {infos[0].domain!r}")
        return err, infos[0]
    raise CheckFailed(f"{what}: expected {code.name} [{reason}], but the call succeeded: {result}")


def describe_failure(failure):
    """A failed check's message; for an unexpected gRPC error, its status and the call that got it."""
    if isinstance(failure, CheckFailed):
        return str(failure)
    here = os.path.dirname(os.path.abspath(__file__))
    frames = [f for f in traceback.extract_tb(failure.__traceback__) if os.path.dirname(f.filename) == here]
    where = " <- ".join(f"{os.path.basename(f.filename)}:{f.lineno} {f.name}" for f in reversed(frames))
    return f"unexpected gRPC error {failure.code().name}: {failure.details()} (at {where})"


# --- Entry point ---------------------------------------------------------------------------------

def main(run, title):
    """Runs `run(modules, endpoint, access_key_id, secret)` -> summary lines; returns the exit code:
    0 on success, 1 with a `FAIL:` line on the first failed check, 2 on a setup problem."""
    try:
        endpoint = os.environ["VAULTD_ENDPOINT"]
        access_key_id = os.environ["VAULTD_ACCESS_KEY_ID"]
        secret = os.environ["VAULTD_SECRET_ACCESS_KEY"]
    except KeyError as missing:
        print(f"FAIL: environment variable {missing} is not set", file=sys.stderr)
        return 2
    try:
        check_test_vectors()
        with tempfile.TemporaryDirectory(prefix="vaultd-interop-") as out_dir:
            modules = generate_stubs(out_dir)
            summary = run(modules, endpoint, access_key_id, secret)
    except (CheckFailed, grpc.RpcError) as failure:
        print(f"FAIL: {describe_failure(failure)}", file=sys.stderr)
        return 1
    print(f"{title} against {endpoint}: OK")
    print("  auth.md test vectors reproduced (with and without session token)")
    for line in summary:
        print("  " + line)
    return 0
