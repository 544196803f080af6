"""Compares what vaultd's AWS front end offers with AWS's own service models (botocore's).

Usage: python model_check.py VAULTD_MODEL.json

VAULTD_MODEL.json is `vaultd::aws::model()`: for each service (by signing name) its actions, each
with the members of its input and output and their AWS types. For every action AWS has, every
member vaultd reads or writes must exist in AWS's shape under the same name with the same type,
and every enum value vaultd uses must be one AWS defines. Actions and members that are vaultd's
own (beyond AWS) are listed below, each with its reason; anything else that differs fails.
"""

import json
import sys

import botocore.session

# Actions AWS does not have: vaultd's own, on the service they belong to (api.md).
VAULTD_ACTIONS = {
    ("kms", "EncryptFields"),
    ("kms", "DecryptFields"),
    ("iam", "RevokeUserSessions"),
}

# Members beyond AWS: (service, action, "input"/"output", dotted member path).
VAULTD_MEMBERS = {
    # auth.md: an optional inline policy narrows a session.
    ("sts", "GetSessionToken", "input", "Policy"),
    # auth.md: sessions issued before it are revoked (RevokeUserSessions).
    ("iam", "CreateUser", "output", "User.SessionsValidAfter"),
    ("iam", "GetUser", "output", "User.SessionsValidAfter"),
    ("iam", "ListUsers", "output", "Users.SessionsValidAfter"),
    # Which statement of the policy matched, by position and Sid, besides AWS's members.
    ("iam", "SimulatePrincipalPolicy", "output", "EvaluationResults.MatchedStatements.StatementIndex"),
    ("iam", "SimulatePrincipalPolicy", "output", "EvaluationResults.MatchedStatements.Sid"),
    # Why the last rotation failed (vaultd's rotation runs hooks, not Lambda functions).
    ("secretsmanager", "DescribeSecret", "output", "RotationFailure"),
    # The audit trail: oldest first on request; each event's place in the hash chain, its hash
    # and the request's outcome.
    ("cloudtrail", "LookupEvents", "input", "Ascending"),
    ("cloudtrail", "LookupEvents", "output", "Events.Sequence"),
    ("cloudtrail", "LookupEvents", "output", "Events.Hash"),
    ("cloudtrail", "LookupEvents", "output", "Events.ErrorCode"),
}

SERVICE_NAMES = {
    "kms": "kms",
    "ssm": "ssm",
    "secretsmanager": "secretsmanager",
    "sts": "sts",
    "iam": "iam",
    "cloudtrail": "cloudtrail",
}

# botocore type -> vaultd type
TYPES = {
    "string": "string",
    "blob": "blob",
    "boolean": "boolean",
    "integer": "integer",
    "long": "long",
    "double": "double",
    "float": "double",
    "timestamp": "timestamp",
    "list": "list",
    "map": "map",
    "structure": "structure",
}


def compare(problems, where, ours, theirs, service, action, direction, path):
    """Compares one vaultd member description with a botocore shape."""
    if (service, action, direction, path) in VAULTD_MEMBERS:
        return
    kind = ours["type"]
    if kind == "enum":
        if theirs.type_name != "string" or not theirs.enum:
            problems.append(f"{where}: vaultd has an enum, AWS has {theirs.type_name}")
            return
        extra = [v for v in ours["values"] if v not in theirs.enum]
        if extra:
            problems.append(f"{where}: values {extra} are not in AWS's {theirs.name}")
        return
    expected = TYPES.get(theirs.type_name, theirs.type_name)
    # AWS models some numbers as long where vaultd has a 32-bit field, and the reverse: the wire
    # form (a JSON number, text in a query) is the same.
    numbers = {"integer", "long"}
    if kind != expected and not (kind in numbers and expected in numbers):
        problems.append(f"{where}: vaultd has {kind}, AWS has {theirs.type_name}")
        return
    if kind == "structure":
        compare_members(problems, where, ours["members"], theirs, service, action, direction, path)
    elif kind == "list":
        compare(problems, where + "[]", ours["member"], theirs.member, service, action, direction, path)
    elif kind == "map":
        compare(problems, where + "{}", ours["value"], theirs.value, service, action, direction, path)


def compare_members(problems, where, ours, theirs, service, action, direction, path):
    if direction == "input":
        # A member AWS requires is one every SDK call sends: vaultd must read it.
        for name in theirs.required_members:
            if name not in ours:
                problems.append(f"{where}.{name}: AWS requires it, vaultd does not read it")
    for name, description in ours.items():
        member_path = f"{path}.{name}" if path else name
        if (service, action, direction, member_path) in VAULTD_MEMBERS:
            continue
        if name not in theirs.members:
            problems.append(f"{where}.{name}: AWS's {theirs.name} has no member {name}")
            continue
        compare(
            problems,
            f"{where}.{name}",
            description,
            theirs.members[name],
            service,
            action,
            direction,
            member_path,
        )


def main():
    with open(sys.argv[1]) as f:
        model = json.load(f)
    session = botocore.session.get_session()
    problems = []
    checked = 0
    for service, actions in sorted(model.items()):
        aws = session.get_service_model(SERVICE_NAMES[service])
        for action, shapes in sorted(actions.items()):
            if (service, action) in VAULTD_ACTIONS:
                continue
            if action not in aws.operation_names:
                problems.append(f"{service}:{action}: AWS has no such action")
                continue
            operation = aws.operation_model(action)
            for direction in ("input", "output"):
                theirs = getattr(operation, f"{direction}_shape")
                ours = shapes[direction]
                where = f"{service}:{action} {direction}"
                if theirs is None:
                    if ours:
                        problems.append(f"{where}: AWS's has no members, vaultd's has {sorted(ours)}")
                    continue
                compare_members(problems, where, ours, theirs, service, action, direction, "")
            checked += 1
    for problem in problems:
        print(problem)
    print(f"{checked} actions compared with botocore {botocore.__version__}; {len(problems)} differences")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
