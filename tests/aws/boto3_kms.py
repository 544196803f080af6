#!/usr/bin/env python3
"""boto3's KMS client (awsJson1_1, X-Amz-Target: TrentService.<Action>) against vaultd's AWS endpoint,
asserting what boto3 returns against real AWS KMS:

- CreateKey (symmetric, description, tags) and DescribeKey's KeyMetadata; ListResourceTags;
- CreateAlias, ListAliases (all, and by KeyId), the alias name and the alias ARN used as KeyId;
- Encrypt / Decrypt with an encryption context (missing or wrong context, tampered blob:
  InvalidCiphertextException), Decrypt without KeyId, GenerateDataKey (AES_256, AES_128,
  NumberOfBytes), GenerateDataKeyWithoutPlaintext, ReEncrypt to another key and context;
- ListKeys paginated with Limit / Marker / Truncated and with boto3's paginator;
- RSA_2048 and ECC_NIST_P256 signing keys: Sign / Verify (RAW and DIGEST), a tampered message
  (KMSInvalidSignatureException), GetPublicKey loaded with pyca/cryptography, which verifies
  KMS's signatures on its own; HMAC_256: GenerateMac / VerifyMac (KMSInvalidMacException);
  a key used for what its KeyUsage does not allow (InvalidKeyUsageException);
- rotation: EnableKeyRotation (default and custom period), GetKeyRotationStatus,
  RotateKeyOnDemand, ListKeyRotations, DisableKeyRotation; ciphertexts from before still decrypt;
- DisableKey / EnableKey (DisabledException while disabled);
- ScheduleKeyDeletion (7 days; fewer: ValidationException), PendingDeletion state
  (KMSInvalidStateException), CancelKeyDeletion (back to Disabled);
- DescribeKey on a missing key or alias: NotFoundException with HTTP 400 and a request id.

Environment: see awscheck.py. Exits 0 after printing what it checked, 1 on the first failed check.
"""

import datetime
import hashlib
import os
import re
import sys
import time
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from awscheck import (  # noqa: E402
    ACCOUNT, REGION, CheckFailed, check, client, eq, expect_error, main, ok, recent, request_id, unique,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RSA_SIGNING = {
    "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
}


def key_arn(key_id):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def same_key(got, key_id, what):
    """AWS answers some KeyId fields with the key ARN and documents others loosely: accept the id
    or the ARN of `key_id`, nothing else."""
    check(got in (key_id, key_arn(key_id)),
          f"{what}: expected key {key_id!r} or {key_arn(key_id)!r}, got {got!r}")


def describe(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]


# --- Symmetric keys -------------------------------------------------------------------------------

def symmetric_key(kms):
    description = unique("vaultd boto3 symmetric key")
    tag_value = unique("suite")
    created = kms.create_key(
        Description=description, KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT",
        Tags=[{"TagKey": "suite", "TagValue": tag_value}])
    request_id(created)
    key_id = created["KeyMetadata"]["KeyId"]
    check(UUID_RE.match(key_id), f"CreateKey: KeyId should be a UUID, got {key_id!r}")

    for what, meta in (("CreateKey", created["KeyMetadata"]), ("DescribeKey", describe(kms, key_id))):
        eq(meta["KeyId"], key_id, f"{what} KeyMetadata.KeyId")
        eq(meta["Arn"], key_arn(key_id), f"{what} KeyMetadata.Arn")
        eq(meta["AWSAccountId"], ACCOUNT, f"{what} KeyMetadata.AWSAccountId")
        eq(meta.get("Description"), description, f"{what} KeyMetadata.Description")
        eq(meta["Enabled"], True, f"{what} KeyMetadata.Enabled")
        eq(meta["KeyState"], "Enabled", f"{what} KeyMetadata.KeyState")
        eq(meta["KeySpec"], "SYMMETRIC_DEFAULT", f"{what} KeyMetadata.KeySpec")
        eq(meta.get("CustomerMasterKeySpec"), "SYMMETRIC_DEFAULT",
           f"{what} KeyMetadata.CustomerMasterKeySpec (deprecated, still returned by AWS)")
        eq(meta["KeyUsage"], "ENCRYPT_DECRYPT", f"{what} KeyMetadata.KeyUsage")
        eq(meta.get("EncryptionAlgorithms"), ["SYMMETRIC_DEFAULT"],
           f"{what} KeyMetadata.EncryptionAlgorithms")
        eq(meta.get("Origin"), "AWS_KMS", f"{what} KeyMetadata.Origin")
        eq(meta.get("KeyManager"), "CUSTOMER", f"{what} KeyMetadata.KeyManager")
        eq(meta.get("MultiRegion"), False, f"{what} KeyMetadata.MultiRegion")
        recent(meta["CreationDate"], f"{what} KeyMetadata.CreationDate")
        check("DeletionDate" not in meta, f"{what}: a new key has no DeletionDate, got {meta!r}")
    ok(f"CreateKey / DescribeKey: {key_arn(key_id)} with its KeyMetadata as AWS returns it")

    tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
    eq(tags, [{"TagKey": "suite", "TagValue": tag_value}], "ListResourceTags")
    ok("ListResourceTags returns the tag given to CreateKey")
    return key_id


def aliases(kms, key_id):
    alias = "alias/" + unique("vaultd-boto3")
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)

    found = [a for page in kms.get_paginator("list_aliases").paginate()
             for a in page["Aliases"] if a["AliasName"] == alias]
    eq(len(found), 1, f"ListAliases (paginator): entries named {alias}")
    eq(found[0].get("AliasArn"), alias_arn, "ListAliases AliasArn")
    eq(found[0].get("TargetKeyId"), key_id, "ListAliases TargetKeyId")
    by_key = kms.list_aliases(KeyId=key_id)["Aliases"]
    eq([a["AliasName"] for a in by_key], [alias], "ListAliases(KeyId=the key): alias names")
    ok(f"CreateAlias {alias}; ListAliases lists it (all, and by KeyId) with its ARN and target")

    for name in (alias, alias_arn):
        meta = describe(kms, name)
        eq(meta["KeyId"], key_id, f"DescribeKey(KeyId={name!r}).KeyId")
        enc = kms.encrypt(KeyId=name, Plaintext=b"via alias")
        eq(enc["KeyId"], key_arn(key_id), f"Encrypt(KeyId={name!r}) answers with the key ARN")
        eq(kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["Plaintext"], b"via alias",
           f"Decrypt of what Encrypt(KeyId={name!r}) made")
    ok("the alias name and the alias ARN work as KeyId (DescribeKey, Encrypt)")

    expect_error(lambda: kms.create_alias(AliasName=alias, TargetKeyId=key_id),
                 "AlreadyExistsException", "CreateAlias with a name in use", status=400)
    ok("CreateAlias with a name in use -> AlreadyExistsException")


def encrypt_decrypt(kms, key_id):
    plaintext = b"boto3 plaintext \x00\xff" + os.urandom(16)
    context = {"app": "vaultd-aws-tests", "purpose": "encrypt"}
    enc = kms.encrypt(KeyId=key_id, Plaintext=plaintext, EncryptionContext=context)
    blob = enc["CiphertextBlob"]
    check(isinstance(blob, bytes) and len(blob) > len(plaintext),
          f"Encrypt: CiphertextBlob should be bytes longer than the plaintext, got {blob!r}")
    check(plaintext not in blob, "Encrypt: the CiphertextBlob contains the plaintext")
    eq(enc["KeyId"], key_arn(key_id), "Encrypt KeyId")
    eq(enc.get("EncryptionAlgorithm"), "SYMMETRIC_DEFAULT", "Encrypt EncryptionAlgorithm")

    dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    eq(dec["Plaintext"], plaintext, "Decrypt Plaintext (no KeyId given)")
    eq(dec["KeyId"], key_arn(key_id), "Decrypt KeyId")
    eq(dec.get("EncryptionAlgorithm"), "SYMMETRIC_DEFAULT", "Decrypt EncryptionAlgorithm")
    dec = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context, KeyId=key_id)
    eq(dec["Plaintext"], plaintext, "Decrypt Plaintext (KeyId given)")
    ok("Encrypt / Decrypt with an encryption context round-trips, with or without KeyId")

    expect_error(lambda: kms.decrypt(CiphertextBlob=blob), "InvalidCiphertextException",
                 "Decrypt without the encryption context", status=400)
    expect_error(lambda: kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "other"}),
                 "InvalidCiphertextException", "Decrypt with a different encryption context")
    tampered = bytearray(blob)
    tampered[-1] ^= 0x01
    expect_error(lambda: kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext=context),
                 "InvalidCiphertextException", "Decrypt of a tampered CiphertextBlob")
    ok("Decrypt without / with another context, or of a tampered blob -> InvalidCiphertextException")
    return blob, plaintext, context


def data_keys(kms, key_id):
    context = {"purpose": "data-key"}
    gen = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    eq(len(gen["Plaintext"]), 32, "GenerateDataKey(AES_256) Plaintext length")
    eq(gen["KeyId"], key_arn(key_id), "GenerateDataKey KeyId")
    dec = kms.decrypt(CiphertextBlob=gen["CiphertextBlob"], EncryptionContext=context)
    eq(dec["Plaintext"], gen["Plaintext"], "Decrypt of GenerateDataKey's CiphertextBlob")
    other = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    check(other["Plaintext"] != gen["Plaintext"], "GenerateDataKey gave the same data key twice")
    eq(len(kms.generate_data_key(KeyId=key_id, KeySpec="AES_128")["Plaintext"]), 16,
       "GenerateDataKey(AES_128) Plaintext length")
    eq(len(kms.generate_data_key(KeyId=key_id, NumberOfBytes=64)["Plaintext"]), 64,
       "GenerateDataKey(NumberOfBytes=64) Plaintext length")
    ok("GenerateDataKey: 32-byte AES_256 key whose CiphertextBlob decrypts to it; AES_128, NumberOfBytes")

    without = kms.generate_data_key_without_plaintext(KeyId=key_id, KeySpec="AES_256",
                                                      EncryptionContext=context)
    check("Plaintext" not in without,
          f"GenerateDataKeyWithoutPlaintext returned a Plaintext: {sorted(without)}")
    eq(without["KeyId"], key_arn(key_id), "GenerateDataKeyWithoutPlaintext KeyId")
    dec = kms.decrypt(CiphertextBlob=without["CiphertextBlob"], EncryptionContext=context)
    eq(len(dec["Plaintext"]), 32, "Decrypt of GenerateDataKeyWithoutPlaintext's blob: length")
    ok("GenerateDataKeyWithoutPlaintext: no Plaintext, and its CiphertextBlob decrypts to 32 bytes")


def re_encrypt(kms, key_id, blob, plaintext, context):
    target = kms.create_key(Description=unique("vaultd boto3 re-encrypt target"))["KeyMetadata"]["KeyId"]
    new_context = {"app": "vaultd-aws-tests", "purpose": "re-encrypted"}
    moved = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext=context,
                        DestinationKeyId=target, DestinationEncryptionContext=new_context)
    eq(moved["SourceKeyId"], key_arn(key_id), "ReEncrypt SourceKeyId")
    eq(moved["KeyId"], key_arn(target), "ReEncrypt KeyId")
    eq(moved.get("SourceEncryptionAlgorithm"), "SYMMETRIC_DEFAULT", "ReEncrypt SourceEncryptionAlgorithm")
    eq(moved.get("DestinationEncryptionAlgorithm"), "SYMMETRIC_DEFAULT",
       "ReEncrypt DestinationEncryptionAlgorithm")
    dec = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext=new_context)
    eq(dec["Plaintext"], plaintext, "Decrypt of ReEncrypt's CiphertextBlob")
    eq(dec["KeyId"], key_arn(target), "Decrypt of ReEncrypt's blob: KeyId")
    expect_error(lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=target),
                 "InvalidCiphertextException", "ReEncrypt without the source encryption context")
    ok("ReEncrypt moves a ciphertext to another key and context; the new blob decrypts")
    return target


def list_keys(kms, ours):
    first = kms.list_keys(Limit=1)
    eq(len(first["Keys"]), 1, "ListKeys(Limit=1): number of keys")
    eq(first.get("Truncated"), True, "ListKeys(Limit=1) Truncated (at least two keys exist)")
    check(first.get("NextMarker"), f"ListKeys(Limit=1): no NextMarker in {first!r}")
    second = kms.list_keys(Limit=1, Marker=first["NextMarker"])
    eq(len(second["Keys"]), 1, "ListKeys(Limit=1, Marker): number of keys")
    check(second["Keys"][0]["KeyId"] != first["Keys"][0]["KeyId"],
          f"ListKeys: the page after the marker repeats {first['Keys'][0]['KeyId']}")
    for entry in first["Keys"] + second["Keys"]:
        eq(entry.get("KeyArn"), key_arn(entry["KeyId"]), "ListKeys entry KeyArn")
    ok("ListKeys(Limit=1): one key, Truncated, NextMarker; the next page holds another key")

    seen = []
    pages = 0
    for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}):
        pages += 1
        check(len(page["Keys"]) <= 2, f"ListKeys page of PageSize 2 holds {len(page['Keys'])} keys")
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page.get("Truncated"):
            check("NextMarker" not in page, f"ListKeys: last page has a NextMarker: {page!r}")
    eq(len(seen), len(set(seen)), "ListKeys paginator: keys listed twice")
    missing = set(ours) - set(seen)
    check(not missing, f"ListKeys paginator: keys {sorted(missing)} missing from {len(seen)} listed")
    ok(f"ListKeys paginator (PageSize 2): {len(seen)} keys in {pages} pages, ours among them")


# --- Asymmetric and HMAC keys ---------------------------------------------------------------------

def public_key_of(kms, key_id, key_spec):
    pub = kms.get_public_key(KeyId=key_id)
    eq(pub["KeyId"], key_arn(key_id), "GetPublicKey KeyId")
    eq(pub["KeySpec"], key_spec, "GetPublicKey KeySpec")
    eq(pub["KeyUsage"], "SIGN_VERIFY", "GetPublicKey KeyUsage")
    return pub, serialization.load_der_public_key(pub["PublicKey"])


def rsa_signing(kms):
    created = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY",
                             Description=unique("vaultd boto3 rsa"))["KeyMetadata"]
    key_id = created["KeyId"]
    eq(created["KeySpec"], "RSA_2048", "CreateKey(RSA_2048) KeySpec")
    eq(created["KeyUsage"], "SIGN_VERIFY", "CreateKey(RSA_2048) KeyUsage")
    eq(set(created.get("SigningAlgorithms", [])), RSA_SIGNING, "RSA_2048 SigningAlgorithms")
    pub, public_key = public_key_of(kms, key_id, "RSA_2048")
    check(isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == 2048,
          f"GetPublicKey: expected a 2048-bit RSA SubjectPublicKeyInfo, got {public_key!r}")
    eq(set(pub.get("SigningAlgorithms", [])), RSA_SIGNING, "GetPublicKey SigningAlgorithms")

    message = b"message signed by vaultd " + os.urandom(8)
    for algorithm, pad in (
            ("RSASSA_PSS_SHA_256",
             padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)),
            ("RSASSA_PKCS1_V1_5_SHA_256", padding.PKCS1v15())):
        signed = kms.sign(KeyId=key_id, Message=message, MessageType="RAW", SigningAlgorithm=algorithm)
        eq(signed["KeyId"], key_arn(key_id), f"Sign({algorithm}) KeyId")
        eq(signed["SigningAlgorithm"], algorithm, "Sign SigningAlgorithm")
        signature = signed["Signature"]
        eq(len(signature), 256, f"Sign({algorithm}) signature length")
        verified = kms.verify(KeyId=key_id, Message=message, MessageType="RAW", Signature=signature,
                              SigningAlgorithm=algorithm)
        eq(verified["SignatureValid"], True, f"Verify({algorithm}) SignatureValid")
        eq(verified["KeyId"], key_arn(key_id), f"Verify({algorithm}) KeyId")
        expect_error(lambda: kms.verify(KeyId=key_id, Message=message + b"!", MessageType="RAW",
                                        Signature=signature, SigningAlgorithm=algorithm),
                     "KMSInvalidSignatureException", f"Verify({algorithm}) of a tampered message",
                     status=400)
        try:
            public_key.verify(signature, message, pad, hashes.SHA256())
        except InvalidSignature:
            raise CheckFailed(f"{algorithm}: pyca/cryptography rejects KMS's signature with the "
                                 "public key from GetPublicKey")
        ok(f"RSA_2048 {algorithm}: Sign / Verify, tampered message -> KMSInvalidSignatureException, "
           "signature verified offline with GetPublicKey's key")

    digest = hashlib.sha256(message).digest()
    by_digest = kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST",
                         SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")["Signature"]
    try:
        public_key.verify(by_digest, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    except InvalidSignature:
        raise CheckFailed("Sign(MessageType=DIGEST): pyca/cryptography rejects the signature as one "
                          "over a prehashed SHA-256 digest")
    eq(kms.verify(KeyId=key_id, Message=digest, MessageType="DIGEST", Signature=by_digest,
                  SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256")["SignatureValid"], True,
       "Verify(MessageType=DIGEST) SignatureValid")
    ok("RSA_2048 Sign / Verify with MessageType DIGEST (verified offline as a prehashed SHA-256)")

    expect_error(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"), "InvalidKeyUsageException",
                 "Encrypt with a SIGN_VERIFY key")
    ok("Encrypt with a SIGN_VERIFY key -> InvalidKeyUsageException")


def ecc_signing(kms):
    created = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY",
                             Description=unique("vaultd boto3 ecc"))["KeyMetadata"]
    key_id = created["KeyId"]
    eq(created.get("SigningAlgorithms"), ["ECDSA_SHA_256"], "ECC_NIST_P256 SigningAlgorithms")
    _, public_key = public_key_of(kms, key_id, "ECC_NIST_P256")
    check(isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1",
          f"GetPublicKey: expected a P-256 SubjectPublicKeyInfo, got {public_key!r}")

    message = b"ecdsa message " + os.urandom(8)
    signed = kms.sign(KeyId=key_id, Message=message, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")
    signature = signed["Signature"]
    eq(signed["SigningAlgorithm"], "ECDSA_SHA_256", "Sign SigningAlgorithm")
    eq(kms.verify(KeyId=key_id, Message=message, MessageType="RAW", Signature=signature,
                  SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"], True, "Verify(ECDSA_SHA_256)")
    expect_error(lambda: kms.verify(KeyId=key_id, Message=message + b"!", MessageType="RAW",
                                    Signature=signature, SigningAlgorithm="ECDSA_SHA_256"),
                 "KMSInvalidSignatureException", "Verify(ECDSA_SHA_256) of a tampered message")
    try:
        # KMS's ECDSA signatures are DER-encoded (r, s), which is what cryptography takes.
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise CheckFailed("ECDSA_SHA_256: pyca/cryptography rejects KMS's DER signature with the "
                             "public key from GetPublicKey")
    ok("ECC_NIST_P256 ECDSA_SHA_256: Sign / Verify, tampered -> KMSInvalidSignatureException, "
       "DER signature verified offline")


def hmac_keys(kms):
    created = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                             Description=unique("vaultd boto3 hmac"))["KeyMetadata"]
    key_id = created["KeyId"]
    eq(created.get("MacAlgorithms"), ["HMAC_SHA_256"], "HMAC_256 MacAlgorithms")
    message = b"mac me " + os.urandom(8)
    mac = kms.generate_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256")
    eq(mac["KeyId"], key_arn(key_id), "GenerateMac KeyId")
    eq(mac["MacAlgorithm"], "HMAC_SHA_256", "GenerateMac MacAlgorithm")
    eq(len(mac["Mac"]), 32, "GenerateMac Mac length")
    again = kms.generate_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256")["Mac"]
    eq(again, mac["Mac"], "GenerateMac twice on the same message")
    other = kms.generate_mac(KeyId=key_id, Message=message + b"!", MacAlgorithm="HMAC_SHA_256")["Mac"]
    check(other != mac["Mac"], "GenerateMac gives the same MAC for two messages")
    verified = kms.verify_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256", Mac=mac["Mac"])
    eq(verified["MacValid"], True, "VerifyMac MacValid")
    eq(verified["KeyId"], key_arn(key_id), "VerifyMac KeyId")
    expect_error(lambda: kms.verify_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256",
                                        Mac=other),
                 "KMSInvalidMacException", "VerifyMac with the MAC of another message", status=400)
    expect_error(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"), "InvalidKeyUsageException",
                 "Encrypt with a GENERATE_VERIFY_MAC key")
    ok("HMAC_256: GenerateMac (deterministic, 32 bytes) / VerifyMac, wrong MAC -> KMSInvalidMacException")


# --- Life cycle -----------------------------------------------------------------------------------

def rotation(kms, key_id):
    status = kms.get_key_rotation_status(KeyId=key_id)
    eq(status["KeyRotationEnabled"], False, "GetKeyRotationStatus of a new key")
    before_plain = b"encrypted before rotation"
    before = kms.encrypt(KeyId=key_id, Plaintext=before_plain)["CiphertextBlob"]

    kms.enable_key_rotation(KeyId=key_id)
    status = kms.get_key_rotation_status(KeyId=key_id)
    eq(status["KeyRotationEnabled"], True, "GetKeyRotationStatus after EnableKeyRotation")
    eq(status.get("RotationPeriodInDays"), 365, "GetKeyRotationStatus default RotationPeriodInDays")
    recent(status.get("NextRotationDate"), "GetKeyRotationStatus NextRotationDate",
           within=datetime.timedelta(days=366))
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    eq(kms.get_key_rotation_status(KeyId=key_id).get("RotationPeriodInDays"), 90,
       "RotationPeriodInDays after EnableKeyRotation(RotationPeriodInDays=90)")
    ok("EnableKeyRotation: KeyRotationEnabled, RotationPeriodInDays 365 by default and 90 when asked")

    rotated = kms.rotate_key_on_demand(KeyId=key_id)
    same_key(rotated.get("KeyId"), key_id, "RotateKeyOnDemand KeyId")
    # AWS starts an on-demand rotation and finishes it shortly after: wait for it to be listed.
    deadline = time.monotonic() + 20
    while True:
        rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
        on_demand = [r for r in rotations if r.get("RotationType") == "ON_DEMAND"]
        if on_demand or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    eq(len(on_demand), 1, f"ListKeyRotations: ON_DEMAND rotations (all: {rotations!r})")
    same_key(on_demand[0].get("KeyId"), key_id, "ListKeyRotations entry KeyId")
    recent(on_demand[0].get("RotationDate"), "ListKeyRotations entry RotationDate")
    ok("RotateKeyOnDemand, then ListKeyRotations lists one ON_DEMAND rotation dated now")

    eq(kms.decrypt(CiphertextBlob=before)["Plaintext"], before_plain,
       "Decrypt of a ciphertext made before the rotation")
    after = kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    eq(kms.decrypt(CiphertextBlob=after)["Plaintext"], b"after", "Decrypt after the rotation")
    kms.disable_key_rotation(KeyId=key_id)
    eq(kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"], False,
       "GetKeyRotationStatus after DisableKeyRotation")
    ok("old ciphertexts still decrypt after rotation; DisableKeyRotation turns it off")


def disable_enable(kms, key_id):
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before disable")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    meta = describe(kms, key_id)
    eq((meta["Enabled"], meta["KeyState"]), (False, "Disabled"), "DescribeKey after DisableKey")
    expect_error(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"), "DisabledException",
                 "Encrypt with a disabled key", status=400)
    expect_error(lambda: kms.decrypt(CiphertextBlob=blob), "DisabledException",
                 "Decrypt under a disabled key")
    expect_error(lambda: kms.generate_data_key(KeyId=key_id, KeySpec="AES_256"), "DisabledException",
                 "GenerateDataKey with a disabled key")
    kms.enable_key(KeyId=key_id)
    eq(describe(kms, key_id)["KeyState"], "Enabled", "KeyState after EnableKey")
    eq(kms.decrypt(CiphertextBlob=blob)["Plaintext"], b"before disable", "Decrypt after EnableKey")
    ok("DisableKey: Encrypt / Decrypt / GenerateDataKey -> DisabledException; EnableKey restores them")


def deletion(kms):
    key_id = kms.create_key(Description=unique("vaultd boto3 deletion"))["KeyMetadata"]["KeyId"]
    expect_error(lambda: kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=6),
                 "ValidationException", "ScheduleKeyDeletion(PendingWindowInDays=6)")
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    eq(scheduled["KeyId"], key_arn(key_id), "ScheduleKeyDeletion KeyId")
    eq(scheduled.get("KeyState"), "PendingDeletion", "ScheduleKeyDeletion KeyState")
    eq(scheduled.get("PendingWindowInDays"), 7, "ScheduleKeyDeletion PendingWindowInDays")
    deletion_date = scheduled["DeletionDate"]
    in_7_days = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)
    check(abs(deletion_date - in_7_days) < datetime.timedelta(days=1),
          f"ScheduleKeyDeletion DeletionDate: expected about {in_7_days.isoformat()}, got {deletion_date!r}")
    meta = describe(kms, key_id)
    eq((meta["KeyState"], meta["Enabled"]), ("PendingDeletion", False), "DescribeKey while pending deletion")
    check("DeletionDate" in meta, f"DescribeKey while pending deletion: no DeletionDate in {meta!r}")
    expect_error(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"), "KMSInvalidStateException",
                 "Encrypt with a key pending deletion", status=400)
    ok("ScheduleKeyDeletion(7): PendingDeletion with a DeletionDate 7 days ahead; "
       "Encrypt -> KMSInvalidStateException; 6 days -> ValidationException")

    cancelled = kms.cancel_key_deletion(KeyId=key_id)
    eq(cancelled["KeyId"], key_arn(key_id), "CancelKeyDeletion KeyId")
    meta = describe(kms, key_id)
    eq((meta["KeyState"], meta["Enabled"]), ("Disabled", False), "DescribeKey after CancelKeyDeletion")
    check("DeletionDate" not in meta, f"DescribeKey after CancelKeyDeletion: DeletionDate in {meta!r}")
    kms.enable_key(KeyId=key_id)
    kms.encrypt(KeyId=key_id, Plaintext=b"usable again")
    ok("CancelKeyDeletion leaves the key Disabled (as AWS); EnableKey makes it usable again")


def missing(kms):
    err = expect_error(lambda: kms.describe_key(KeyId=str(uuid.uuid4())), "NotFoundException",
                       "DescribeKey of a key that does not exist", status=400)
    if err is not None:
        request_id(err.response)
    expect_error(lambda: kms.describe_key(KeyId="alias/" + unique("missing")), "NotFoundException",
                 "DescribeKey of an alias that does not exist", status=400)
    expect_error(lambda: kms.encrypt(KeyId=str(uuid.uuid4()), Plaintext=b"x"), "NotFoundException",
                 "Encrypt with a key that does not exist")
    ok("DescribeKey / Encrypt of a missing key or alias -> NotFoundException (HTTP 400, with a request id)")


def run():
    kms = client("kms")
    key_id = symmetric_key(kms)
    aliases(kms, key_id)
    blob, plaintext, context = encrypt_decrypt(kms, key_id)
    data_keys(kms, key_id)
    target = re_encrypt(kms, key_id, blob, plaintext, context)
    list_keys(kms, [key_id, target])
    rsa_signing(kms)
    ecc_signing(kms)
    hmac_keys(kms)
    rotation(kms, key_id)
    disable_enable(kms, key_id)
    deletion(kms)
    missing(kms)


if __name__ == "__main__":
    main(run, "boto3 KMS")
