#!/usr/bin/env python3
"""boto3's STS and IAM clients (awsQuery: form POST, XML answers) against vaultd's AWS endpoint, and
SigV4 as AWS checks it, asserting what boto3 returns against real AWS:

- STS GetCallerIdentity as root (account 000000000000, arn:aws:iam::000000000000:user/root);
- IAM CreateUser (EntityAlreadyExists 409 on a second try, NoSuchEntity 404 for a missing user),
  PutUserPolicy / GetUserPolicy (the document comes back as JSON, decoded by botocore),
  CreateAccessKey (AKIA..., Active), ListAccessKeys;
- with the user's keys: the allowed KMS calls work, kms:Decrypt (not allowed) and ssm:GetParameter
  on /prod/* (explicitly denied) give AccessDeniedException, another parameter is readable;
  GetCallerIdentity names the user;
- STS GetSessionToken(DurationSeconds=900): ASIA... credentials expiring in 15 minutes; calls with
  the session token work and are limited by the user's policy; GetCallerIdentity names the user;
  GetSessionToken with session credentials -> AccessDenied (403);
- signatures: a wrong secret -> InvalidSignatureException (KMS, 400) / SignatureDoesNotMatch (STS,
  403); an unknown access key id -> UnrecognizedClientException (KMS, 400) / InvalidClientTokenId
  (STS, 403); a bogus session token -> UnrecognizedClientException (KMS); no signature ->
  MissingAuthenticationTokenException (KMS) / MissingAuthenticationToken (STS, 403); a request
  dated 10 minutes in the past -> InvalidSignatureException "Signature expired", 10 minutes in the
  future -> InvalidSignatureException "Signature not yet current".

Environment: see awscheck.py (root credentials).
"""

import datetime
import json
import os
import random
import string
import sys
import time

import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from awscheck import (  # noqa: E402
    ACCOUNT, CONFIG, check, client, eq, expect_error, main, ok, recent, request_id, skewed_clock,
    unique,
)


def user_arn(name):
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def policy_for(key_prefix_arn):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
             "Resource": key_prefix_arn},
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "arn:aws:ssm:*:*:parameter/*"},
            {"Effect": "Deny", "Action": "ssm:*", "Resource": "arn:aws:ssm:*:*:parameter/prod/*"},
        ],
    }


def clients_for(access_key_id, secret, session_token=None):
    kwargs = {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret}
    if session_token is not None:
        kwargs["aws_session_token"] = session_token
    return {service: client(service, **kwargs) for service in ("kms", "ssm", "sts")}


def root_identity(sts):
    who = sts.get_caller_identity()
    request_id(who)
    eq(who["Account"], ACCOUNT, "GetCallerIdentity Account (root)")
    eq(who["Arn"], user_arn("root"), "GetCallerIdentity Arn (root)")
    check(who.get("UserId"), f"GetCallerIdentity: no UserId in {who!r}")
    ok(f"STS GetCallerIdentity as root: {who['Arn']} in account {who['Account']}")


def create_user(iam, name, policy):
    created = iam.create_user(UserName=name)["User"]
    eq(created["UserName"], name, "CreateUser UserName")
    eq(created["Arn"], user_arn(name), "CreateUser Arn")
    eq(created.get("Path"), "/", "CreateUser Path")
    check(str(created.get("UserId", "")).startswith("AIDA"),
          f"CreateUser UserId: expected AIDA..., got {created.get('UserId')!r}")
    recent(created.get("CreateDate"), "CreateUser CreateDate")
    fetched = iam.get_user(UserName=name)["User"]
    eq((fetched["Arn"], fetched["UserId"]), (created["Arn"], created["UserId"]), "GetUser (Arn, UserId)")
    expect_error(lambda: iam.create_user(UserName=name), "EntityAlreadyExists",
                 "CreateUser with a name in use", status=409)
    expect_error(lambda: iam.get_user(UserName=unique("nobody")), "NoSuchEntity",
                 "GetUser of a user that does not exist", status=404)
    ok(f"IAM CreateUser {created['Arn']} ({created['UserId']}); EntityAlreadyExists (409), NoSuchEntity (404)")

    iam.put_user_policy(UserName=name, PolicyName="app", PolicyDocument=json.dumps(policy))
    got = iam.get_user_policy(UserName=name, PolicyName="app")
    eq((got["UserName"], got["PolicyName"]), (name, "app"), "GetUserPolicy (UserName, PolicyName)")
    # IAM returns the document URL-encoded; botocore decodes it into a dict.
    eq(got["PolicyDocument"], policy, "GetUserPolicy PolicyDocument")
    eq(iam.list_user_policies(UserName=name)["PolicyNames"], ["app"], "ListUserPolicies")
    ok("IAM PutUserPolicy / GetUserPolicy / ListUserPolicies")

    key = iam.create_access_key(UserName=name)["AccessKey"]
    eq(key["UserName"], name, "CreateAccessKey UserName")
    eq(key["Status"], "Active", "CreateAccessKey Status")
    check(key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20,
          f"CreateAccessKey AccessKeyId: expected AKIA + 16 characters, got {key['AccessKeyId']!r}")
    check(len(key["SecretAccessKey"]) == 40, "CreateAccessKey SecretAccessKey: expected 40 characters, "
                                             f"got {len(key['SecretAccessKey'])}")
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    eq([(k["AccessKeyId"], k["Status"]) for k in listed], [(key["AccessKeyId"], "Active")], "ListAccessKeys")
    check(all("SecretAccessKey" not in k for k in listed), "ListAccessKeys shows a SecretAccessKey")
    ok(f"IAM CreateAccessKey {key['AccessKeyId']} (Active), ListAccessKeys without the secret")
    return created, key


def wait_usable(sts, what):
    """IAM is eventually consistent in AWS: a new access key may be refused for a few seconds."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return sts.get_caller_identity()
        except ClientError as err:
            if err.response["Error"]["Code"] != "InvalidClientTokenId" or time.monotonic() > deadline:
                raise
            print(f"(waiting for {what} to be usable)", flush=True)
            time.sleep(1)


def user_calls(clients, user, key_id, allowed_parameter, what):
    kms, ssm, sts = clients["kms"], clients["ssm"], clients["sts"]
    who = wait_usable(sts, what)
    eq((who["Arn"], who["Account"], who["UserId"]), (user["Arn"], ACCOUNT, user["UserId"]),
       f"GetCallerIdentity with {what} (Arn, Account, UserId)")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"app data")["CiphertextBlob"]
    eq(len(kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]), 32,
       f"GenerateDataKey with {what}")
    err = expect_error(lambda: kms.decrypt(CiphertextBlob=blob), "AccessDeniedException",
                       f"kms:Decrypt (not allowed) with {what}", status=400)
    if err is not None:
        message = err.response["Error"].get("Message", "")
        check("kms:Decrypt" in message,
              f"AccessDeniedException for kms:Decrypt should name the action, got {message!r}")
    expect_error(lambda: ssm.get_parameter(Name="/prod/x"), "AccessDeniedException",
                 f"ssm:GetParameter on /prod/x (explicitly denied) with {what}", status=400)
    eq(ssm.get_parameter(Name=allowed_parameter)["Parameter"]["Value"], "readable",
       f"ssm:GetParameter on {allowed_parameter} (allowed) with {what}")
    ok(f"{what}: GetCallerIdentity names the user; Encrypt / GenerateDataKey allowed; Decrypt and "
       "/prod/* -> AccessDeniedException; other parameters readable")
    return blob


def session(user_clients, user, key_id, allowed_parameter):
    before = datetime.datetime.now(datetime.timezone.utc)
    creds = user_clients["sts"].get_session_token(DurationSeconds=900)["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20,
          f"GetSessionToken AccessKeyId: expected ASIA + 16 characters, got {creds['AccessKeyId']!r}")
    check(creds.get("SecretAccessKey") and creds.get("SessionToken"),
          f"GetSessionToken: missing SecretAccessKey or SessionToken in {sorted(creds)}")
    expiration = creds["Expiration"]
    check(isinstance(expiration, datetime.datetime), f"GetSessionToken Expiration: got {expiration!r}")
    lifetime = (expiration - before).total_seconds()
    check(840 <= lifetime <= 960, f"GetSessionToken(DurationSeconds=900) Expiration is {lifetime:.0f} s "
                                  "away, expected about 900")
    ok(f"STS GetSessionToken(900): {creds['AccessKeyId']}, expiring in {lifetime:.0f} s")

    session_clients = clients_for(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    user_calls(session_clients, user, key_id, allowed_parameter, "session credentials")
    expect_error(lambda: session_clients["sts"].get_session_token(DurationSeconds=900), "AccessDenied",
                 "GetSessionToken called with session credentials", status=403)
    ok("GetSessionToken with session credentials -> AccessDenied (403)")

    bogus = clients_for(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"][:-8] + "AAAAAAAA")
    expect_error(lambda: bogus["kms"].list_keys(), "UnrecognizedClientException",
                 "KMS call with a tampered session token", status=400)
    ok("a tampered session token -> UnrecognizedClientException (KMS)")


def bad_signatures(root_key_id, root_secret):
    wrong = clients_for(root_key_id, root_secret[:-4] + ("AAAA" if not root_secret.endswith("AAAA") else "BBBB"))
    expect_error(lambda: wrong["kms"].list_keys(), "InvalidSignatureException",
                 "KMS call signed with a wrong secret", status=400, message_contains="signature")
    expect_error(lambda: wrong["sts"].get_caller_identity(), "SignatureDoesNotMatch",
                 "STS call signed with a wrong secret", status=403, message_contains="signature")
    ok("a wrong secret -> InvalidSignatureException (KMS, 400) / SignatureDoesNotMatch (STS, 403)")

    unknown_id = "AKIA" + "".join(random.choice(string.ascii_uppercase + "234567") for _ in range(16))
    unknown = clients_for(unknown_id, root_secret)
    expect_error(lambda: unknown["kms"].list_keys(), "UnrecognizedClientException",
                 "KMS call with an unknown access key id", status=400)
    expect_error(lambda: unknown["sts"].get_caller_identity(), "InvalidClientTokenId",
                 "STS call with an unknown access key id", status=403)
    ok("an unknown access key id -> UnrecognizedClientException (KMS, 400) / InvalidClientTokenId (STS, 403)")

    unsigned = Config(signature_version=botocore.UNSIGNED).merge(CONFIG)
    expect_error(lambda: client("kms", config=unsigned).list_keys(), "MissingAuthenticationTokenException",
                 "KMS call without a signature")
    expect_error(lambda: client("sts", config=unsigned).get_caller_identity(), "MissingAuthenticationToken",
                 "STS call without a signature", status=403)
    ok("no signature -> MissingAuthenticationTokenException (KMS) / MissingAuthenticationToken (STS, 403)")

    with skewed_clock(datetime.timedelta(minutes=-10)):
        kms = client("kms", aws_access_key_id=root_key_id, aws_secret_access_key=root_secret)
        expect_error(lambda: kms.list_keys(), "InvalidSignatureException",
                     "KMS call dated 10 minutes ago", status=400, message_contains="Signature expired")
    with skewed_clock(datetime.timedelta(minutes=10)):
        kms = client("kms", aws_access_key_id=root_key_id, aws_secret_access_key=root_secret)
        expect_error(lambda: kms.list_keys(), "InvalidSignatureException",
                     "KMS call dated 10 minutes ahead", status=400, message_contains="Signature not yet current")
    with skewed_clock(datetime.timedelta(minutes=2)):
        kms = client("kms", aws_access_key_id=root_key_id, aws_secret_access_key=root_secret)
        kms.list_keys(Limit=1)
    ok("dated 10 minutes off -> InvalidSignatureException 'Signature expired' / 'Signature not yet "
       "current'; 2 minutes off is accepted")


def run():
    root_key_id = os.environ["AWS_ACCESS_KEY_ID"]
    root_secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    sts, iam, kms, ssm = client("sts"), client("iam"), client("kms"), client("ssm")
    root_identity(sts)

    key_id = kms.create_key(Description=unique("vaultd boto3 app key"))["KeyMetadata"]["KeyId"]
    base = unique("vaultd-aws-tests")
    allowed_parameter = f"/{base}/app-setting"
    ssm.put_parameter(Name=allowed_parameter, Value="readable", Type="String")
    ssm.put_parameter(Name=f"/prod/{base}", Value="prod only", Type="String")

    name = unique("vaultd-app")
    user, access_key = create_user(iam, name, policy_for("arn:aws:kms:*:*:key/*"))
    user_clients = clients_for(access_key["AccessKeyId"], access_key["SecretAccessKey"])
    user_calls(user_clients, user, key_id, allowed_parameter, "the user's access key")
    expect_error(lambda: user_clients["ssm"].get_parameter(Name=f"/prod/{base}"), "AccessDeniedException",
                 "ssm:GetParameter on an existing /prod/ parameter with the user's access key")
    session(user_clients, user, key_id, allowed_parameter)
    bad_signatures(root_key_id, root_secret)


if __name__ == "__main__":
    main(run, "boto3 STS / IAM and SigV4")
