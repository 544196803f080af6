#!/usr/bin/env python3
"""Computes the fixed test vector of field-level encryption (design/crypto.md section 4) with
pyca/cryptography, independently of vaultd's Rust code, and prints the encrypted document that
`src/crypto/fields.rs` (test `matches_the_fixed_vector_and_decrypts`) must produce byte for byte.

    python3 -m venv /tmp/fv && /tmp/fv/bin/pip install cryptography==50.0.2
    /tmp/fv/bin/python tests/interop/fields_vector.py

Fixed inputs: data key = bytes 0..31; deterministic key material = bytes 0x20..0x3f, version 3;
the n-th random-mode value (in sorted path order, counting from 0) uses iv = bytes 0x40..0x4a
followed by 0x4b + n. Canonical JSON (RFC 8785) is computed with
`json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, which equals JCS for the
values used here (ASCII member names, no control characters, numbers Python and ECMAScript print
alike).
"""

import base64
import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DATA_KEY = bytes(range(32))
MATERIAL = bytes(range(0x20, 0x40))
MATERIAL_VERSION = 3
KEY_ARN = "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
WRAPPED_DK = bytes(range(0x80, 0x98))
CONTEXT = {"tenant": "42", "app": "billing"}
DOCUMENT = (
    '{"name":"Ada Lovelace","ssn":"078-05-1120","amount":1234.5,'
    '"address":{"zip":"W1","city":"London"},"tags":["a",1,true,null],'
    '"phones":["+44 20 7946 0000","+44 20 7946 0001"],"x/y":true,"spouse":null,'
    '"email":"ada@example.com"}'
)
# path -> deterministic?
FIELDS = {
    "/ssn": False,
    "/amount": False,
    "/address": False,
    "/tags": False,
    "/phones/1": False,
    "/x~1y": False,
    "/spouse": False,
    "/email": True,
}


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hkdf(ikm, info, length=32):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def canonical_context(context):
    """crypto.md section 1: u16 count, then pairs sorted by key bytes, u16 len || bytes each."""
    out = struct.pack(">H", len(context))
    for key in sorted(context, key=lambda k: k.encode()):
        for part in (key.encode(), context[key].encode()):
            out += struct.pack(">H", len(part)) + part
    return out


def json_type(value):
    if isinstance(value, str):
        return 1
    if isinstance(value, bool):  # before int: bool is an int in Python
        return 3
    if isinstance(value, (int, float)):
        return 2
    if value is None:
        return 4
    if isinstance(value, dict):
        return 5
    if isinstance(value, list):
        return 6
    raise TypeError(type(value))


def plaintext(value):
    return value.encode() if isinstance(value, str) else canonical(value).encode()


def tokens(path):
    assert path.startswith("/")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def parent_and_key(document, path):
    *parents, last = tokens(path)
    node = document
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node, (int(last) if isinstance(node, list) else last)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    document = json.loads(DOCUMENT)
    context_hash = hashlib.sha256(canonical_context(CONTEXT)).digest()
    k_random = AESGCM(hkdf(DATA_KEY, b"vaultd/v1/fle/rnd"))

    paths = sorted(FIELDS, key=lambda p: p.encode())
    encrypted = []
    random_count = 0
    for path in paths:
        parent, key = parent_and_key(document, path)
        value = parent[key]
        ty = json_type(value)
        pt = plaintext(value)
        if FIELDS[path]:
            okm = hkdf(MATERIAL, b"vaultd/v1/fle/det" + path.encode(), 64)
            k_enc, k_siv = okm[:32], okm[32:]
            aad = b"vfe1" + bytes([0x02, ty]) + path.encode()
            iv = hmac.new(k_siv, aad + pt, hashlib.sha256).digest()[:12]
            body = bytes([0x02, ty]) + struct.pack(">I", MATERIAL_VERSION) + iv
            body += AESGCM(k_enc).encrypt(iv, pt, aad)
        else:
            iv = bytes(range(0x40, 0x4B)) + bytes([0x4B + random_count])
            random_count += 1
            aad = b"vfe1" + bytes([0x01, ty]) + path.encode() + context_hash
            body = bytes([0x01, ty]) + iv + k_random.encrypt(iv, pt, aad)
        string = "vfe1:" + b64url(body)
        parent[key] = string
        encrypted.append((path, string))

    meta = {
        "v": 1,
        "key": KEY_ARN,
        "wrap": "kms",
        "dk": base64.b64encode(WRAPPED_DK).decode(),
        "ctx": {k: CONTEXT[k] for k in sorted(CONTEXT, key=lambda k: k.encode())},
        "paths": paths,
    }
    message = canonical(meta).encode()
    for path, string in encrypted:
        for part in (path.encode(), string.encode()):
            message += struct.pack(">I", len(part)) + part
    mac_key = hkdf(DATA_KEY, b"vaultd/v1/fle/mac")
    meta["mac"] = base64.b64encode(hmac.new(mac_key, message, hashlib.sha256).digest()).decode()
    document["_vfe"] = meta
    print(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


if __name__ == "__main__":
    main()
