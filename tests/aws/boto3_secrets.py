#!/usr/bin/env python3
"""boto3's Secrets Manager client (awsJson1_1, X-Amz-Target: secretsmanager.<Action>) against vaultd's
AWS endpoint, asserting what boto3 returns against real AWS Secrets Manager:

- CreateSecret (SecretString) and its ARN arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX;
  GetSecretValue by name and by ARN (AWSCURRENT);
- PutSecretValue: a new version becomes AWSCURRENT and the old one AWSPREVIOUS; GetSecretValue by
  VersionStage and by VersionId;
- UpdateSecretVersionStage: a custom stage, moved between versions; moving AWSCURRENT back moves
  AWSPREVIOUS along (as AWS does);
- DescribeSecret (VersionIdsToStages, ARN, Description); ListSecrets (name filter, paginator);
- SecretBinary round trip;
- DeleteSecret with a recovery window: GetSecretValue -> InvalidRequestException, DeletedDate,
  ListSecrets hides it unless IncludePlannedDeletion; RestoreSecret makes it readable again;
- DeleteSecret(ForceDeleteWithoutRecovery) -> ResourceNotFoundException afterwards;
- GetSecretValue of a name never created -> ResourceNotFoundException (HTTP 400).

Environment: see awscheck.py.
"""

import datetime
import os
import re
import sys
import time

from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from awscheck import (  # noqa: E402
    ACCOUNT, REGION, check, client, eq, expect_error, main, ok, recent, request_id, unique,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def check_arn(arn, name, what):
    pattern = re.escape(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-") + r"[A-Za-z0-9]{6}"
    check(isinstance(arn, str) and re.fullmatch(pattern, arn),
          f"{what}: expected arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-XXXXXX, got {arn!r}")


def stages(sm, secret_id):
    """VersionIdsToStages with each list sorted."""
    described = sm.describe_secret(SecretId=secret_id)
    return {v: sorted(s) for v, s in described.get("VersionIdsToStages", {}).items()}


def create_and_read(sm, name):
    created = sm.create_secret(Name=name, SecretString="first value", Description="vaultd boto3 secret")
    request_id(created)
    arn = created["ARN"]
    check_arn(arn, name, "CreateSecret ARN")
    eq(created["Name"], name, "CreateSecret Name")
    v1 = created.get("VersionId")
    check(isinstance(v1, str) and UUID_RE.match(v1), f"CreateSecret VersionId: expected a UUID, got {v1!r}")

    for secret_id in (name, arn):
        got = sm.get_secret_value(SecretId=secret_id)
        eq(got["SecretString"], "first value", f"GetSecretValue(SecretId={secret_id!r}) SecretString")
        eq(got["ARN"], arn, "GetSecretValue ARN")
        eq(got["Name"], name, "GetSecretValue Name")
        eq(got["VersionId"], v1, "GetSecretValue VersionId")
        eq(got["VersionStages"], ["AWSCURRENT"], "GetSecretValue VersionStages")
        check("SecretBinary" not in got, f"GetSecretValue of a SecretString secret has a SecretBinary: {got!r}")
        recent(got.get("CreatedDate"), "GetSecretValue CreatedDate")
    ok(f"CreateSecret {arn}; GetSecretValue by name and by ARN returns AWSCURRENT")

    expect_error(lambda: sm.create_secret(Name=name, SecretString="again"), "ResourceExistsException",
                 "CreateSecret with a name in use", status=400)
    ok("CreateSecret with a name in use -> ResourceExistsException")
    return arn, v1


def versions(sm, name, arn, v1):
    put = sm.put_secret_value(SecretId=name, SecretString="second value")
    v2 = put["VersionId"]
    check(UUID_RE.match(v2) and v2 != v1, f"PutSecretValue VersionId: expected a new UUID, got {v2!r}")
    eq(put["ARN"], arn, "PutSecretValue ARN")
    eq(put["Name"], name, "PutSecretValue Name")
    eq(put["VersionStages"], ["AWSCURRENT"], "PutSecretValue VersionStages")

    current = sm.get_secret_value(SecretId=name)
    eq((current["SecretString"], current["VersionId"]), ("second value", v2), "GetSecretValue after PutSecretValue")
    previous = sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")
    eq((previous["SecretString"], previous["VersionId"]), ("first value", v1),
       "GetSecretValue(VersionStage=AWSPREVIOUS)")
    eq(previous["VersionStages"], ["AWSPREVIOUS"], "GetSecretValue(VersionStage=AWSPREVIOUS) VersionStages")
    by_id = sm.get_secret_value(SecretId=name, VersionId=v1)
    eq(by_id["SecretString"], "first value", "GetSecretValue(VersionId=first version)")
    eq(stages(sm, name), {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"]}, "DescribeSecret VersionIdsToStages")
    ok("PutSecretValue: new version AWSCURRENT, old one AWSPREVIOUS; read by VersionStage and VersionId")

    sm.update_secret_version_stage(SecretId=name, VersionStage="CUSTOM", MoveToVersionId=v1)
    eq(sm.get_secret_value(SecretId=name, VersionStage="CUSTOM")["SecretString"], "first value",
       "GetSecretValue(VersionStage=CUSTOM) after attaching CUSTOM to the first version")
    eq(stages(sm, name), {v1: ["AWSPREVIOUS", "CUSTOM"], v2: ["AWSCURRENT"]},
       "VersionIdsToStages after attaching CUSTOM")
    sm.update_secret_version_stage(SecretId=name, VersionStage="CUSTOM", RemoveFromVersionId=v1,
                                   MoveToVersionId=v2)
    eq(sm.get_secret_value(SecretId=name, VersionStage="CUSTOM")["VersionId"], v2,
       "GetSecretValue(VersionStage=CUSTOM) after moving CUSTOM to the second version")
    eq(stages(sm, name), {v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT", "CUSTOM"]},
       "VersionIdsToStages after moving CUSTOM")
    ok("UpdateSecretVersionStage attaches a custom stage and moves it between versions")

    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=v2,
                                   MoveToVersionId=v1)
    eq(sm.get_secret_value(SecretId=name)["SecretString"], "first value",
       "GetSecretValue after moving AWSCURRENT back to the first version")
    eq(stages(sm, name), {v1: ["AWSCURRENT"], v2: ["AWSPREVIOUS", "CUSTOM"]},
       "VersionIdsToStages after moving AWSCURRENT (AWSPREVIOUS follows the version it left)")
    ok("moving AWSCURRENT with UpdateSecretVersionStage moves AWSPREVIOUS to the version it left")

    expect_error(lambda: sm.get_secret_value(SecretId=name, VersionStage="NOSUCHSTAGE"),
                 "ResourceNotFoundException", "GetSecretValue with a stage no version carries")
    ok("GetSecretValue with an unknown stage -> ResourceNotFoundException")


def describe_and_list(sm, name, arn):
    described = sm.describe_secret(SecretId=name)
    eq(described["ARN"], arn, "DescribeSecret ARN")
    eq(described["Name"], name, "DescribeSecret Name")
    eq(described.get("Description"), "vaultd boto3 secret", "DescribeSecret Description")
    recent(described.get("CreatedDate"), "DescribeSecret CreatedDate")
    recent(described.get("LastChangedDate"), "DescribeSecret LastChangedDate")
    check("DeletedDate" not in described, f"DescribeSecret of a live secret has a DeletedDate: {described!r}")
    ok("DescribeSecret: ARN, Name, Description, dates")

    filtered = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    eq([s["Name"] for s in filtered], [name], "ListSecrets(Filters name) names")
    eq(filtered[0]["ARN"], arn, "ListSecrets entry ARN")
    versions_to_stages = {v: sorted(s) for v, s in filtered[0].get("SecretVersionsToStages", {}).items()}
    eq(versions_to_stages, stages(sm, name), "ListSecrets entry SecretVersionsToStages")
    everything = [s["Name"] for page in sm.get_paginator("list_secrets").paginate(
        PaginationConfig={"PageSize": 2}) for s in page["SecretList"]]
    eq(everything.count(name), 1, "ListSecrets paginator (PageSize 2): times our secret is listed")
    ok(f"ListSecrets: by name filter and through the paginator ({len(everything)} secrets)")


def binary(sm, base):
    name = f"{base}/binary"
    data = bytes(range(256)) + os.urandom(32)
    sm.create_secret(Name=name, SecretBinary=data)
    got = sm.get_secret_value(SecretId=name)
    eq(got.get("SecretBinary"), data, "GetSecretValue SecretBinary")
    check("SecretString" not in got, f"GetSecretValue of a SecretBinary secret has a SecretString: {got!r}")
    ok("SecretBinary round trip (all 256 byte values)")
    return name


def delete_restore(sm, name):
    deleted = sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    eq(deleted["Name"], name, "DeleteSecret Name")
    in_7_days = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)
    deletion_date = deleted.get("DeletionDate")
    check(isinstance(deletion_date, datetime.datetime) and abs(deletion_date - in_7_days) < datetime.timedelta(days=1),
          f"DeleteSecret(RecoveryWindowInDays=7) DeletionDate: expected about {in_7_days.isoformat()}, "
          f"got {deletion_date!r}")
    expect_error(lambda: sm.get_secret_value(SecretId=name), "InvalidRequestException",
                 "GetSecretValue of a secret scheduled for deletion", status=400)
    expect_error(lambda: sm.put_secret_value(SecretId=name, SecretString="x"), "InvalidRequestException",
                 "PutSecretValue to a secret scheduled for deletion")
    check("DeletedDate" in sm.describe_secret(SecretId=name),
          "DescribeSecret of a secret scheduled for deletion has no DeletedDate")
    hidden = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]
    eq([s["Name"] for s in hidden], [], "ListSecrets of a secret scheduled for deletion (default)")
    shown = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}], IncludePlannedDeletion=True)["SecretList"]
    eq([s["Name"] for s in shown], [name], "ListSecrets(IncludePlannedDeletion=True)")
    ok("DeleteSecret(RecoveryWindowInDays=7): DeletionDate in 7 days, GetSecretValue -> "
       "InvalidRequestException, DeletedDate, hidden from ListSecrets unless IncludePlannedDeletion")

    restored = sm.restore_secret(SecretId=name)
    eq(restored["Name"], name, "RestoreSecret Name")
    eq(sm.get_secret_value(SecretId=name)["SecretString"], "first value", "GetSecretValue after RestoreSecret")
    check("DeletedDate" not in sm.describe_secret(SecretId=name), "DescribeSecret after RestoreSecret has a DeletedDate")
    ok("RestoreSecret: readable again")


def force_delete(sm, name):
    sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    # AWS deletes asynchronously ("a short delay"): meanwhile the secret reads as marked for deletion.
    deadline = time.monotonic() + 20
    while True:
        try:
            sm.get_secret_value(SecretId=name)
            code = None
        except ClientError as err:
            code = err.response["Error"]["Code"]
        if code != "InvalidRequestException" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect_error(lambda: sm.get_secret_value(SecretId=name), "ResourceNotFoundException",
                 "GetSecretValue after DeleteSecret(ForceDeleteWithoutRecovery=True)", status=400)
    expect_error(lambda: sm.describe_secret(SecretId=name), "ResourceNotFoundException",
                 "DescribeSecret after a forced deletion")
    ok("DeleteSecret(ForceDeleteWithoutRecovery=True): then ResourceNotFoundException")


def missing(sm, base):
    err = expect_error(lambda: sm.get_secret_value(SecretId=f"{base}/never-created"),
                       "ResourceNotFoundException", "GetSecretValue of a name never created", status=400)
    if err is not None:
        request_id(err.response)
    ok("GetSecretValue of a missing secret -> ResourceNotFoundException (HTTP 400)")


def run():
    sm = client("secretsmanager")
    base = unique("vaultd-aws-tests")
    name = f"{base}/app/db-password"
    arn, v1 = create_and_read(sm, name)
    versions(sm, name, arn, v1)
    describe_and_list(sm, name, arn)
    binary_name = binary(sm, base)
    delete_restore(sm, name)
    force_delete(sm, binary_name)
    missing(sm, base)


if __name__ == "__main__":
    main(run, "boto3 Secrets Manager")
