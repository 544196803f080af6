"""The AWS endpoint over TLS, with boto3: AWS_ENDPOINT_URL is https://localhost:PORT and
AWS_CA_BUNDLE the test CA. A client that trusts only that CA works (KMS over awsJson, STS over
awsQuery); one trusting another CA (OTHER_CA_BUNDLE) is refused at the handshake; plain HTTP to
the same port gets no answer."""

import os
import sys

import boto3
import botocore.exceptions
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from awscheck import check, eq, main, ok  # noqa: E402


def run():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    check(endpoint.startswith("https://"), f"expected an https:// endpoint, got {endpoint}")
    no_retries = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                        read_timeout=10)

    kms = boto3.client("kms", config=no_retries)
    eq(kms.meta.endpoint_url, endpoint, "the client's endpoint")
    key = kms.create_key(Description="over TLS")["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"sealed twice")["CiphertextBlob"]
    eq(kms.decrypt(CiphertextBlob=blob)["Plaintext"], b"sealed twice", "Decrypt over TLS")
    sts = boto3.client("sts", config=no_retries)
    eq(sts.get_caller_identity()["Account"], "000000000000", "GetCallerIdentity over TLS")
    ok("KMS (awsJson) and STS (awsQuery) over TLS, trusting the test CA")

    stranger = boto3.client("kms", config=no_retries, verify=os.environ["OTHER_CA_BUNDLE"])
    try:
        stranger.list_keys()
        check(False, "a client trusting another CA was answered")
    except botocore.exceptions.SSLError:
        pass
    ok("a client trusting another CA is refused at the handshake")

    plain = boto3.client("kms", config=no_retries, endpoint_url=endpoint.replace("https://", "http://"))
    try:
        plain.list_keys()
        check(False, "plain HTTP to the TLS port was answered")
    except (botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError,
            botocore.exceptions.ReadTimeoutError):
        pass
    ok("plain HTTP to the TLS port gets no answer")


if __name__ == "__main__":
    main(run, "the AWS endpoint over TLS")
