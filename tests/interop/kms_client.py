#!/usr/bin/env python3
"""Interop check: a Python client built from proto/ and the signing rule of design/auth.md alone.

Generates stubs from proto/ with grpc_tools.protoc into a temporary directory, signs every call in
a client interceptor (both in vaultd_client.py), and runs CreateKey / Encrypt / Decrypt / GenerateDataKey against a running
vaultd, plus the error paths (wrong encryption context, unsigned and badly signed calls) with their
google.rpc.ErrorInfo reasons. Then, as an application would: a user with a narrow inline policy
(Identity), session credentials for it (SecurityToken.GetSessionToken), and calls signed with the
session token, allowed and denied by the policy's encryption-context condition.

Environment: VAULTD_ENDPOINT (host:port, plaintext), VAULTD_ACCESS_KEY_ID, VAULTD_SECRET_ACCESS_KEY.
Exits 0 on success, 1 with a message on the first failed check, 2 on a setup problem.
"""

import os
import sys

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from vaultd_client import TIMEOUT, SigningInterceptor, check, connect, expect_error, main  # noqa: E402


# --- The scenario --------------------------------------------------------------------------------

def run(modules, endpoint, access_key_id, secret):
    pb2, pb2_grpc = modules["key_management"]
    summary = []
    raw_channel = connect(endpoint)
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


if __name__ == "__main__":
    sys.exit(main(run, "python interop"))
