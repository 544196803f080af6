//! Unit tests of policy parsing and evaluation, through the public API.

use super::*;

const AUTH_MD_EXAMPLE: &str = r#"{"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
       "Resource": "arn:aws:kms:*:*:key/*",
       "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}},
      {"Effect": "Deny", "Action": "ssm:*", "Resource": "arn:aws:ssm:*:*:parameter/prod/*"}]}"#;

const KEY_ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const PROD_PARAMETER: &str = "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db";

fn parse(document: &str) -> Policy {
    Policy::parse(document).expect("the document is valid")
}

fn parse_error(document: &str) -> String {
    Policy::parse(document)
        .expect_err("the document is invalid")
        .0
}

/// A one-statement Allow policy with the given Version/Action/Resource/Condition members.
fn allow(members: &str) -> Policy {
    parse(&format!(
        r#"{{"Version": "2012-10-17", "Statement": {{"Effect": "Allow", {members}}}}}"#
    ))
}

fn decide(policy: &Policy, action: &str, resource: &str, context: &ConditionContext) -> Decision {
    let request = Request {
        action,
        resource,
        context,
    };
    evaluate(&[("p", policy)], &request).decision
}

/// Whether a policy with one Allow statement for `kms:Encrypt` on `*` and the given Condition
/// allows a request with the context.
fn condition_holds(condition: &str, context: &ConditionContext) -> bool {
    let policy = allow(&format!(
        r#""Action": "kms:Encrypt", "Resource": "*", "Condition": {condition}"#
    ));
    decide(&policy, "kms:Encrypt", "*", context) == Decision::Allowed
}

fn context(pairs: &[(&str, &str)]) -> ConditionContext {
    let mut context = ConditionContext::new();
    for (key, value) in pairs {
        context.insert(key, value);
    }
    context
}

fn billing() -> ConditionContext {
    ConditionContext::new().with_encryption_context([("app", "billing")])
}

#[test]
fn policy_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Policy>();
    assert_send_sync::<ConditionContext>();
}

#[test]
fn auth_md_example_allows_kms_with_the_right_encryption_context() {
    let policy = parse(AUTH_MD_EXAMPLE);
    assert_eq!(policy.len(), 2);
    assert!(!policy.is_empty());
    for action in [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
    ] {
        assert_eq!(
            decide(&policy, action, KEY_ARN, &billing()),
            Decision::Allowed,
            "{action}"
        );
    }
    // Not listed, and not a key ARN.
    assert_eq!(
        decide(&policy, "kms:ReEncryptFrom", KEY_ARN, &billing()),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &policy,
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:000000000000:alias/app",
            &billing()
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn auth_md_example_denies_implicitly_with_wrong_or_missing_context() {
    let policy = parse(AUTH_MD_EXAMPLE);
    let wrong = ConditionContext::new().with_encryption_context([("app", "payroll")]);
    let other_key = ConditionContext::new().with_encryption_context([("team", "billing")]);
    for context in [wrong, other_key, ConditionContext::new()] {
        let request = Request {
            action: "kms:Decrypt",
            resource: KEY_ARN,
            context: &context,
        };
        let evaluation = evaluate(&[("app", &policy)], &request);
        assert_eq!(evaluation.decision, Decision::ImplicitDeny);
        assert!(evaluation.matched.is_empty());
    }
}

#[test]
fn auth_md_example_deny_wins_over_another_policys_allow_all() {
    let policy = parse(AUTH_MD_EXAMPLE);
    let admin = parse(
        r#"{"Version": "2012-10-17", "Statement": {"Sid": "All", "Effect": "Allow",
               "Action": "*", "Resource": "*"}}"#,
    );
    let context = ConditionContext::new();
    let request = Request {
        action: "ssm:GetParameter",
        resource: PROD_PARAMETER,
        context: &context,
    };
    let evaluation = evaluate(&[("admin", &admin), ("app", &policy)], &request);
    assert_eq!(evaluation.decision, Decision::ExplicitDeny);
    assert_eq!(
        evaluation.matched,
        vec![MatchedStatement {
            policy: "app".to_owned(),
            index: 1,
            sid: None
        }]
    );
    // Outside prod, the admin policy's Allow decides.
    let dev = Request {
        resource: "arn:aws:ssm:us-east-1:000000000000:parameter/dev/db",
        ..request
    };
    let evaluation = evaluate(&[("admin", &admin), ("app", &policy)], &dev);
    assert_eq!(evaluation.decision, Decision::Allowed);
    assert_eq!(
        evaluation.matched,
        vec![MatchedStatement {
            policy: "admin".to_owned(),
            index: 0,
            sid: Some("All".to_owned())
        }]
    );
}

#[test]
fn no_policies_is_an_implicit_deny() {
    let context = ConditionContext::new();
    let request = Request {
        action: "kms:Encrypt",
        resource: "*",
        context: &context,
    };
    assert_eq!(
        evaluate(&[], &request),
        Evaluation {
            decision: Decision::ImplicitDeny,
            matched: Vec::new()
        }
    );
}

#[test]
fn matched_statements_list_every_allow_or_every_deny() {
    let first = parse(
        r#"{"Version": "2012-10-17", "Statement": [
                {"Sid": "Keys", "Effect": "Allow", "Action": "kms:*", "Resource": "*"},
                {"Sid": "Other", "Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
                {"Sid": "Enc", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}"#,
    );
    let second = parse(
        r#"{"Statement": [
                {"Effect": "Allow", "Action": "kms:Enc*", "Resource": "*"},
                {"Sid": "NoTest", "Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:username": "test"}}}]}"#,
    );
    let policies = [("first", &first), ("second", &second)];
    let matched = |policy: &str, index, sid: Option<&str>| MatchedStatement {
        policy: policy.to_owned(),
        index,
        sid: sid.map(str::to_owned),
    };

    let alice = context(&[("aws:username", "alice")]);
    let request = Request {
        action: "kms:Encrypt",
        resource: KEY_ARN,
        context: &alice,
    };
    assert_eq!(
        evaluate(&policies, &request),
        Evaluation {
            decision: Decision::Allowed,
            matched: vec![
                matched("first", 0, Some("Keys")),
                matched("first", 2, Some("Enc")),
                matched("second", 0, None),
            ]
        }
    );

    let test_user = context(&[("aws:username", "test")]);
    let request = Request {
        context: &test_user,
        ..request
    };
    assert_eq!(
        evaluate(&policies, &request),
        Evaluation {
            decision: Decision::ExplicitDeny,
            matched: vec![matched("second", 1, Some("NoTest"))]
        }
    );
}

#[test]
fn wildcard_match_semantics() {
    assert!(wildcard_match("*", "", false));
    assert!(wildcard_match("*", "arn:aws:kms:x:y:key/z", false));
    assert!(wildcard_match("", "", false));
    assert!(!wildcard_match("", "a", false));
    assert!(!wildcard_match("?", "", false));
    assert!(
        wildcard_match("?", "é", false),
        "? is one character, not one byte"
    );
    assert!(!wildcard_match("?", "ab", false));
    assert!(wildcard_match("a?c", "abc", false));
    assert!(!wildcard_match("a?c", "ac", false));
    assert!(wildcard_match("a*", "a", false));
    assert!(wildcard_match("*c", "abc", false));
    assert!(!wildcard_match("*c", "abcd", false));
    assert!(wildcard_match("a*b*c", "aXbYbZc", false));
    assert!(!wildcard_match("a*b*c", "aXbYbZ", false));
    assert!(wildcard_match("*a*a*a*b", "aaaaaaaaab", false));
    assert!(!wildcard_match("*a*a*a*b", "aaaaaaaaaa", false));
    assert!(wildcard_match("a**?", "ab", false));
    assert!(wildcard_match("k*y", "k:/:y", false), "* spans ':' and '/'");
    assert!(wildcard_match("key/*", "key/", false));
    assert!(!wildcard_match("ABC", "abc", false));
    assert!(wildcard_match("ABC", "abc", true));
    assert!(wildcard_match("a?C*", "AbcDEF", true));
    assert!(wildcard_match("ÉTÉ", "été", true));
    assert!(!wildcard_match("ÉTÉ", "été", false));
    assert!(!wildcard_match("abc", "ab", true));
}

#[test]
fn action_and_resource_wildcards() {
    let policy = allow(
        r#""Action": ["kms:?ncrypt", "ssm:Get*"],
               "Resource": ["arn:aws:kms:us-east-?:*:key/*", "arn:aws:ssm:*:*:parameter/app/*"]"#,
    );
    let none = ConditionContext::new();
    assert_eq!(
        decide(&policy, "kms:Encrypt", KEY_ARN, &none),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policy, "kms:Decrypt", KEY_ARN, &none),
        Decision::ImplicitDeny,
        "? is exactly one character"
    );
    assert_eq!(
        decide(
            &policy,
            "kms:Encrypt",
            "arn:aws:kms:us-west-2:000000000000:key/k",
            &none
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &policy,
            "kms:Encrypt",
            "arn:aws:kms:us-east-10:000000000000:key/k",
            &none
        ),
        Decision::ImplicitDeny
    );
    let parameter = "arn:aws:ssm:eu-west-1:000000000000:parameter/app/db/password";
    assert_eq!(
        decide(&policy, "ssm:GetParametersByPath", parameter, &none),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policy, "ssm:PutParameter", parameter, &none),
        Decision::ImplicitDeny
    );
}

#[test]
fn actions_match_case_insensitively_and_resources_case_sensitively() {
    let policy = allow(
        r#""Action": "kms:Encrypt", "Resource": "arn:aws:kms:us-east-1:000000000000:key/Abc""#,
    );
    let none = ConditionContext::new();
    let key = "arn:aws:kms:us-east-1:000000000000:key/Abc";
    assert_eq!(
        decide(&policy, "KMS:encrypt", key, &none),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policy, "kms:ENCRYPT", key, &none),
        Decision::Allowed
    );
    assert_eq!(
        decide(
            &policy,
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:000000000000:key/abc",
            &none
        ),
        Decision::ImplicitDeny
    );
    let uppercase_name = allow(r#""Action": "kms:ENCRYPT*", "Resource": "*""#);
    assert_eq!(
        decide(&uppercase_name, "kms:Encrypt", "*", &none),
        Decision::Allowed
    );
}

#[test]
fn not_action_matches_every_other_action() {
    let policy = parse(
        r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "NotAction": ["iam:*", "kms:Schedule*"], "Resource": "*"}]}"#,
    );
    let none = ConditionContext::new();
    assert_eq!(
        decide(&policy, "kms:Encrypt", "*", &none),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policy, "ssm:GetParameter", "*", &none),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policy, "iam:CreateUser", "*", &none),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&policy, "KMS:ScheduleKeyDeletion", "*", &none),
        Decision::ImplicitDeny
    );
}

#[test]
fn not_resource_matches_every_other_resource() {
    let policy = parse(
        r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
                {"Sid": "OnlyDev", "Effect": "Deny", "Action": "ssm:*",
                 "NotResource": "arn:aws:ssm:*:*:parameter/dev/*"}]}"#,
    );
    let none = ConditionContext::new();
    let dev = "arn:aws:ssm:us-east-1:000000000000:parameter/dev/db";
    assert_eq!(
        decide(&policy, "ssm:GetParameter", dev, &none),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policy, "ssm:GetParameter", PROD_PARAMETER, &none),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&policy, "ssm:DescribeParameters", "*", &none),
        Decision::ExplicitDeny
    );
}

#[test]
fn string_equals_and_not_equals() {
    let alice = context(&[("aws:username", "alice")]);
    let bob = context(&[("aws:username", "bob")]);
    let nobody = ConditionContext::new();
    let equals = r#"{"StringEquals": {"aws:username": ["alice", "carol"]}}"#;
    assert!(condition_holds(equals, &alice));
    assert!(!condition_holds(equals, &bob));
    assert!(
        !condition_holds(equals, &nobody),
        "absent key fails a positive test"
    );
    assert!(!condition_holds(
        r#"{"StringEquals": {"aws:username": "ALICE"}}"#,
        &alice
    ));
    assert!(
        !condition_holds(r#"{"StringEquals": {"aws:username": "al*"}}"#, &alice),
        "StringEquals has no wildcards"
    );

    let not_equals = r#"{"StringNotEquals": {"aws:username": ["alice", "carol"]}}"#;
    assert!(!condition_holds(not_equals, &alice));
    assert!(condition_holds(not_equals, &bob));
    assert!(
        condition_holds(not_equals, &nobody),
        "absent key passes a negated test"
    );
}

#[test]
fn string_equals_ignore_case_and_its_negation() {
    let alice = context(&[("aws:username", "Alice")]);
    let nobody = ConditionContext::new();
    let equals = r#"{"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}"#;
    assert!(condition_holds(equals, &alice));
    assert!(!condition_holds(
        equals,
        &context(&[("aws:username", "alicia")])
    ));
    assert!(!condition_holds(equals, &nobody));
    let not_equals = r#"{"StringNotEqualsIgnoreCase": {"aws:username": "aLiCe"}}"#;
    assert!(!condition_holds(not_equals, &alice));
    assert!(condition_holds(
        not_equals,
        &context(&[("aws:username", "bob")])
    ));
    assert!(condition_holds(not_equals, &nobody));
}

#[test]
fn string_like_and_not_like() {
    let prod = context(&[(
        "aws:PrincipalArn",
        "arn:aws:iam::000000000000:user/prod-api",
    )]);
    let dev = context(&[("aws:PrincipalArn", "arn:aws:iam::000000000000:user/dev-api")]);
    let nobody = ConditionContext::new();
    let like = r#"{"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/prod-???"}}"#;
    assert!(condition_holds(like, &prod));
    assert!(!condition_holds(like, &dev));
    assert!(!condition_holds(like, &nobody));
    assert!(
        !condition_holds(
            r#"{"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/PROD-*"}}"#,
            &prod
        ),
        "StringLike is case-sensitive"
    );
    let not_like = r#"{"StringNotLike": {"aws:PrincipalArn": "*:user/prod-*"}}"#;
    assert!(!condition_holds(not_like, &prod));
    assert!(condition_holds(not_like, &dev));
    assert!(condition_holds(not_like, &nobody));
}

#[test]
fn if_exists_ignores_an_absent_key_but_tests_a_present_one() {
    let nobody = ConditionContext::new();
    let alice = context(&[("aws:username", "alice")]);
    let bob = context(&[("aws:username", "bob")]);
    for (operator, alice_passes) in [
        ("StringEqualsIfExists", true),
        ("StringEqualsIgnoreCaseIfExists", true),
        ("StringLikeIfExists", true),
        ("StringNotEqualsIfExists", false),
        ("StringNotEqualsIgnoreCaseIfExists", false),
        ("StringNotLikeIfExists", false),
    ] {
        let condition = format!(r#"{{"{operator}": {{"aws:username": "alice"}}}}"#);
        assert!(condition_holds(&condition, &nobody), "{operator} absent");
        assert_eq!(
            condition_holds(&condition, &alice),
            alice_passes,
            "{operator}"
        );
        assert_eq!(
            condition_holds(&condition, &bob),
            !alice_passes,
            "{operator}"
        );
    }
    let bool_if_exists = r#"{"BoolIfExists": {"aws:SecureTransport": "true"}}"#;
    assert!(condition_holds(bool_if_exists, &nobody));
    assert!(!condition_holds(
        bool_if_exists,
        &context(&[("aws:SecureTransport", "false")])
    ));
}

#[test]
fn for_any_value_and_for_all_values() {
    let app_only = ConditionContext::new().with_encryption_context([("app", "billing")]);
    let app_and_team =
        ConditionContext::new().with_encryption_context([("app", "billing"), ("team", "finance")]);
    let team_only = ConditionContext::new().with_encryption_context([("team", "finance")]);
    let no_context = ConditionContext::new();

    let any = r#"{"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "app"}}"#;
    assert!(condition_holds(any, &app_only));
    assert!(condition_holds(any, &app_and_team));
    assert!(!condition_holds(any, &team_only));
    assert!(
        !condition_holds(any, &no_context),
        "ForAnyValue fails on an absent key"
    );

    let all = r#"{"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app", "env"]}}"#;
    assert!(condition_holds(all, &app_only));
    assert!(!condition_holds(all, &app_and_team));
    assert!(
        condition_holds(all, &no_context),
        "ForAllValues passes on an absent key"
    );

    // Negated set tests: ForAnyValue needs one value outside the list, ForAllValues all.
    let any_not = r#"{"ForAnyValue:StringNotEquals": {"kms:EncryptionContextKeys": "app"}}"#;
    assert!(condition_holds(any_not, &app_and_team));
    assert!(!condition_holds(any_not, &app_only));
    assert!(!condition_holds(any_not, &no_context));
    let all_not = r#"{"ForAllValues:StringNotLike": {"kms:EncryptionContextKeys": "a*"}}"#;
    assert!(condition_holds(all_not, &team_only));
    assert!(!condition_holds(all_not, &app_and_team));
    assert!(condition_holds(all_not, &no_context));

    let any_if_exists =
        r#"{"ForAnyValue:StringLikeIfExists": {"kms:EncryptionContextKeys": "te*"}}"#;
    assert!(condition_holds(any_if_exists, &no_context));
    assert!(condition_holds(any_if_exists, &app_and_team));
    assert!(!condition_holds(any_if_exists, &app_only));
}

#[test]
fn multi_valued_keys_without_a_set_prefix() {
    let both =
        ConditionContext::new().with_encryption_context([("app", "billing"), ("team", "finance")]);
    let team_only = ConditionContext::new().with_encryption_context([("team", "finance")]);
    // Positive: any value matching suffices.
    let equals = r#"{"StringEquals": {"kms:EncryptionContextKeys": "app"}}"#;
    assert!(condition_holds(equals, &both));
    assert!(!condition_holds(equals, &team_only));
    // Negated: passes only if no value matches.
    let not_equals = r#"{"StringNotEquals": {"kms:EncryptionContextKeys": "app"}}"#;
    assert!(!condition_holds(not_equals, &both));
    assert!(condition_holds(not_equals, &team_only));
}

#[test]
fn null_tests_presence() {
    let with_context = billing();
    let without = ConditionContext::new();
    let must_be_absent = r#"{"Null": {"kms:EncryptionContextKeys": "true"}}"#;
    assert!(condition_holds(must_be_absent, &without));
    assert!(!condition_holds(must_be_absent, &with_context));
    let must_be_present = r#"{"Null": {"kms:EncryptionContextKeys": false}}"#;
    assert!(!condition_holds(must_be_present, &without));
    assert!(condition_holds(must_be_present, &with_context));
}

#[test]
fn bool_compares_booleans() {
    let secure = context(&[("aws:SecureTransport", "true")]);
    let insecure = context(&[("aws:SecureTransport", "false")]);
    let nobody = ConditionContext::new();
    for condition in [
        r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
        r#"{"Bool": {"aws:SecureTransport": true}}"#,
        r#"{"Bool": {"aws:SecureTransport": "TRUE"}}"#,
    ] {
        assert!(condition_holds(condition, &secure), "{condition}");
        assert!(!condition_holds(condition, &insecure), "{condition}");
        assert!(!condition_holds(condition, &nobody), "{condition}");
    }
    assert!(condition_holds(
        r#"{"Bool": {"aws:SecureTransport": "false"}}"#,
        &insecure
    ));
    assert!(!condition_holds(
        r#"{"Bool": {"aws:SecureTransport": "false"}}"#,
        &secure
    ));
    assert!(!condition_holds(
        r#"{"Bool": {"aws:SecureTransport": "true"}}"#,
        &context(&[("aws:SecureTransport", "yes")])
    ));
}

#[test]
fn numbers_in_condition_values_compare_as_text() {
    let port = context(&[("vault:Port", "8200")]);
    assert!(condition_holds(
        r#"{"StringEquals": {"vault:Port": 8200}}"#,
        &port
    ));
    assert!(!condition_holds(
        r#"{"StringEquals": {"vault:Port": [8201, 1]}}"#,
        &port
    ));
}

#[test]
fn conditions_combine_and_across_operators_and_keys_or_across_values() {
    let condition = r#"{
            "StringEquals": {"kms:EncryptionContext:app": ["billing", "payroll"],
                             "aws:username": "alice"},
            "StringLike": {"kms:EncryptionContext:env": "prod-*"}}"#;
    let full = |app: &'static str, user: &str, env: &'static str| {
        let mut c = context(&[("aws:username", user)]);
        c = c.with_encryption_context([("app", app), ("env", env)]);
        c
    };
    assert!(condition_holds(
        condition,
        &full("billing", "alice", "prod-eu")
    ));
    assert!(condition_holds(
        condition,
        &full("payroll", "alice", "prod-us")
    ));
    assert!(!condition_holds(condition, &full("hr", "alice", "prod-eu")));
    assert!(!condition_holds(
        condition,
        &full("billing", "bob", "prod-eu")
    ));
    assert!(!condition_holds(
        condition,
        &full("billing", "alice", "dev")
    ));
}

#[test]
fn condition_key_prefix_is_case_insensitive_but_encryption_context_key_is_not() {
    let ctx = billing();
    assert!(condition_holds(
        r#"{"StringEquals": {"KMS:encryptioncontext:app": "billing"}}"#,
        &ctx
    ));
    assert!(!condition_holds(
        r#"{"StringEquals": {"kms:EncryptionContext:App": "billing"}}"#,
        &ctx
    ));
    let user = context(&[("AWS:UserName", "alice")]);
    assert!(condition_holds(
        r#"{"StringEquals": {"aws:username": "alice"}}"#,
        &user
    ));
}

#[test]
fn username_variable_is_substituted_in_resources() {
    let policy = allow(
        r#""Action": "ssm:*",
               "Resource": "arn:aws:ssm:*:*:parameter/home/${aws:username}/*""#,
    );
    let alice = ConditionContext::for_user(
        "alice",
        "AIDAEXAMPLE",
        "arn:aws:iam::000000000000:user/alice",
    );
    let own = "arn:aws:ssm:us-east-1:000000000000:parameter/home/alice/token";
    let other = "arn:aws:ssm:us-east-1:000000000000:parameter/home/bob/token";
    assert_eq!(
        decide(&policy, "ssm:GetParameter", own, &alice),
        Decision::Allowed
    );
    assert_eq!(
        decide(&policy, "ssm:GetParameter", other, &alice),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(&policy, "ssm:GetParameter", own, &ConditionContext::new()),
        Decision::ImplicitDeny,
        "an unresolvable variable makes the statement not apply"
    );
    // A substituted value is literal: a name with wildcards must not widen the pattern.
    let star = context(&[("aws:username", "*")]);
    assert_eq!(
        decide(&policy, "ssm:GetParameter", other, &star),
        Decision::ImplicitDeny
    );
}

#[test]
fn unresolvable_variable_disables_a_not_resource_statement_too() {
    let policy = parse(
        r#"{"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "ssm:*",
                 "NotResource": "arn:aws:ssm:*:*:parameter/home/${aws:username}/*"}]}"#,
    );
    let bob = context(&[("aws:username", "bob")]);
    let alice_parameter = "arn:aws:ssm:us-east-1:000000000000:parameter/home/alice/x";
    let bob_parameter = "arn:aws:ssm:us-east-1:000000000000:parameter/home/bob/x";
    assert_eq!(
        decide(&policy, "ssm:GetParameter", alice_parameter, &bob),
        Decision::ExplicitDeny
    );
    assert_eq!(
        decide(&policy, "ssm:GetParameter", bob_parameter, &bob),
        Decision::Allowed
    );
    assert_eq!(
        decide(
            &policy,
            "ssm:GetParameter",
            alice_parameter,
            &ConditionContext::new()
        ),
        Decision::Allowed
    );
}

#[test]
fn variable_defaults_escapes_and_conditions() {
    let with_default = allow(
        r#""Action": "ssm:*",
               "Resource": "arn:aws:ssm:*:*:parameter/home/${aws:username, 'shared'}/*""#,
    );
    let shared = "arn:aws:ssm:us-east-1:000000000000:parameter/home/shared/x";
    assert_eq!(
        decide(
            &with_default,
            "ssm:GetParameter",
            shared,
            &ConditionContext::new()
        ),
        Decision::Allowed
    );
    assert_eq!(
        decide(
            &with_default,
            "ssm:GetParameter",
            shared,
            &context(&[("aws:username", "alice")])
        ),
        Decision::ImplicitDeny
    );

    let escapes =
        allow(r#""Action": "ssm:*", "Resource": "arn:aws:ssm:*:*:parameter/a${*}b${?}${$}""#);
    let none = ConditionContext::new();
    assert_eq!(
        decide(
            &escapes,
            "ssm:GetParameter",
            "arn:aws:ssm:r:1:parameter/a*b?$",
            &none
        ),
        Decision::Allowed
    );
    assert_eq!(
        decide(
            &escapes,
            "ssm:GetParameter",
            "arn:aws:ssm:r:1:parameter/aXXbY$",
            &none
        ),
        Decision::ImplicitDeny,
        "escaped wildcards are literal"
    );

    let in_condition = r#"{"StringLike": {"kms:EncryptionContext:owner": "${aws:username}-*"}}"#;
    let mut alice = context(&[("aws:username", "alice")]);
    alice = alice.with_encryption_context([("owner", "alice-team")]);
    assert!(condition_holds(in_condition, &alice));
    let bob =
        context(&[("aws:username", "bob")]).with_encryption_context([("owner", "alice-team")]);
    assert!(!condition_holds(in_condition, &bob));
}

#[test]
fn variables_are_literal_text_before_version_2012() {
    let policy = parse(
        r#"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "ssm:*",
               "Resource": "arn:aws:ssm:*:*:parameter/${aws:username}"}}"#,
    );
    let alice = context(&[("aws:username", "alice")]);
    assert_eq!(
        decide(
            &policy,
            "ssm:GetParameter",
            "arn:aws:ssm:r:1:parameter/alice",
            &alice
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(
            &policy,
            "ssm:GetParameter",
            "arn:aws:ssm:r:1:parameter/${aws:username}",
            &alice
        ),
        Decision::Allowed
    );
    // No Version means the 2008 language as well.
    let unversioned = parse(
        r#"{"Statement": {"Effect": "Allow", "Action": "ssm:*",
               "Resource": "arn:aws:ssm:*:*:parameter/${aws:username}"}}"#,
    );
    assert_eq!(
        decide(
            &unversioned,
            "ssm:GetParameter",
            "arn:aws:ssm:r:1:parameter/alice",
            &alice
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn single_object_statement_is_accepted() {
    let policy = parse(
        r#"{"Version": "2012-10-17", "Id": "MyPolicy",
                "Statement": {"Sid": "S1", "Effect": "Deny", "Action": "kms:*", "Resource": "*"}}"#,
    );
    assert_eq!(policy.len(), 1);
    let context = ConditionContext::new();
    let request = Request {
        action: "kms:Decrypt",
        resource: KEY_ARN,
        context: &context,
    };
    assert_eq!(
        evaluate(&[("solo", &policy)], &request).matched,
        vec![MatchedStatement {
            policy: "solo".to_owned(),
            index: 0,
            sid: Some("S1".to_owned())
        }]
    );
}

#[test]
fn malformed_documents_are_rejected_with_a_reason() {
    let statement = |members: &str| {
        parse_error(&format!(
            r#"{{"Version": "2012-10-17", "Statement": [
                    {{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}},
                    {{{members}}}]}}"#
        ))
    };
    let cases: Vec<(String, &str)> = vec![
        (parse_error("{not json"), "not valid JSON"),
        (parse_error("[]"), "must be a JSON object"),
        (
            parse_error(r#"{"Version": "2012-10-17"}"#),
            "Statement is required",
        ),
        (
            parse_error(r#"{"Version": "2012-10-17", "Statement": []}"#),
            "Statement must not be an empty array",
        ),
        (
            parse_error(r#"{"Version": "2012-10-17", "Statement": "x"}"#),
            "Statement must be an object",
        ),
        (
            parse_error(r#"{"Version": "2012-10-18", "Statement": {}}"#),
            "Version must be",
        ),
        (
            parse_error(r#"{"Version": 2012, "Statement": {}}"#),
            "Version must be",
        ),
        (
            parse_error(r#"{"Statement": {}, "Extra": 1}"#),
            "unknown member \"Extra\"",
        ),
        (
            parse_error(r#"{"Statement": {}, "Id": 7}"#),
            "Id must be a string",
        ),
        (
            statement(r#""Action": "kms:Encrypt", "Resource": "*""#),
            "Statement 2: Effect is required",
        ),
        (
            statement(r#""Effect": "allow", "Action": "kms:Encrypt", "Resource": "*""#),
            "Statement 2: Effect must be \"Allow\" or \"Deny\"",
        ),
        (
            statement(
                r#""Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*""#,
            ),
            "Statement 2: identity policies must not name a principal",
        ),
        (
            statement(
                r#""Effect": "Allow", "NotPrincipal": {"AWS": "x"}, "Action": "kms:Encrypt", "Resource": "*""#,
            ),
            "identity policies must not name a principal",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "NotAction": "kms:Decrypt", "Resource": "*""#,
            ),
            "exactly one of Action and NotAction",
        ),
        (
            statement(r#""Effect": "Allow", "Resource": "*""#),
            "exactly one of Action and NotAction",
        ),
        (
            statement(r#""Effect": "Allow", "Action": "kms:Encrypt""#),
            "exactly one of Resource and NotResource",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "NotResource": "*""#,
            ),
            "exactly one of Resource and NotResource",
        ),
        (
            statement(r#""Effect": "Allow", "Action": "kms", "Resource": "*""#),
            "Action must be \"*\" or \"service:Name\"",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": ["kms:Encrypt", "km_s:Decrypt"], "Resource": "*""#,
            ),
            "Action entry 2 must be",
        ),
        (
            statement(r#""Effect": "Allow", "Action": "kms:", "Resource": "*""#),
            "Action must be",
        ),
        (
            statement(r#""Effect": "Allow", "Action": ":Encrypt", "Resource": "*""#),
            "Action must be",
        ),
        (
            statement(r#""Effect": "Allow", "Action": "kms:Enc rypt", "Resource": "*""#),
            "Action must be",
        ),
        (
            statement(r#""Effect": "Allow", "Action": [], "Resource": "*""#),
            "Action must be a string or a non-empty array of strings",
        ),
        (
            statement(r#""Effect": "Allow", "Action": ["kms:Encrypt", 3], "Resource": "*""#),
            "Action must be a string or a non-empty array of strings",
        ),
        (
            statement(r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "key/1""#),
            "Resource must be \"*\" or an ARN",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "arn:x:${aws:username""#,
            ),
            "Resource has an unterminated policy variable",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "arn:x:${username}""#,
            ),
            "Resource has a malformed policy variable",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"StringEqualz": {"aws:username": "a"}}"#,
            ),
            "Condition operator \"StringEqualz\" is not supported",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"NullIfExists": {"aws:username": "true"}}"#,
            ),
            "is not supported",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"Null": {"aws:username": "maybe"}}"#,
            ),
            "must be true or false",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "yes"}}"#,
            ),
            "must be true or false",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"StringEquals": {"username": "a"}}"#,
            ),
            "must have the form service:name",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"StringEquals": {"aws:username": []}}"#,
            ),
            "non-empty array",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {"StringEquals": {}}"#,
            ),
            "must map one or more condition keys",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": []"#,
            ),
            "Condition must be an object",
        ),
        (
            statement(
                r#""Sid": "not ok", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*""#,
            ),
            "Sid must contain only ASCII letters and digits",
        ),
        (
            statement(
                r#""Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Effects": "Deny""#,
            ),
            "Statement 2: unknown member \"Effects\"",
        ),
    ];
    for (message, expected) in cases {
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
    }
}

#[test]
fn duplicate_sids_are_rejected() {
    let message = parse_error(
        r#"{"Version": "2012-10-17", "Statement": [
                {"Sid": "A", "Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"},
                {"Sid": "A", "Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}"#,
    );
    assert!(
        message.starts_with("Statement 2: Sid must be unique"),
        "{message}"
    );
}

#[test]
fn errors_never_echo_document_values() {
    let secret = "s3cr3tV4lue";
    let documents = [
        format!(
            r#"{{"Statement": {{"Effect": "{secret}", "Action": "kms:Encrypt", "Resource": "*"}}}}"#
        ),
        format!(r#"{{"Statement": {{"Effect": "Allow", "Action": "{secret}", "Resource": "*"}}}}"#),
        format!(
            r#"{{"Statement": {{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "{secret}"}}}}"#
        ),
        format!(r#"{{"Version": "{secret}", "Statement": {{}}}}"#),
        format!(
            r#"{{"Statement": {{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*", "Condition": {{"Null": {{"aws:x": "{secret}"}}}}}}}}"#
        ),
        format!(r#"{{"Statement": {{"Sid": "{secret}!", "Effect": "Allow"}}}}"#),
        format!(r#"{{"Statement": "{secret}"#),
        // An overlong member name is left out rather than quoted.
        format!(r#"{{"Statement": {{}}, "{}": 1}}"#, secret.repeat(10)),
    ];
    for document in documents {
        let message = parse_error(&document);
        assert!(!message.contains(secret), "{message}");
    }
}
