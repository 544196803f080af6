#!/usr/bin/env python3
"""boto3's SSM client (awsJson1_1, X-Amz-Target: AmazonSSM.<Action>) against vaultd's AWS endpoint,
asserting what boto3 returns against real AWS Systems Manager Parameter Store:

- PutParameter String / StringList / SecureString (default key alias/aws/ssm, and an explicit
  KMS key); GetParameter with and without WithDecryption (a SecureString read without decryption
  is not the plaintext); DescribeParameters' KeyId;
- overwriting: Version 2 with Overwrite, ParameterAlreadyExists without;
- GetParameters with names that do not exist (InvalidParameters);
- GetParametersByPath, Recursive and one level, MaxResults=2 paged with NextToken and with boto3's
  paginator, WithDecryption;
- GetParameterHistory; LabelParameterVersion and the `name:label` / `name:version` selectors;
- DeleteParameter; GetParameter / DeleteParameter of a missing name: ParameterNotFound (HTTP 400).

All names live under /vaultd-aws-tests/<unique>/, so runs never meet. Environment: see awscheck.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from awscheck import (  # noqa: E402
    ACCOUNT, REGION, check, client, eq, expect_error, main, ok, recent, request_id, unique,
)


def parameter_arn(name):
    # The ARN drops the name's leading '/': arn:aws:ssm:REGION:ACCOUNT:parameter/a/b for /a/b.
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}"


def get(ssm, name, decrypt=False):
    return ssm.get_parameter(Name=name, WithDecryption=decrypt)["Parameter"]


def key_id_of(ssm, name):
    found = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"]
    eq([p["Name"] for p in found], [name], f"DescribeParameters(Name Equals {name})")
    return found[0].get("KeyId")


def plain_types(ssm, base):
    name = f"{base}/plain"
    put = ssm.put_parameter(Name=name, Value="value one", Type="String", Description="a String")
    request_id(put)
    eq(put["Version"], 1, "PutParameter(String) Version")
    eq(put.get("Tier"), "Standard", "PutParameter(String) Tier")
    param = get(ssm, name)
    eq(param["Name"], name, "GetParameter Name")
    eq(param["Type"], "String", "GetParameter Type")
    eq(param["Value"], "value one", "GetParameter Value")
    eq(param["Version"], 1, "GetParameter Version")
    eq(param.get("ARN"), parameter_arn(name), "GetParameter ARN")
    eq(param.get("DataType"), "text", "GetParameter DataType")
    recent(param.get("LastModifiedDate"), "GetParameter LastModifiedDate")
    ok(f"PutParameter / GetParameter String: Version 1, Tier Standard, ARN {param['ARN']}")

    listed = f"{base}/list"
    eq(ssm.put_parameter(Name=listed, Value="a,b,c", Type="StringList")["Version"], 1,
       "PutParameter(StringList) Version")
    param = get(ssm, listed)
    eq((param["Type"], param["Value"]), ("StringList", "a,b,c"), "GetParameter StringList (Type, Value)")
    ok("PutParameter / GetParameter StringList")

    expect_error(lambda: ssm.put_parameter(Name=name, Value="value two", Type="String"),
                 "ParameterAlreadyExists", "PutParameter of an existing name without Overwrite",
                 status=400)
    eq(get(ssm, name)["Value"], "value one", "GetParameter after the refused PutParameter")
    put = ssm.put_parameter(Name=name, Value="value two", Type="String", Overwrite=True)
    eq(put["Version"], 2, "PutParameter(Overwrite=True) Version")
    param = get(ssm, name)
    eq((param["Value"], param["Version"]), ("value two", 2), "GetParameter after Overwrite (Value, Version)")
    ok("PutParameter: existing name -> ParameterAlreadyExists; Overwrite=True -> Version 2")
    return name, listed


def secure_strings(ssm, base):
    kms = client("kms")
    secret = "s3cr3t value for SecureString"

    default = f"{base}/secure-default"
    eq(ssm.put_parameter(Name=default, Value=secret, Type="SecureString")["Version"], 1,
       "PutParameter(SecureString) Version")
    clear = get(ssm, default, decrypt=True)
    eq((clear["Type"], clear["Value"]), ("SecureString", secret),
       "GetParameter(WithDecryption=True) of a SecureString (Type, Value)")
    sealed = get(ssm, default, decrypt=False)
    eq(sealed["Type"], "SecureString", "GetParameter(WithDecryption=False) Type")
    check(sealed["Value"] != secret and secret not in sealed["Value"],
          f"GetParameter(WithDecryption=False) of a SecureString returned the plaintext: {sealed['Value']!r}")
    check(len(sealed["Value"]) > 0, "GetParameter(WithDecryption=False) returned an empty value")
    eq(key_id_of(ssm, default), "alias/aws/ssm", "DescribeParameters KeyId of a SecureString put without KeyId")
    ok("SecureString under the default key: decrypted with WithDecryption, something else without; "
       "KeyId alias/aws/ssm")

    key_id = kms.create_key(Description=unique("vaultd boto3 ssm key"))["KeyMetadata"]["KeyId"]
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    explicit = f"{base}/secure-explicit"
    ssm.put_parameter(Name=explicit, Value=secret + " 2", Type="SecureString", KeyId=key_id)
    eq(get(ssm, explicit, decrypt=True)["Value"], secret + " 2",
       "GetParameter(WithDecryption=True) of a SecureString under an explicit key")
    check(get(ssm, explicit)["Value"] != secret + " 2",
          "GetParameter(WithDecryption=False) of a SecureString under an explicit key returned the plaintext")
    described = key_id_of(ssm, explicit)
    check(described in (key_id, key_arn),
          f"DescribeParameters KeyId of a SecureString put with KeyId={key_id}: expected the key id "
          f"or ARN, got {described!r}")
    ok(f"SecureString under an explicit KMS key ({key_id}): round trip, KeyId reported")
    return default, secret


def get_parameters(ssm, names, missing):
    got = ssm.get_parameters(Names=names + [missing])
    eq(sorted(p["Name"] for p in got["Parameters"]), sorted(names), "GetParameters Parameters names")
    eq(got["InvalidParameters"], [missing], "GetParameters InvalidParameters")
    ok("GetParameters: the existing names, and the missing one in InvalidParameters")


def by_path(ssm, base, secure_name, secret):
    tree = f"{base}/tree"
    direct = {f"{tree}/a": "1", f"{tree}/b": "2"}
    deeper = {f"{tree}/sub/c": "3", f"{tree}/sub/d": "4", f"{tree}/sub/deeper/e": "5"}
    for name, value in {**direct, **deeper}.items():
        ssm.put_parameter(Name=name, Value=value, Type="String")
    everything = {**direct, **deeper}

    seen = {}
    token = None
    pages = 0
    while True:
        kwargs = {"Path": tree, "Recursive": True, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = ssm.get_parameters_by_path(**kwargs)
        pages += 1
        check(len(page["Parameters"]) <= 2,
              f"GetParametersByPath(MaxResults=2) page {pages} holds {len(page['Parameters'])} parameters")
        for p in page["Parameters"]:
            check(p["Name"] not in seen, f"GetParametersByPath listed {p['Name']} twice")
            seen[p["Name"]] = p["Value"]
        token = page.get("NextToken")
        if not token:
            break
        check(pages < 20, "GetParametersByPath: more than 20 pages for 5 parameters")
    eq(seen, everything, "GetParametersByPath(Recursive=True) by NextToken: names and values")
    check(pages >= 3, f"GetParametersByPath(MaxResults=2) over 5 parameters took {pages} page(s)")
    ok(f"GetParametersByPath(Recursive, MaxResults=2): all 5 parameters in {pages} pages by NextToken")

    paginated = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
            Path=tree, Recursive=True, PaginationConfig={"PageSize": 2}):
        check(len(page["Parameters"]) <= 2, "paginator page of PageSize 2 holds more than 2 parameters")
        paginated.update((p["Name"], p["Value"]) for p in page["Parameters"])
    eq(paginated, everything, "GetParametersByPath through boto3's paginator")
    ok("GetParametersByPath through boto3's paginator (PageSize 2)")

    one_level = ssm.get_parameters_by_path(Path=tree, Recursive=False)["Parameters"]
    eq(sorted(p["Name"] for p in one_level), sorted(direct), "GetParametersByPath(Recursive=False) names")
    sub = ssm.get_parameters_by_path(Path=f"{tree}/sub", Recursive=False)["Parameters"]
    eq(sorted(p["Name"] for p in sub), sorted([f"{tree}/sub/c", f"{tree}/sub/d"]),
       "GetParametersByPath(Path=.../sub, Recursive=False) names")
    ok("GetParametersByPath(Recursive=False) lists one level only")

    parent = secure_name.rsplit("/", 1)[0]
    found = {p["Name"]: p for p in ssm.get_paginator("get_parameters_by_path").paginate(
        Path=parent, WithDecryption=True).build_full_result()["Parameters"]}
    check(secure_name in found, f"GetParametersByPath({parent}) does not list {secure_name}")
    eq(found[secure_name]["Value"], secret, "GetParametersByPath(WithDecryption=True) SecureString value")
    ok("GetParametersByPath(WithDecryption=True) decrypts SecureStrings")


def history_and_labels(ssm, name):
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    eq([(h["Version"], h["Value"]) for h in history], [(1, "value one"), (2, "value two")],
       "GetParameterHistory (Version, Value) in order")
    for h in history:
        eq(h["Name"], name, "GetParameterHistory Name")
        eq(h["Type"], "String", "GetParameterHistory Type")
        recent(h.get("LastModifiedDate"), "GetParameterHistory LastModifiedDate")
    ok("GetParameterHistory lists both versions with their values")

    labelled = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["stable"])
    eq(labelled.get("InvalidLabels"), [], "LabelParameterVersion InvalidLabels")
    eq(labelled.get("ParameterVersion"), 1, "LabelParameterVersion ParameterVersion")
    by_label = get(ssm, f"{name}:stable")
    eq((by_label["Value"], by_label["Version"]), ("value one", 1), "GetParameter(name:stable) (Value, Version)")
    eq(by_label.get("Selector"), ":stable", "GetParameter(name:stable) Selector")
    by_version = get(ssm, f"{name}:1")
    eq((by_version["Value"], by_version["Version"]), ("value one", 1), "GetParameter(name:1) (Value, Version)")
    labels = {h["Version"]: h.get("Labels", []) for h in ssm.get_parameter_history(Name=name)["Parameters"]}
    eq(labels, {1: ["stable"], 2: []}, "GetParameterHistory Labels by version")
    expect_error(lambda: get(ssm, f"{name}:9"), "ParameterVersionNotFound",
                 "GetParameter of a version that does not exist (name:9)")
    ok("LabelParameterVersion; GetParameter by name:label and name:version; labels in the history; "
       "a missing version -> ParameterVersionNotFound")


def delete(ssm, name, base):
    ssm.delete_parameter(Name=name)
    expect_error(lambda: get(ssm, name), "ParameterNotFound", "GetParameter after DeleteParameter",
                 status=400)
    expect_error(lambda: ssm.delete_parameter(Name=name), "ParameterNotFound",
                 "DeleteParameter of a deleted parameter", status=400)
    err = expect_error(lambda: get(ssm, f"{base}/never-created"), "ParameterNotFound",
                       "GetParameter of a name never created", status=400)
    if err is not None:
        request_id(err.response)
    ok("DeleteParameter; GetParameter / DeleteParameter of a missing name -> ParameterNotFound (HTTP 400)")


def run():
    ssm = client("ssm")
    base = "/" + unique("vaultd-aws-tests")
    name, listed = plain_types(ssm, base)
    secure_name, secret = secure_strings(ssm, base)
    get_parameters(ssm, [name, listed], f"{base}/missing")
    by_path(ssm, base, secure_name, secret)
    history_and_labels(ssm, name)
    delete(ssm, name, base)


if __name__ == "__main__":
    main(run, "boto3 SSM Parameter Store")
