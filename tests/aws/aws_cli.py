#!/usr/bin/env python3
"""The AWS CLI (v1, the `aws` entry point installed in this venv) against vaultd's AWS endpoint with
--endpoint-url, checking its JSON output and exit codes as against real AWS:

- `aws kms create-key`, `aws kms encrypt --plaintext fileb://...` with an encryption context, then
  `aws kms decrypt --ciphertext-blob fileb://...` recovers the bytes (binary, not UTF-8);
- `aws ssm put-parameter --type SecureString`, `aws ssm get-parameter --with-decryption`;
- `aws secretsmanager create-secret` / `get-secret-value`;
- `aws sts get-caller-identity` with `--query` / `--output text`;
- `aws cloudtrail lookup-events` finds the calls above in vaultd's audit trail;
- failing calls: a missing key, parameter or secret, a wrong encryption context or a wrong secret
  exit 255 with "An error occurred (<AWS error code>) when calling the <Operation> operation" in
  stderr. (CLI v1 exits 255 on every error, service errors included: awscli/clidriver.py; the
  254 "service returned an error" of the CLI documentation is version 2's.)

Environment: see awscheck.py. The CLI gets the same AWS_* variables plus --endpoint-url. (Named
aws_cli.py, not awscli.py, so that it never shadows the awscli package.)
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # `python -I` leaves it out
from awscheck import ACCOUNT, REGION, check, endpoint, eq, main, ok, unique  # noqa: E402

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def aws(*args, env_overrides=None):
    """Runs `aws --endpoint-url URL --output json ARGS`; returns (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(env_overrides or {})
    command = [AWS, "--endpoint-url", endpoint(), "--output", "json", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout, done.stderr


def aws_json(*args):
    """Runs a command that must succeed, and parses its JSON output."""
    code, out, err = aws(*args)
    check(code == 0, f"`aws {' '.join(args)}` exited {code}, expected 0\n--- stdout\n{out}\n--- stderr\n{err}")
    try:
        return json.loads(out) if out.strip() else {}
    except json.JSONDecodeError as e:
        check(False, f"`aws {' '.join(args)}` printed something that is not JSON ({e}):\n{out}")
        return {}


# What CLI v1 exits with on any error, a service's error response included.
ERROR_EXIT = 255


def aws_fails(error_code, operation, *args, env_overrides=None):
    """Runs a command that must fail as the service answered `error_code` to `operation`."""
    got, out, err = aws(*args, env_overrides=env_overrides)
    check(got == ERROR_EXIT, f"`aws {' '.join(args)}` exited {got}, expected {ERROR_EXIT} ({error_code})\n"
                             f"--- stdout\n{out}\n--- stderr\n{err}")
    expected = f"An error occurred ({error_code}) when calling the {operation} operation"
    check(expected in err, f"`aws {' '.join(args)}`: stderr should say {expected!r}, got:\n{err}")
    return err


def kms(tmp):
    created = aws_json("kms", "create-key", "--description", unique("vaultd awscli key"))
    key_id = created["KeyMetadata"]["KeyId"]
    eq(created["KeyMetadata"]["Arn"], f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}", "create-key Arn")
    eq(created["KeyMetadata"]["KeyState"], "Enabled", "create-key KeyState")
    ok(f"aws kms create-key -> {key_id}")

    plaintext = b"\x00\x01binary plaintext from the CLI\xff\xfe" + os.urandom(16)
    plain_file = os.path.join(tmp, "plain.bin")
    with open(plain_file, "wb") as f:
        f.write(plaintext)
    enc = aws_json("kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{plain_file}",
                   "--encryption-context", "app=awscli,purpose=test")
    eq(enc["KeyId"], f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}", "aws kms encrypt KeyId")
    blob_file = os.path.join(tmp, "blob.bin")
    with open(blob_file, "wb") as f:
        f.write(base64.b64decode(enc["CiphertextBlob"]))
    dec = aws_json("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob_file}",
                   "--encryption-context", "app=awscli,purpose=test")
    eq(base64.b64decode(dec["Plaintext"]), plaintext, "aws kms decrypt Plaintext (base64-decoded)")
    eq(dec["KeyId"], enc["KeyId"], "aws kms decrypt KeyId")
    ok("aws kms encrypt fileb:// with an encryption context; aws kms decrypt recovers the bytes")

    aws_fails("InvalidCiphertextException", "Decrypt", "kms", "decrypt", "--ciphertext-blob",
              f"fileb://{blob_file}", "--encryption-context", "app=other")
    aws_fails("NotFoundException", "DescribeKey", "kms", "describe-key", "--key-id", str(uuid.uuid4()))
    ok("aws kms decrypt with the wrong context / describe-key of a missing key: exit 255, error code in stderr")


def ssm():
    name = "/" + unique("vaultd-aws-tests") + "/cli/secure"
    put = aws_json("ssm", "put-parameter", "--name", name, "--value", "cli secret value",
                   "--type", "SecureString")
    eq(put["Version"], 1, "aws ssm put-parameter Version")
    got = aws_json("ssm", "get-parameter", "--name", name, "--with-decryption")["Parameter"]
    eq((got["Name"], got["Type"], got["Value"]), (name, "SecureString", "cli secret value"),
       "aws ssm get-parameter --with-decryption (Name, Type, Value)")
    sealed = aws_json("ssm", "get-parameter", "--name", name)["Parameter"]["Value"]
    check(sealed != "cli secret value", "aws ssm get-parameter without --with-decryption printed the plaintext")
    aws_fails("ParameterAlreadyExists", "PutParameter", "ssm", "put-parameter", "--name", name, "--value", "x",
              "--type", "SecureString")
    aws_fails("ParameterNotFound", "GetParameter", "ssm", "get-parameter", "--name", name + "-missing")
    ok("aws ssm put-parameter SecureString / get-parameter --with-decryption; "
       "ParameterAlreadyExists and ParameterNotFound exit 255 with the error code")


def secrets():
    name = unique("vaultd-aws-tests") + "/cli"
    created = aws_json("secretsmanager", "create-secret", "--name", name, "--secret-string",
                       '{"user":"app","password":"p@ss word"}')
    eq(created["Name"], name, "aws secretsmanager create-secret Name")
    check(created["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-"),
          f"aws secretsmanager create-secret ARN: got {created['ARN']!r}")
    got = aws_json("secretsmanager", "get-secret-value", "--secret-id", name)
    eq(json.loads(got["SecretString"]), {"user": "app", "password": "p@ss word"},
       "aws secretsmanager get-secret-value SecretString")
    eq(got["VersionStages"], ["AWSCURRENT"], "aws secretsmanager get-secret-value VersionStages")
    aws_fails("ResourceNotFoundException", "GetSecretValue", "secretsmanager", "get-secret-value", "--secret-id",
              name + "-missing")
    ok("aws secretsmanager create-secret / get-secret-value; a missing secret exits 255 with the error code")


def identity_and_auth():
    code, out, err = aws("sts", "get-caller-identity", "--query", "Arn", "--output", "text")
    check(code == 0, f"aws sts get-caller-identity exited {code}: {err}")
    eq(out.strip(), f"arn:aws:iam::{ACCOUNT}:user/root", "aws sts get-caller-identity --query Arn --output text")
    ok("aws sts get-caller-identity --query Arn --output text")

    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    aws_fails("InvalidSignatureException", "ListKeys", "kms", "list-keys",
              env_overrides={"AWS_SECRET_ACCESS_KEY": wrong})
    aws_fails("SignatureDoesNotMatch", "GetCallerIdentity", "sts", "get-caller-identity",
              env_overrides={"AWS_SECRET_ACCESS_KEY": wrong})
    ok("a wrong secret: exit 255 with InvalidSignatureException (kms) / SignatureDoesNotMatch (sts)")


def audit_trail():
    found = aws_json("cloudtrail", "lookup-events", "--lookup-attributes",
                     "AttributeKey=EventName,AttributeValue=CreateSecret", "--max-results", "5")
    events = found.get("Events", [])
    check(len(events) >= 1, f"lookup-events found no CreateSecret event: {found}")
    eq(events[0].get("EventSource"), "secretsmanager.amazonaws.com", "the event's EventSource")
    eq(events[0].get("Username"), "root", "the event's Username")
    check("CreateSecret" in events[0].get("CloudTrailEvent", ""), "the CloudTrailEvent names the call")
    ok("aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,... finds the call")


def run():
    check(os.access(AWS, os.X_OK), f"no aws entry point at {AWS}")
    code, out, err = aws("--version")
    check(code == 0 and "aws-cli/1." in (out + err), f"aws --version: exit {code}, {out!r} {err!r}")
    ok(f"using {(out + err).split()[0]} at {AWS}")
    with tempfile.TemporaryDirectory() as tmp:
        kms(tmp)
    ssm()
    secrets()
    identity_and_auth()
    audit_trail()


if __name__ == "__main__":
    main(run, "AWS CLI v1")
