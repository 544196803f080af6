#!/usr/bin/env python3
"""Interop check: a Python client built from proto/ and the signing rule of design/auth.md alone.

Generates stubs from proto/ with grpc_tools.protoc into a temporary directory, signs every call in
a client interceptor, and runs CreateKey / Encrypt / Decrypt / GenerateDataKey against a running
vaultd, plus the error paths (wrong encryption context, unsigned and badly signed calls) with their
google.rpc.ErrorInfo reasons. Then, as an application would: a user with a narrow inline policy
(Identity), session credentials for it (SecurityToken.GetSessionToken), and calls signed with the
session token, allowed and denied by the policy's encryption-context condition.

Environment: VAULTD_ENDPOINT (host:port, plaintext), VAULTD_ACCESS_KEY_ID, VAULTD_SECRET_ACCESS_KEY.
Exits 0 on success, 1 with a message on the first failed check, 2 on a setup problem.
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


# --- Errors --------------------------------------------------------------------------------------

def expect_error(call, code, reason, what):
    """Runs `call`, expects an RpcError with `code` whose google.rpc.Status carries ErrorInfo `reason`."""
    try:
        result = call()
    except grpc.RpcError as err:
        check(err.code() == code, f"{what}: expected {code.name}, got {err.code().name}: {err.details()}")
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


# --- The scenario --------------------------------------------------------------------------------

def run(modules, endpoint, access_key_id, secret):
    pb2, pb2_grpc = modules["key_management"]
    summary = []
    raw_channel = grpc.insecure_channel(endpoint)
    try:
        grpc.channel_ready_future(raw_channel).result(timeout=TIMEOUT)
    except grpc.FutureTimeoutError:
        raise CheckFailed(f"cannot connect to {endpoint} within {TIMEOUT} s")
    channel = grpc.intercept_channel(raw_channel, SigningInterceptor(access_key_id, secret))
    kms = pb2_grpc.KeyManagementStub(channel)

    created = kms.CreateKey(pb2.CreateKeyRequest(
        description="python interop key",
        tags=[pb2.Tag(tag_key="suite", tag_value="interop")]), timeout=TIMEOUT)
    meta = created.key_metadata
    key_id = meta.key_id
    check(len(key_id) == 36, f"CreateKey: key_id {key_id!r} is not a UUID")
    check(meta.description == "python interop key", f"CreateKey: description {meta.description!r}")
    check(meta.arn.startswith("arn:aws:kms:") and meta.arn.endswith(":key/" + key_id),
          f"CreateKey: arn {meta.arn!r}")
    check(meta.enabled and meta.key_state == pb2.KEY_STATE_ENABLED,
          f"CreateKey: key not enabled (state {pb2.KeyState.Name(meta.key_state)})")
    check(meta.key_spec == pb2.KEY_SPEC_SYMMETRIC_DEFAULT, f"CreateKey: key_spec {pb2.KeySpec.Name(meta.key_spec)}")
    check(meta.key_usage == pb2.KEY_USAGE_ENCRYPT_DECRYPT,
          f"CreateKey: key_usage {pb2.KeyUsage.Name(meta.key_usage)}")
    check(meta.HasField("creation_date") and meta.creation_date.seconds > 0, "CreateKey: no creation_date")
    tags = kms.ListResourceTags(pb2.ListResourceTagsRequest(key_id=key_id), timeout=TIMEOUT).tags
    got_tags = [(t.tag_key, t.tag_value) for t in tags]
    check(got_tags == [("suite", "interop")], f"ListResourceTags: got {got_tags}, want [('suite', 'interop')]")
    summary.append(f"CreateKey -> {key_id} (description and tag stored)")

    plaintext = b"interop plaintext \x00\xff from Python"
    context = {"app": "interop", "purpose": "test"}
    enc = kms.Encrypt(pb2.EncryptRequest(key_id=key_id, plaintext=plaintext, encryption_context=context),
                      timeout=TIMEOUT)
    check(enc.ciphertext_blob and plaintext not in enc.ciphertext_blob, "Encrypt: empty or plaintext-bearing blob")
    check(enc.key_id in (key_id, meta.arn), f"Encrypt: key_id {enc.key_id!r}")
    check(enc.encryption_algorithm == pb2.ENCRYPTION_ALGORITHM_SPEC_SYMMETRIC_DEFAULT,
          f"Encrypt: algorithm {pb2.EncryptionAlgorithmSpec.Name(enc.encryption_algorithm)}")
    summary.append(f"Encrypt -> {len(enc.ciphertext_blob)}-byte blob for {len(plaintext)} bytes")

    dec = kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=enc.ciphertext_blob, encryption_context=context),
                      timeout=TIMEOUT)
    check(dec.plaintext == plaintext, f"Decrypt: got {dec.plaintext!r}, want {plaintext!r}")
    check(dec.key_id in (key_id, meta.arn), f"Decrypt: key_id {dec.key_id!r}")
    summary.append("Decrypt -> same plaintext")

    err, _ = expect_error(
        lambda: kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=enc.ciphertext_blob,
                                               encryption_context={"app": "other", "purpose": "test"}),
                            timeout=TIMEOUT),
        grpc.StatusCode.INVALID_ARGUMENT, "InvalidCiphertextException", "Decrypt with a wrong context")
    check(b"interop plaintext" not in (err.details() or "").encode(), "error message leaks the plaintext")
    expect_error(
        lambda: kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=enc.ciphertext_blob), timeout=TIMEOUT),
        grpc.StatusCode.INVALID_ARGUMENT, "InvalidCiphertextException", "Decrypt without the context")
    summary.append("Decrypt with wrong/missing context -> INVALID_ARGUMENT [InvalidCiphertextException]")

    dk = kms.GenerateDataKey(pb2.GenerateDataKeyRequest(key_id=key_id, key_spec=pb2.DATA_KEY_SPEC_AES_256,
                                                        encryption_context=context), timeout=TIMEOUT)
    check(len(dk.plaintext) == 32, f"GenerateDataKey: {len(dk.plaintext)}-byte plaintext, want 32")
    check(dk.ciphertext_blob and dk.plaintext not in dk.ciphertext_blob, "GenerateDataKey: bad ciphertext_blob")
    dk_dec = kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=dk.ciphertext_blob, encryption_context=context),
                         timeout=TIMEOUT)
    check(dk_dec.plaintext == dk.plaintext, "Decrypt of the data key's ciphertext_blob gives other bytes")
    summary.append("GenerateDataKey AES_256 -> 32 bytes; Decrypt of its blob -> same 32 bytes")

    unsigned = pb2_grpc.KeyManagementStub(raw_channel)
    expect_error(lambda: unsigned.Encrypt(pb2.EncryptRequest(key_id=key_id, plaintext=b"x"), timeout=TIMEOUT),
                 grpc.StatusCode.UNAUTHENTICATED, "MissingAuthenticationTokenException", "unsigned Encrypt")
    bad = pb2_grpc.KeyManagementStub(grpc.intercept_channel(raw_channel, SigningInterceptor(access_key_id, secret + "x")))
    expect_error(lambda: bad.Encrypt(pb2.EncryptRequest(key_id=key_id, plaintext=b"x"), timeout=TIMEOUT),
                 grpc.StatusCode.UNAUTHENTICATED, "InvalidSignatureException", "Encrypt signed with a wrong secret")
    summary.append("unsigned / wrongly signed -> UNAUTHENTICATED [MissingAuthenticationToken / InvalidSignature]")

    summary.extend(run_session(modules, raw_channel, access_key_id, secret, meta.arn, key_id))
    raw_channel.close()
    return summary


def run_session(modules, raw_channel, access_key_id, secret, key_arn, key_id):
    """An application user with a narrow policy, working on session credentials."""
    pb2 = modules["key_management"][0]
    iam_pb2, iam_grpc = modules["identity"]
    sts_pb2, sts_grpc = modules["security_token"]
    summary = []
    root = grpc.intercept_channel(raw_channel, SigningInterceptor(access_key_id, secret))
    iam = iam_grpc.IdentityStub(root)
    user = iam.CreateUser(iam_pb2.CreateUserRequest(user_name="py-app"), timeout=TIMEOUT).user
    check(user.arn.endswith(":user/py-app"), f"CreateUser: arn {user.arn!r}")
    policy = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
              '"Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "%s", '
              '"Condition": {"StringEquals": {"kms:EncryptionContext:app": "interop"}}}]}' % key_arn)
    iam.PutUserPolicy(iam_pb2.PutUserPolicyRequest(user_name="py-app", policy_name="use-key",
                                                   policy_document=policy), timeout=TIMEOUT)
    key = iam.CreateAccessKey(iam_pb2.CreateAccessKeyRequest(user_name="py-app"), timeout=TIMEOUT).access_key
    check(key.access_key_id.startswith("AKIA") and len(key.secret_access_key) == 40,
          f"CreateAccessKey: id {key.access_key_id!r}")
    summary.append("Identity: CreateUser, PutUserPolicy (encryption-context condition), CreateAccessKey")

    long_term = grpc.intercept_channel(raw_channel, SigningInterceptor(key.access_key_id, key.secret_access_key))
    creds = sts_grpc.SecurityTokenStub(long_term).GetSessionToken(
        sts_pb2.GetSessionTokenRequest(duration_seconds=900), timeout=TIMEOUT).credentials
    check(creds.access_key_id.startswith("ASIA") and creds.session_token, "GetSessionToken: no session credentials")
    session = grpc.intercept_channel(
        raw_channel, SigningInterceptor(creds.access_key_id, creds.secret_access_key, creds.session_token))
    me = sts_grpc.SecurityTokenStub(session).GetCallerIdentity(sts_pb2.GetCallerIdentityRequest(), timeout=TIMEOUT)
    check(me.arn == user.arn, f"GetCallerIdentity with the session: {me.arn!r}, want {user.arn!r}")
    summary.append("GetSessionToken -> ASIA credentials; GetCallerIdentity with them -> the user's ARN")

    kms = modules["key_management"][1].KeyManagementStub(session)
    context = {"app": "interop"}
    blob = kms.Encrypt(pb2.EncryptRequest(key_id=key_id, plaintext=b"from a session", encryption_context=context),
                       timeout=TIMEOUT).ciphertext_blob
    back = kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=blob, encryption_context=context), timeout=TIMEOUT)
    check(back.plaintext == b"from a session", "Decrypt with the session gives other bytes")
    err, _ = expect_error(
        lambda: kms.Encrypt(pb2.EncryptRequest(key_id=key_id, plaintext=b"x", encryption_context={"app": "other"}),
                            timeout=TIMEOUT),
        grpc.StatusCode.PERMISSION_DENIED, "AccessDeniedException", "Encrypt outside the policy's context")
    check("kms:Encrypt" in err.details() and key_arn in err.details(),
          f"AccessDenied names the action and the resource: {err.details()!r}")
    expect_error(
        lambda: kms.ListKeys(pb2.ListKeysRequest(), timeout=TIMEOUT),
        grpc.StatusCode.PERMISSION_DENIED, "AccessDeniedException", "ListKeys, which the policy does not allow")
    token, mid = creds.session_token, len(creds.session_token) // 2
    altered = token[:mid] + ("B" if token[mid] == "A" else "A") + token[mid + 1:]
    tampered = grpc.intercept_channel(
        raw_channel, SigningInterceptor(creds.access_key_id, creds.secret_access_key, altered))
    expect_error(
        lambda: modules["key_management"][1].KeyManagementStub(tampered).Encrypt(
            pb2.EncryptRequest(key_id=key_id, plaintext=b"x", encryption_context=context), timeout=TIMEOUT),
        grpc.StatusCode.UNAUTHENTICATED, "UnrecognizedClientException", "Encrypt with a tampered session token")
    summary.append("session-signed Encrypt/Decrypt in context -> OK; outside it / ListKeys -> "
                   "PERMISSION_DENIED [AccessDeniedException]; tampered token -> UNAUTHENTICATED")
    return summary


def main():
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
    except CheckFailed as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        return 1
    except grpc.RpcError as err:
        print(f"FAIL: unexpected gRPC error {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    print(f"python interop against {endpoint}: OK")
    print("  auth.md test vectors reproduced (with and without session token)")
    for line in summary:
        print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
