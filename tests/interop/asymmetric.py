#!/usr/bin/env python3
"""Interop check of asymmetric keys, HMAC keys and imported key material against an independent
implementation (pyca/cryptography), with a client built from proto/ alone (vaultd_client.py).

1. RSA ENCRYPT_DECRYPT (2048, 3072), RSAES_OAEP_SHA_1/256: Python encrypts to GetPublicKey's key,
   vaultd decrypts, up to the OAEP maximum; one byte more is refused by Encrypt.
2. Sign/Verify, every signing algorithm, RAW and DIGEST: vaultd's signatures verify offline (over the
   message, and Prehashed over the digest); Python signs with its own key pairs imported into
   EXTERNAL keys (RSA_AES_KEY_WRAP) and vaultd's Verify accepts them; tampered signatures are
   KMSInvalidSignatureException.
3. HMAC: imported material known to Python gives the same MACs as GenerateMac; VerifyMac accepts
   Python's MAC, a wrong one is KMSInvalidMacException; generated HMAC keys of every size round-trip.
4. DeriveSharedSecret (ECDH on P-256) equals Python's ECDH with an offline peer.
5. Imported symmetric material: Python builds crypto.md §1 blobs (checked against its test vector
   first) that vaultd decrypts, and opens vaultd's; DeleteImportedKeyMaterial, re-import of the same
   material only (IncorrectKeyMaterialException otherwise).
6. GenerateDataKeyPair (ECC_NIST_P256, RSA_2048) and its WithoutPlaintext form: the PKCS#8 and SPKI
   load in Python and match; the wrapped private key decrypts to the same PKCS#8.

Environment: VAULTD_ENDPOINT (host:port, plaintext), VAULTD_ACCESS_KEY_ID, VAULTD_SECRET_ACCESS_KEY.
Exits 0 on success, 1 with a message on the first failed check, 2 on a setup problem.
"""

import datetime
import hashlib
import hmac
import os
import struct
import sys
import uuid

import grpc
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding
from google.protobuf import timestamp_pb2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from vaultd_client import (  # noqa: E402
    TIMEOUT, CheckFailed, SigningInterceptor, check, connect, describe_failure, expect_error, main)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

HASHES = {"SHA_1": hashes.SHA1, "SHA_224": hashes.SHA224, "SHA_256": hashes.SHA256,
          "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}
# Signing algorithm -> (scheme, hash class).
SIGNING = {
    "RSASSA_PSS_SHA_256": ("pss", hashes.SHA256),
    "RSASSA_PSS_SHA_384": ("pss", hashes.SHA384),
    "RSASSA_PSS_SHA_512": ("pss", hashes.SHA512),
    "RSASSA_PKCS1_V1_5_SHA_256": ("pkcs1", hashes.SHA256),
    "RSASSA_PKCS1_V1_5_SHA_384": ("pkcs1", hashes.SHA384),
    "RSASSA_PKCS1_V1_5_SHA_512": ("pkcs1", hashes.SHA512),
    "ECDSA_SHA_256": ("ecdsa", hashes.SHA256),
}
RSA_SIGNING = [name for name, (scheme, _) in SIGNING.items() if scheme != "ecdsa"]


def digest(hash_class, data):
    h = hashes.Hash(hash_class())
    h.update(data)
    return h.finalize()


def oaep(hash_class):
    return padding.OAEP(mgf=padding.MGF1(hash_class()), algorithm=hash_class(), label=None)


def _signature_args(algorithm, prehashed):
    scheme, hash_class = SIGNING[algorithm]
    chosen = Prehashed(hash_class()) if prehashed else hash_class()
    if scheme == "pss":
        return [padding.PSS(mgf=padding.MGF1(hash_class()), salt_length=hash_class.digest_size), chosen]
    if scheme == "pkcs1":
        return [padding.PKCS1v15(), chosen]
    return [ec.ECDSA(chosen)]


def sign_offline(private_key, algorithm, data, prehashed=False):
    return private_key.sign(data, *_signature_args(algorithm, prehashed))


def verifies_offline(public_key, algorithm, signature, data, prehashed=False):
    try:
        public_key.verify(signature, data, *_signature_args(algorithm, prehashed))
        return True
    except InvalidSignature:
        return False


def tamper(data):
    """The same bytes with the last one changed (a DER ECDSA signature stays well-formed)."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


def spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pkcs8(private_key):
    return private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def same_public_key(a, b):
    return a.public_numbers() == b.public_numbers()


# --- crypto.md §1: the symmetric ciphertext blob -------------------------------------------------

def canonical_context(context):
    pairs = sorted((k.encode(), v.encode()) for k, v in context.items())
    out = struct.pack(">H", len(pairs))
    for key, value in pairs:
        out += struct.pack(">H", len(key)) + key + struct.pack(">H", len(value)) + value
    return out


def _blob_key(material, prefix, salt):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt,
                info=b"vaultd/v1/encrypt" + prefix).derive(material)


def seal_blob(material, key_id, version, context, plaintext, salt=None, iv=None):
    salt = os.urandom(16) if salt is None else salt
    iv = os.urandom(12) if iv is None else iv
    prefix = bytes([0x01, 0x01]) + uuid.UUID(key_id).bytes + struct.pack(">I", version)
    header = prefix + salt + iv
    return header + AESGCM(_blob_key(material, prefix, salt)).encrypt(iv, plaintext,
                                                                      header + canonical_context(context))


def open_blob(material, blob, context):
    """-> (key id, material version, plaintext); CheckFailed when it does not open."""
    check(len(blob) >= 66 and blob[0] == 0x01 and blob[1] == 0x01,
          f"blob: {len(blob)} bytes, version/suite {blob[:2].hex()}, want >= 66 bytes and 0101")
    prefix, salt, iv = blob[:22], blob[22:38], blob[38:50]
    try:
        plaintext = AESGCM(_blob_key(material, prefix, salt)).decrypt(
            iv, blob[50:], blob[:50] + canonical_context(context))
    except InvalidTag:
        raise CheckFailed("a vaultd blob does not open in Python with the imported material (crypto.md §1)")
    return str(uuid.UUID(bytes=prefix[2:18])), struct.unpack(">I", prefix[18:22])[0], plaintext


def check_blob_test_vector():
    material, salt, iv = bytes(range(32)), bytes(range(0xA0, 0xB0)), bytes(range(0xC0, 0xCC))
    context = {"tenant": "42", "app": "billing"}
    check(canonical_context(context).hex() == "00020003617070000762696c6c696e67000674656e616e7400023432",
          f"crypto.md §1 canonical context: {canonical_context(context).hex()}")
    blob = seal_blob(material, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 1, context, b"hello", salt, iv)
    want = ("01010f1e2d3c4b5a69788796a5b4c3d2e1f000000001a0a1a2a3a4a5a6a7a8a9aaabacadaeafc0c1c2c3c4c5c6c7c8c9"
            "cacbbc2b409c6f10e66bf402de49fbf30b97e5d185836e")
    check(blob.hex() == want, f"crypto.md §1 test vector: got {blob.hex()}")
    check(open_blob(material, blob, context) == ("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", 1, b"hello"),
          "crypto.md §1 test vector does not open again")


# --- vaultd calls --------------------------------------------------------------------------------

class Vaultd:
    def __init__(self, pb2, stub):
        self.pb2, self.kms = pb2, stub

    def enum(self, prefix, name):
        return getattr(self.pb2, f"{prefix}_{name}")

    def create_key(self, spec, usage, origin="AWS_KMS"):
        pb2 = self.pb2
        meta = self.kms.CreateKey(pb2.CreateKeyRequest(
            description=f"interop {spec} {usage} {origin}", key_spec=self.enum("KEY_SPEC", spec),
            key_usage=self.enum("KEY_USAGE", usage), origin=self.enum("ORIGIN_TYPE", origin)),
            timeout=TIMEOUT).key_metadata
        what = f"CreateKey {spec}/{usage}/{origin}"
        check(meta.key_spec == self.enum("KEY_SPEC", spec), f"{what}: key_spec {pb2.KeySpec.Name(meta.key_spec)}")
        check(meta.key_usage == self.enum("KEY_USAGE", usage),
              f"{what}: key_usage {pb2.KeyUsage.Name(meta.key_usage)}")
        check(meta.origin == self.enum("ORIGIN_TYPE", origin), f"{what}: origin {pb2.OriginType.Name(meta.origin)}")
        state = "PENDING_IMPORT" if origin == "EXTERNAL" else "ENABLED"
        check(meta.key_state == self.enum("KEY_STATE", state) and meta.enabled == (state == "ENABLED"),
              f"{what}: state {pb2.KeyState.Name(meta.key_state)} enabled={meta.enabled}, want {state}")
        return meta

    def describe(self, key_id):
        return self.kms.DescribeKey(self.pb2.DescribeKeyRequest(key_id=key_id), timeout=TIMEOUT).key_metadata

    def public_key(self, key_id):
        resp = self.kms.GetPublicKey(self.pb2.GetPublicKeyRequest(key_id=key_id), timeout=TIMEOUT)
        try:
            return resp, serialization.load_der_public_key(resp.public_key)
        except ValueError as e:
            raise CheckFailed(f"GetPublicKey {key_id}: not a DER SubjectPublicKeyInfo: {e}")

    def import_material(self, key_id, material, wrapping, wrapping_key_spec="RSA_2048", valid_to=None,
                        expect_reason=None):
        """GetParametersForImport, wrap `material` as AWS documents, ImportKeyMaterial."""
        pb2 = self.pb2
        params = self.kms.GetParametersForImport(pb2.GetParametersForImportRequest(
            key_id=key_id, wrapping_algorithm=self.enum("ALGORITHM_SPEC", wrapping),
            wrapping_key_spec=self.enum("WRAPPING_KEY_SPEC", wrapping_key_spec)), timeout=TIMEOUT)
        what = f"GetParametersForImport {wrapping}/{wrapping_key_spec}"
        check(params.import_token, f"{what}: empty import_token")
        now = datetime.datetime.now(datetime.timezone.utc).timestamp()
        check(params.HasField("parameters_valid_to") and
              now + 23 * 3600 < params.parameters_valid_to.seconds < now + 25 * 3600,
              f"{what}: parameters_valid_to {params.parameters_valid_to}, want about 24 h from now")
        try:
            wrapping_key = serialization.load_der_public_key(params.public_key)
        except ValueError as e:
            raise CheckFailed(f"{what}: public_key is not a DER SubjectPublicKeyInfo: {e}")
        bits = int(wrapping_key_spec.split("_")[1])
        check(isinstance(wrapping_key, rsa.RSAPublicKey) and wrapping_key.key_size == bits,
              f"{what}: wrapping key is not RSA-{bits}")
        hash_class = HASHES["SHA_" + wrapping.rsplit("_", 1)[-1]]  # ..._SHA_1 / ..._SHA_256
        if wrapping.startswith("RSAES_OAEP_"):
            encrypted = wrapping_key.encrypt(material, oaep(hash_class))
        else:  # RSA_AES_KEY_WRAP_*: RSA-OAEP(fresh AES-256 key) || AES-KWP (RFC 5649) of the material
            aes_key = os.urandom(32)
            encrypted = wrapping_key.encrypt(aes_key, oaep(hash_class)) + aes_key_wrap_with_padding(aes_key, material)
        request = pb2.ImportKeyMaterialRequest(key_id=key_id, import_token=params.import_token,
                                               encrypted_key_material=encrypted)
        if valid_to is not None:
            request.valid_to.CopyFrom(valid_to)
            request.expiration_model = pb2.EXPIRATION_MODEL_TYPE_KEY_MATERIAL_EXPIRES
        if expect_reason:
            expect_error(lambda: self.kms.ImportKeyMaterial(request, timeout=TIMEOUT), INVALID, expect_reason,
                         f"ImportKeyMaterial ({wrapping}) of other material")
            return None
        resp = self.kms.ImportKeyMaterial(request, timeout=TIMEOUT)
        meta = self.describe(key_id)
        check(meta.key_state == pb2.KEY_STATE_ENABLED and meta.enabled,
              f"after ImportKeyMaterial ({wrapping}): state {pb2.KeyState.Name(meta.key_state)}, want ENABLED")
        return resp

    def sign(self, key_id, algorithm, message, message_type="RAW"):
        resp = self.kms.Sign(self.pb2.SignRequest(
            key_id=key_id, message=message, message_type=self.enum("MESSAGE_TYPE", message_type),
            signing_algorithm=self.enum("SIGNING_ALGORITHM_SPEC", algorithm)), timeout=TIMEOUT)
        check(resp.signing_algorithm == self.enum("SIGNING_ALGORITHM_SPEC", algorithm),
              f"Sign {algorithm}: response names {self.pb2.SigningAlgorithmSpec.Name(resp.signing_algorithm)}")
        return resp.signature

    def verify_request(self, key_id, algorithm, message, signature, message_type="RAW"):
        return self.pb2.VerifyRequest(
            key_id=key_id, message=message, message_type=self.enum("MESSAGE_TYPE", message_type),
            signature=signature, signing_algorithm=self.enum("SIGNING_ALGORITHM_SPEC", algorithm))

    def verify(self, key_id, algorithm, message, signature, message_type="RAW", what=""):
        resp = self.kms.Verify(self.verify_request(key_id, algorithm, message, signature, message_type),
                               timeout=TIMEOUT)
        check(resp.signature_valid, f"Verify {algorithm} {message_type} {what}: signature_valid is false")

    def verify_rejects(self, key_id, algorithm, message, signature, message_type="RAW", what=""):
        request = self.verify_request(key_id, algorithm, message, signature, message_type)
        expect_error(lambda: self.kms.Verify(request, timeout=TIMEOUT), INVALID, "KMSInvalidSignatureException",
                     f"Verify {algorithm} {message_type} of a tampered signature {what}")


# --- The checks ----------------------------------------------------------------------------------

def rsa_encryption(v):
    pb2, summary = v.pb2, []
    algorithms = {"RSAES_OAEP_SHA_1": hashes.SHA1, "RSAES_OAEP_SHA_256": hashes.SHA256}
    for spec, bits in [("RSA_2048", 2048), ("RSA_3072", 3072)]:
        meta = v.create_key(spec, "ENCRYPT_DECRYPT")
        key_id = meta.key_id
        want_algs = {pb2.ENCRYPTION_ALGORITHM_SPEC_RSAES_OAEP_SHA_1, pb2.ENCRYPTION_ALGORITHM_SPEC_RSAES_OAEP_SHA_256}
        check(set(meta.encryption_algorithms) == want_algs,
              f"CreateKey {spec}: encryption_algorithms {list(meta.encryption_algorithms)}")
        resp, public = v.public_key(key_id)
        check(isinstance(public, rsa.RSAPublicKey) and public.key_size == bits,
              f"GetPublicKey {spec}: not an RSA-{bits} key")
        check(resp.key_spec == v.enum("KEY_SPEC", spec) and resp.key_usage == pb2.KEY_USAGE_ENCRYPT_DECRYPT
              and set(resp.encryption_algorithms) == want_algs,
              f"GetPublicKey {spec}: key_spec/key_usage/encryption_algorithms {resp}")
        for name, hash_class in algorithms.items():
            alg = v.enum("ENCRYPTION_ALGORITHM_SPEC", name)
            maximum = bits // 8 - 2 * hash_class.digest_size - 2
            for size in (17, maximum):
                plaintext = os.urandom(size)
                ciphertext = public.encrypt(plaintext, oaep(hash_class))
                dec = v.kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=ciphertext, key_id=key_id,
                                                       encryption_algorithm=alg), timeout=TIMEOUT)
                check(dec.plaintext == plaintext,
                      f"Decrypt {spec} {name} of Python's {size}-byte OAEP ciphertext: other plaintext")
                check(dec.encryption_algorithm == alg and dec.key_id in (key_id, meta.arn),
                      f"Decrypt {spec} {name}: response names {dec.encryption_algorithm} / {dec.key_id}")
            plaintext = os.urandom(maximum)
            enc = v.kms.Encrypt(pb2.EncryptRequest(key_id=key_id, plaintext=plaintext, encryption_algorithm=alg),
                                timeout=TIMEOUT)
            check(len(enc.ciphertext_blob) == bits // 8 and enc.encryption_algorithm == alg,
                  f"Encrypt {spec} {name} of {maximum} bytes: {len(enc.ciphertext_blob)}-byte ciphertext")
            dec = v.kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=enc.ciphertext_blob, key_id=key_id,
                                                   encryption_algorithm=alg), timeout=TIMEOUT)
            check(dec.plaintext == plaintext, f"Decrypt {spec} {name} of vaultd's {maximum}-byte ciphertext")
            expect_error(lambda: v.kms.Encrypt(pb2.EncryptRequest(
                key_id=key_id, plaintext=os.urandom(maximum + 1), encryption_algorithm=alg), timeout=TIMEOUT),
                INVALID, "ValidationException", f"Encrypt {spec} {name} of {maximum + 1} bytes (OAEP maximum + 1)")
            summary.append(f"{spec} {name}: Python OAEP -> vaultd Decrypt (17 and {maximum} bytes); "
                           f"Encrypt of {maximum + 1} -> ValidationException")
    return summary


def signing(v):
    pb2, summary = v.pb2, []
    message = b"interop message \x00\xff " + os.urandom(1000)
    rsa_meta = v.create_key("RSA_2048", "SIGN_VERIFY")
    ec_meta = v.create_key("ECC_NIST_P256", "SIGN_VERIFY")
    check(set(rsa_meta.signing_algorithms) == {v.enum("SIGNING_ALGORITHM_SPEC", a) for a in RSA_SIGNING},
          f"CreateKey RSA_2048 SIGN_VERIFY: signing_algorithms {list(rsa_meta.signing_algorithms)}")
    check(list(ec_meta.signing_algorithms) == [pb2.SIGNING_ALGORITHM_SPEC_ECDSA_SHA_256],
          f"CreateKey ECC_NIST_P256 SIGN_VERIFY: signing_algorithms {list(ec_meta.signing_algorithms)}")
    _, rsa_public = v.public_key(rsa_meta.key_id)
    _, ec_public = v.public_key(ec_meta.key_id)
    check(isinstance(rsa_public, rsa.RSAPublicKey) and rsa_public.key_size == 2048, "GetPublicKey: not RSA-2048")
    check(isinstance(ec_public, ec.EllipticCurvePublicKey) and isinstance(ec_public.curve, ec.SECP256R1),
          "GetPublicKey ECC_NIST_P256: not a P-256 key")

    for algorithm, (scheme, hash_class) in SIGNING.items():
        key_id, public = (ec_meta.key_id, ec_public) if scheme == "ecdsa" else (rsa_meta.key_id, rsa_public)
        hashed = digest(hash_class, message)
        raw_sig = v.sign(key_id, algorithm, message, "RAW")
        check(verifies_offline(public, algorithm, raw_sig, message),
              f"vaultd's {algorithm} RAW signature does not verify offline")
        check(verifies_offline(public, algorithm, raw_sig, hashed, prehashed=True),
              f"vaultd's {algorithm} RAW signature does not verify offline Prehashed over the digest")
        digest_sig = v.sign(key_id, algorithm, hashed, "DIGEST")
        check(verifies_offline(public, algorithm, digest_sig, hashed, prehashed=True),
              f"vaultd's {algorithm} DIGEST signature does not verify offline Prehashed over the digest")
        check(verifies_offline(public, algorithm, digest_sig, message),
              f"vaultd's {algorithm} DIGEST signature does not verify offline over the message "
              "(was the digest hashed again?)")
        v.verify(key_id, algorithm, hashed, raw_sig, "DIGEST", "(of the RAW signature)")
        v.verify(key_id, algorithm, message, digest_sig, "RAW", "(of the DIGEST signature)")
        v.verify_rejects(key_id, algorithm, message, tamper(raw_sig), "RAW")
        v.verify_rejects(key_id, algorithm, hashed, tamper(digest_sig), "DIGEST")
    summary.append("Sign RSA_2048 (PSS and PKCS#1 v1.5, SHA-256/384/512) and P-256 ECDSA_SHA_256, RAW and DIGEST: "
                   "signatures verify offline over the message and Prehashed over the digest; "
                   "vaultd Verify RAW <-> DIGEST crosswise; tampered -> KMSInvalidSignatureException")

    # Message limits: RAW up to 4096 bytes, DIGEST exactly the hash length.
    big = os.urandom(4096)
    check(verifies_offline(ec_public, "ECDSA_SHA_256", v.sign(ec_meta.key_id, "ECDSA_SHA_256", big), big),
          "vaultd's ECDSA signature of a 4096-byte RAW message does not verify offline")
    expect_error(lambda: v.sign(ec_meta.key_id, "ECDSA_SHA_256", big + b"x"), INVALID, "ValidationException",
                 "Sign of a 4097-byte RAW message")
    expect_error(lambda: v.sign(rsa_meta.key_id, "RSASSA_PSS_SHA_384", os.urandom(32), "DIGEST"), INVALID,
                 "ValidationException", "Sign RSASSA_PSS_SHA_384 DIGEST of a 32-byte digest")
    summary.append("Sign RAW of 4096 bytes -> OK, 4097 -> ValidationException; "
                   "DIGEST of the wrong length -> ValidationException")

    # Python's own key pairs, imported into EXTERNAL SIGN_VERIFY keys: Python signs, vaultd verifies.
    imports = [
        ("RSA_2048", rsa.generate_private_key(public_exponent=65537, key_size=2048),
         "RSA_AES_KEY_WRAP_SHA_256", "RSA_2048", RSA_SIGNING),
        ("ECC_NIST_P256", ec.generate_private_key(ec.SECP256R1()),
         "RSA_AES_KEY_WRAP_SHA_256", "RSA_3072", ["ECDSA_SHA_256"]),
    ]
    for spec, private, wrapping, wrapping_spec, algorithms in imports:
        meta = v.create_key(spec, "SIGN_VERIFY", "EXTERNAL")
        v.import_material(meta.key_id, pkcs8(private), wrapping, wrapping_spec)
        _, public = v.public_key(meta.key_id)
        check(same_public_key(public, private.public_key()),
              f"GetPublicKey of the imported {spec} key is not Python's public key")
        for algorithm in algorithms:
            hash_class = SIGNING[algorithm][1]
            hashed = digest(hash_class, message)
            sig = sign_offline(private, algorithm, message)
            v.verify(meta.key_id, algorithm, message, sig, "RAW", "(Python's signature)")
            v.verify(meta.key_id, algorithm, hashed, sig, "DIGEST", "(Python's signature)")
            v.verify_rejects(meta.key_id, algorithm, message, tamper(sig), "RAW", "(Python's)")
            prehashed_sig = sign_offline(private, algorithm, hashed, prehashed=True)
            v.verify(meta.key_id, algorithm, hashed, prehashed_sig, "DIGEST", "(Python's Prehashed signature)")
            v.verify(meta.key_id, algorithm, message, prehashed_sig, "RAW", "(Python's Prehashed signature)")
            v.verify_rejects(meta.key_id, algorithm, hashed, tamper(prehashed_sig), "DIGEST", "(Python's)")
            check(verifies_offline(private.public_key(), algorithm, v.sign(meta.key_id, algorithm, message), message),
                  f"vaultd's {algorithm} signature with the imported key does not verify with Python's public key")
        summary.append(f"{spec} key pair from Python imported ({wrapping}, wrapping key {wrapping_spec}): "
                       f"{len(algorithms)} algorithm(s) x RAW/DIGEST Python signatures pass vaultd Verify, "
                       "tampered ones fail; vaultd's signatures verify with Python's key")
    return summary


def hmac_keys(v):
    pb2, summary = v.pb2, []
    message = b"mac me \x00 " + os.urandom(300)

    meta = v.create_key("HMAC_256", "GENERATE_VERIFY_MAC", "EXTERNAL")
    check(list(meta.mac_algorithms) == [pb2.MAC_ALGORITHM_SPEC_HMAC_SHA_256],
          f"CreateKey HMAC_256: mac_algorithms {list(meta.mac_algorithms)}")
    material = os.urandom(48)
    v.import_material(meta.key_id, material, "RSAES_OAEP_SHA_1")
    alg = pb2.MAC_ALGORITHM_SPEC_HMAC_SHA_256
    expected = hmac.new(material, message, hashlib.sha256).digest()
    got = v.kms.GenerateMac(pb2.GenerateMacRequest(key_id=meta.key_id, message=message, mac_algorithm=alg),
                            timeout=TIMEOUT)
    check(got.mac == expected, f"GenerateMac HMAC_SHA_256 with imported material: {got.mac.hex()}, "
                               f"Python: {expected.hex()}")
    check(got.mac_algorithm == alg, f"GenerateMac: response names {got.mac_algorithm}")
    ok = v.kms.VerifyMac(pb2.VerifyMacRequest(key_id=meta.key_id, message=message, mac_algorithm=alg, mac=expected),
                         timeout=TIMEOUT)
    check(ok.mac_valid, "VerifyMac of Python's HMAC-SHA-256: mac_valid is false")
    expect_error(lambda: v.kms.VerifyMac(pb2.VerifyMacRequest(
        key_id=meta.key_id, message=message, mac_algorithm=alg, mac=tamper(expected)), timeout=TIMEOUT),
        INVALID, "KMSInvalidMacException", "VerifyMac of a wrong MAC")
    summary.append("HMAC_256 with 48 bytes of imported material (RSAES_OAEP_SHA_1): GenerateMac == Python's "
                   "HMAC; VerifyMac accepts Python's, wrong MAC -> KMSInvalidMacException")

    for bits in (224, 256, 384, 512):
        meta = v.create_key(f"HMAC_{bits}", "GENERATE_VERIFY_MAC")
        alg = v.enum("MAC_ALGORITHM_SPEC", f"HMAC_SHA_{bits}")
        mac = v.kms.GenerateMac(pb2.GenerateMacRequest(key_id=meta.key_id, message=message, mac_algorithm=alg),
                                timeout=TIMEOUT).mac
        check(len(mac) == bits // 8, f"GenerateMac HMAC_SHA_{bits}: {len(mac)}-byte MAC")
        ok = v.kms.VerifyMac(pb2.VerifyMacRequest(key_id=meta.key_id, message=message, mac_algorithm=alg, mac=mac),
                             timeout=TIMEOUT)
        check(ok.mac_valid, f"VerifyMac HMAC_SHA_{bits} of GenerateMac's MAC: mac_valid is false")
        expect_error(lambda: v.kms.VerifyMac(pb2.VerifyMacRequest(
            key_id=meta.key_id, message=message + b"!", mac_algorithm=alg, mac=mac), timeout=TIMEOUT),
            INVALID, "KMSInvalidMacException", f"VerifyMac HMAC_SHA_{bits} over another message")
    summary.append("generated HMAC_224/256/384/512 keys: GenerateMac -> VerifyMac round trip; "
                   "other message -> KMSInvalidMacException")
    return summary


def key_agreement(v):
    pb2 = v.pb2
    meta = v.create_key("ECC_NIST_P256", "KEY_AGREEMENT")
    check(list(meta.key_agreement_algorithms) == [pb2.KEY_AGREEMENT_ALGORITHM_SPEC_ECDH],
          f"CreateKey ECC_NIST_P256 KEY_AGREEMENT: key_agreement_algorithms {list(meta.key_agreement_algorithms)}")
    _, public = v.public_key(meta.key_id)
    check(isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, ec.SECP256R1),
          "GetPublicKey of the KEY_AGREEMENT key: not a P-256 key")
    for _ in range(2):
        peer = ec.generate_private_key(ec.SECP256R1())
        expected = peer.exchange(ec.ECDH(), public)
        resp = v.kms.DeriveSharedSecret(pb2.DeriveSharedSecretRequest(
            key_id=meta.key_id, key_agreement_algorithm=pb2.KEY_AGREEMENT_ALGORITHM_SPEC_ECDH,
            public_key=spki(peer.public_key())), timeout=TIMEOUT)
        check(resp.shared_secret == expected,
              f"DeriveSharedSecret: {resp.shared_secret.hex()}, Python's ECDH: {expected.hex()}")
        check(resp.key_agreement_algorithm == pb2.KEY_AGREEMENT_ALGORITHM_SPEC_ECDH
              and resp.key_origin == pb2.ORIGIN_TYPE_AWS_KMS,
              f"DeriveSharedSecret: algorithm {resp.key_agreement_algorithm}, origin {resp.key_origin}")
    return ["DeriveSharedSecret ECDH (P-256) with two offline peers == Python's 32-byte ECDH x-coordinate"]


def imported_symmetric(v):
    pb2, summary = v.pb2, []
    context = {"app": "interop", "tenant": "7"}
    valid_to = timestamp_pb2.Timestamp(
        seconds=int(datetime.datetime.now(datetime.timezone.utc).timestamp()) + 30 * 86400)
    keys = []
    for wrapping, expiry in [("RSAES_OAEP_SHA_256", valid_to), ("RSA_AES_KEY_WRAP_SHA_1", None)]:
        meta = v.create_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "EXTERNAL")
        material = os.urandom(32)
        resp = v.import_material(meta.key_id, material, wrapping, valid_to=expiry)
        check(resp.key_material_id == "1", f"ImportKeyMaterial ({wrapping}): key_material_id "
                                           f"{resp.key_material_id!r}, want '1'")
        described = v.describe(meta.key_id)
        if expiry is None:
            check(described.expiration_model == pb2.EXPIRATION_MODEL_TYPE_KEY_MATERIAL_DOES_NOT_EXPIRE,
                  f"DescribeKey after import without valid_to: expiration_model {described.expiration_model}")
        else:
            check(described.expiration_model == pb2.EXPIRATION_MODEL_TYPE_KEY_MATERIAL_EXPIRES
                  and described.valid_to.seconds == expiry.seconds,
                  f"DescribeKey after import with valid_to: {described.expiration_model} {described.valid_to}")
        plaintext = f"sealed by Python for {wrapping}".encode()
        blob = seal_blob(material, meta.key_id, 1, context, plaintext)
        for key_id in ("", meta.key_id):
            dec = v.kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=blob, encryption_context=context, key_id=key_id),
                                timeout=TIMEOUT)
            check(dec.plaintext == plaintext, f"Decrypt of Python's §1 blob ({wrapping} import): other plaintext")
        enc = v.kms.Encrypt(pb2.EncryptRequest(key_id=meta.key_id, plaintext=b"sealed by vaultd",
                                               encryption_context=context), timeout=TIMEOUT)
        got = open_blob(material, enc.ciphertext_blob, context)
        check(got == (meta.key_id, 1, b"sealed by vaultd"), f"vaultd's blob opened in Python: {got}")
        summary.append(f"SYMMETRIC_DEFAULT with 32 bytes imported ({wrapping}, "
                       f"{'valid_to +30 d' if expiry else 'no expiry'}): Python's §1 blob -> vaultd Decrypt; "
                       "vaultd's Encrypt blob -> Python decrypts")
        keys.append((meta.key_id, material, blob, enc.ciphertext_blob, plaintext))

    key_id, material, py_blob, vaultd_blob, plaintext = keys[0]
    v.kms.DeleteImportedKeyMaterial(pb2.DeleteImportedKeyMaterialRequest(key_id=key_id), timeout=TIMEOUT)
    meta = v.describe(key_id)
    check(meta.key_state == pb2.KEY_STATE_PENDING_IMPORT and not meta.enabled,
          f"after DeleteImportedKeyMaterial: state {pb2.KeyState.Name(meta.key_state)}, want PENDING_IMPORT")
    expect_error(lambda: v.kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=py_blob, encryption_context=context),
                                       timeout=TIMEOUT),
                 PRECONDITION, "KMSInvalidStateException", "Decrypt after DeleteImportedKeyMaterial")
    v.import_material(key_id, os.urandom(32), "RSAES_OAEP_SHA_256", expect_reason="IncorrectKeyMaterialException")
    v.import_material(key_id, material, "RSAES_OAEP_SHA_1")
    for blob, want, what in [(py_blob, plaintext, "Python's"), (vaultd_blob, b"sealed by vaultd", "vaultd's")]:
        dec = v.kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=blob, encryption_context=context), timeout=TIMEOUT)
        check(dec.plaintext == want, f"Decrypt of {what} blob after re-import: other plaintext")
    summary.append("DeleteImportedKeyMaterial -> PENDING_IMPORT, Decrypt -> KMSInvalidStateException; other "
                   "material -> IncorrectKeyMaterialException; the same material again -> old blobs decrypt")
    return summary


def data_key_pairs(v):
    pb2, summary = v.pb2, []
    key_id = v.create_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT").key_id
    context = {"purpose": "data-key-pair"}
    message = b"signed with a data key pair"
    for spec in ("ECC_NIST_P256", "RSA_2048"):
        enum = v.enum("DATA_KEY_PAIR_SPEC", spec)
        pair = v.kms.GenerateDataKeyPair(pb2.GenerateDataKeyPairRequest(
            key_id=key_id, key_pair_spec=enum, encryption_context=context), timeout=TIMEOUT)
        check(pair.key_pair_spec == enum, f"GenerateDataKeyPair {spec}: key_pair_spec {pair.key_pair_spec}")
        try:
            private = serialization.load_der_private_key(pair.private_key_plaintext, password=None)
            public = serialization.load_der_public_key(pair.public_key)
        except ValueError as e:
            raise CheckFailed(f"GenerateDataKeyPair {spec}: PKCS#8 / SPKI do not load: {e}")
        if spec == "ECC_NIST_P256":
            check(isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1),
                  "GenerateDataKeyPair ECC_NIST_P256: not a P-256 private key")
            algorithm = "ECDSA_SHA_256"
        else:
            check(isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048,
                  "GenerateDataKeyPair RSA_2048: not an RSA-2048 private key")
            algorithm = "RSASSA_PSS_SHA_256"
        check(same_public_key(private.public_key(), public),
              f"GenerateDataKeyPair {spec}: public_key is not the private key's")
        check(spki(private.public_key()) == pair.public_key,
              f"GenerateDataKeyPair {spec}: public_key is not the DER SPKI that Python makes of the same key "
              f"(got {pair.public_key.hex()})")
        check(verifies_offline(public, algorithm, sign_offline(private, algorithm, message), message),
              f"GenerateDataKeyPair {spec}: a signature by the private key does not verify with public_key")
        dec = v.kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=pair.private_key_ciphertext_blob,
                                               encryption_context=context), timeout=TIMEOUT)
        check(dec.plaintext == pair.private_key_plaintext,
              f"GenerateDataKeyPair {spec}: private_key_ciphertext_blob decrypts to other bytes")
        expect_error(lambda: v.kms.Decrypt(pb2.DecryptRequest(
            ciphertext_blob=pair.private_key_ciphertext_blob, encryption_context={}), timeout=TIMEOUT),
            INVALID, "InvalidCiphertextException", f"Decrypt of the {spec} private key without its context")
        summary.append(f"GenerateDataKeyPair {spec}: PKCS#8 and SPKI load and match, {algorithm} by Python "
                       "verifies with public_key, the wrapped private key decrypts to the same PKCS#8")

    bare = v.kms.GenerateDataKeyPairWithoutPlaintext(pb2.GenerateDataKeyPairWithoutPlaintextRequest(
        key_id=key_id, key_pair_spec=pb2.DATA_KEY_PAIR_SPEC_ECC_NIST_P256, encryption_context=context),
        timeout=TIMEOUT)
    dec = v.kms.Decrypt(pb2.DecryptRequest(ciphertext_blob=bare.private_key_ciphertext_blob,
                                           encryption_context=context), timeout=TIMEOUT)
    private = serialization.load_der_private_key(dec.plaintext, password=None)
    check(spki(private.public_key()) == bare.public_key,
          "GenerateDataKeyPairWithoutPlaintext: the decrypted PKCS#8 does not match public_key")
    summary.append("GenerateDataKeyPairWithoutPlaintext ECC_NIST_P256: Decrypt of the blob -> PKCS#8 of public_key")
    return summary


def run(modules, endpoint, access_key_id, secret):
    pb2, pb2_grpc = modules["key_management"]
    check_blob_test_vector()
    summary = ["crypto.md §1 blob test vector reproduced with cryptography's HKDF and AES-GCM"]
    raw_channel = connect(endpoint)
    v = Vaultd(pb2, pb2_grpc.KeyManagementStub(
        grpc.intercept_channel(raw_channel, SigningInterceptor(access_key_id, secret))))
    failures = []
    # Each part stops at its first failed check; the others still run, so that one failure hides no other.
    for part in (rsa_encryption, signing, hmac_keys, key_agreement, imported_symmetric, data_key_pairs):
        started = datetime.datetime.now()
        try:
            lines = part(v)
        except (CheckFailed, grpc.RpcError) as failure:
            failures.append(f"{part.__name__}: {describe_failure(failure)}")
            continue
        seconds = (datetime.datetime.now() - started).total_seconds()
        summary.append(f"{part.__name__} ({seconds:.1f} s):")
        summary.extend("  " + line for line in lines)
    raw_channel.close()
    if failures:
        print("passed:\n  " + "\n  ".join(summary))
        raise CheckFailed(f"{len(failures)} of 6 parts failed:\n  " + "\n  ".join(failures))
    return summary


if __name__ == "__main__":
    sys.exit(main(run, "python asymmetric interop"))
