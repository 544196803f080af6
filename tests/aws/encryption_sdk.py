#!/usr/bin/env python3
"""The AWS Encryption SDK for Python (4.x) with KMS master key providers, against vaultd's AWS
endpoint. The SDK makes its own boto3 KMS client per region (from the key ARN's region), which picks
up AWS_ENDPOINT_URL like any boto3 client: the script checks that it points at the endpoint before
any request.

- EncryptionSDKClient(REQUIRE_ENCRYPT_REQUIRE_DECRYPT) + StrictAwsKmsMasterKeyProvider([key ARN]):
  encrypt with an encryption context (the SDK calls GenerateDataKey and requires a key ARN back),
  decrypt (the SDK calls Decrypt with KeyId and requires the same ARN back): plaintext and context
  come back; the message header names the key ARN;
- a 1 MiB message, decrypted through the streaming API;
- two keys: the message carries a data key for each (GenerateDataKey + Encrypt), and a provider
  naming only the second key decrypts it;
- DiscoveryAwsKmsMasterKeyProvider with a DiscoveryFilter for account 000000000000 decrypts; one
  for another account does not;
- a provider naming a different key cannot decrypt; a tampered message does not decrypt; while the
  key is disabled, decryption fails, and works again once it is enabled.

Environment: see awscheck.py.
"""

import io
import os
import sys

import aws_encryption_sdk
from aws_encryption_sdk import (
    CommitmentPolicy, DiscoveryAwsKmsMasterKeyProvider, StrictAwsKmsMasterKeyProvider,
)
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from aws_encryption_sdk.key_providers.kms import DiscoveryFilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from awscheck import ACCOUNT, REGION, check, client, endpoint, eq, main, ok, unique  # noqa: E402


def provider_points_at_endpoint(provider, what):
    """Makes the provider's regional client now and fails unless it targets the endpoint under test
    (else the SDK would be talking to AWS itself)."""
    provider.add_regional_client(REGION)
    clients = getattr(provider, "_regional_clients", None)
    check(isinstance(clients, dict) and REGION in clients,
          f"{what}: cannot find the SDK's regional KMS client (aws_encryption_sdk internals changed?)")
    eq(clients[REGION].meta.endpoint_url, endpoint(), f"{what}: the SDK's KMS client endpoint")


def strict(*key_arns):
    provider = StrictAwsKmsMasterKeyProvider(key_ids=list(key_arns))
    provider_points_at_endpoint(provider, "StrictAwsKmsMasterKeyProvider")
    return provider


def fails_to_decrypt(esdk, ciphertext, provider, what):
    try:
        esdk.decrypt(source=ciphertext, key_provider=provider)
    except AWSEncryptionSDKClientError as err:
        return err
    except Exception as err:  # noqa: BLE001 - the SDK lets some lower-level errors through
        return err
    check(False, f"{what}: expected decryption to fail, but it succeeded")
    return None


def edk_key_infos(header):
    return sorted(edk.key_provider.key_info.decode() for edk in header.encrypted_data_keys
                  if edk.key_provider.provider_id == "aws-kms")


def run():
    kms = client("kms")
    key_arn = kms.create_key(Description=unique("vaultd esdk key"))["KeyMetadata"]["Arn"]
    other_arn = kms.create_key(Description=unique("vaultd esdk other key"))["KeyMetadata"]["Arn"]
    check(key_arn.startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/"), f"CreateKey Arn {key_arn!r}")

    esdk = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    provider = strict(key_arn)
    context = {"app": "vaultd-esdk", "tenant": unique("t")}
    plaintext = b"Encryption SDK message \x00\xff" + os.urandom(32)

    ciphertext, header = esdk.encrypt(source=plaintext, key_provider=provider, encryption_context=context)
    check(plaintext not in ciphertext, "the SDK's message contains the plaintext")
    eq(edk_key_infos(header), [key_arn], "the message's encrypted data keys (key_info)")
    for k, v in context.items():
        eq(header.encryption_context.get(k), v, f"the message header's encryption context[{k!r}]")
    decrypted, dheader = esdk.decrypt(source=ciphertext, key_provider=provider)
    eq(decrypted, plaintext, "decrypted plaintext")
    for k, v in context.items():
        eq(dheader.encryption_context.get(k), v, f"the decrypted header's encryption context[{k!r}]")
    ok(f"encrypt / decrypt with StrictAwsKmsMasterKeyProvider([{key_arn}]) and an encryption context "
       f"(suite {header.algorithm.name})")

    big = os.urandom(1 << 20)
    big_ct, _ = esdk.encrypt(source=big, key_provider=provider, encryption_context=context)
    with esdk.stream(mode="d", source=io.BytesIO(big_ct), key_provider=provider) as decryptor:
        streamed = decryptor.read()
    eq(len(streamed), len(big), "1 MiB message: decrypted length")
    check(streamed == big, "1 MiB message: the decrypted bytes differ")
    ok(f"a 1 MiB message ({len(big_ct)} bytes encrypted) decrypts through the streaming API")

    both = strict(key_arn, other_arn)
    two_ct, two_header = esdk.encrypt(source=plaintext, key_provider=both, encryption_context=context)
    eq(edk_key_infos(two_header), sorted([key_arn, other_arn]), "a message for two keys: its data keys")
    eq(esdk.decrypt(source=two_ct, key_provider=strict(other_arn))[0], plaintext,
       "decrypting a two-key message with a provider naming only the second key")
    ok("a message for two keys (GenerateDataKey + Encrypt) decrypts with the second key alone")

    discovery = DiscoveryAwsKmsMasterKeyProvider(
        discovery_filter=DiscoveryFilter(account_ids=[ACCOUNT], partition="aws"))
    provider_points_at_endpoint(discovery, "DiscoveryAwsKmsMasterKeyProvider")
    eq(esdk.decrypt(source=ciphertext, key_provider=discovery)[0], plaintext,
       f"decrypting with a DiscoveryAwsKmsMasterKeyProvider for account {ACCOUNT}")
    elsewhere = DiscoveryAwsKmsMasterKeyProvider(
        discovery_filter=DiscoveryFilter(account_ids=["111122223333"], partition="aws"))
    fails_to_decrypt(esdk, ciphertext, elsewhere, "a discovery provider for another account")
    ok("DiscoveryAwsKmsMasterKeyProvider: decrypts for account 000000000000, not for another account")

    err = fails_to_decrypt(esdk, ciphertext, strict(other_arn), "a provider naming a different key")
    ok(f"a provider naming a different key cannot decrypt ({type(err).__name__})")

    tampered = bytearray(ciphertext)
    tampered[len(tampered) // 2] ^= 0x01
    err = fails_to_decrypt(esdk, bytes(tampered), provider, "a tampered message")
    ok(f"a tampered message does not decrypt ({type(err).__name__})")

    kms.disable_key(KeyId=key_arn)
    try:
        err = fails_to_decrypt(esdk, ciphertext, strict(key_arn), "decrypting while the key is disabled")
    finally:
        kms.enable_key(KeyId=key_arn)
    eq(esdk.decrypt(source=ciphertext, key_provider=strict(key_arn))[0], plaintext,
       "decrypting once the key is enabled again")
    ok(f"while the key is disabled decryption fails ({type(err).__name__}); enabled again, it works")


if __name__ == "__main__":
    main(run, "AWS Encryption SDK with KMS master key providers")
