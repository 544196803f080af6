//! Secret rotation through hooks, with the real server and a real hook: a shell script in the
//! rotation hook directory that drives vaultd with the real vaultctl, as a rotation Lambda drives
//! AWS. Success, each failing step, a hook that sets no value, hooks vaultd refuses, and the
//! schedule under the manual clock.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use tonic::Code;
use vaultd::{client::Client, pb};

use crate::common::{ROOT_ACCESS_KEY_ID, ROOT_SECRET, TestServer, assert_error, vaultctl_bin};

/// Writes an executable hook into the server's hook directory. On createSecret it puts
/// `new-<token>` on AWSPENDING with vaultctl (unless `put_value` is false); it fails the step
/// named `fail_at`; it logs every step, and whether AWSPENDING had a value before createSecret.
fn hook(server: &TestServer, name: &str, fail_at: &str, put_value: bool) -> (PathBuf, PathBuf) {
    let dir = server.data_dir.with_file_name("hooks");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join(name);
    let log = dir.join(format!("{name}.log"));
    let put = match put_value {
        true => concat!(
            "\"$VAULTCTL\" secretsmanager put-secret-value --secret-id \"$VAULTD_SECRET_ID\" ",
            "--client-request-token \"$VAULTD_CLIENT_REQUEST_TOKEN\" ",
            "--secret-string \"new-$VAULTD_CLIENT_REQUEST_TOKEN\" --version-stages AWSPENDING ",
            ">> \"$LOG.err\" 2>&1 || exit 1"
        )
        .to_string(),
        false => ":".into(),
    };
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
export VAULTCTL='{vaultctl}' VAULTD_ENDPOINT='{endpoint}' VAULTD_ACCESS_KEY_ID='{id}' VAULTD_SECRET_ACCESS_KEY='{secret}' LOG='{log}'
echo "$VAULTD_ROTATION_STEP" >> '{log}'
if [ "$VAULTD_ROTATION_STEP" = createSecret ]; then
  if "$VAULTCTL" secretsmanager get-secret-value --secret-id "$VAULTD_SECRET_ID" --version-stage AWSPENDING > /dev/null 2>&1; then
    echo "pending-had-a-value" >> '{log}'
  fi
  {put}
fi
[ "$VAULTD_ROTATION_STEP" != '{fail_at}' ]
"#,
            vaultctl = vaultctl_bin(),
            endpoint = server.endpoint(),
            id = ROOT_ACCESS_KEY_ID,
            secret = ROOT_SECRET,
            log = log.display(),
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).unwrap();
    (script, log)
}

async fn describe(client: &Client, id: &str) -> pb::DescribeSecretResponse {
    client
        .describe_secret(pb::DescribeSecretRequest {
            secret_id: id.into(),
        })
        .await
        .unwrap()
}

/// Waits until the rotation in the background has an outcome (a rotation date or a failure).
async fn outcome(client: &Client, id: &str) -> pb::DescribeSecretResponse {
    let started = Instant::now();
    loop {
        let described = describe(client, id).await;
        if described.last_rotated_date.is_some() || !described.rotation_failure.is_empty() {
            return described;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no outcome: {described:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn value(client: &Client, id: &str, stage: &str) -> Option<String> {
    client
        .get_secret_value(pb::GetSecretValueRequest {
            secret_id: id.into(),
            version_stage: stage.into(),
            ..Default::default()
        })
        .await
        .ok()
        .and_then(|v| v.secret_string)
}

async fn rotate(
    client: &Client,
    id: &str,
    hook: &Path,
) -> Result<pb::RotateSecretResponse, vaultd::client::ClientError> {
    client
        .rotate_secret(pb::RotateSecretRequest {
            secret_id: id.into(),
            rotation_lambda_arn: format!("command:{}", hook.display()),
            ..Default::default()
        })
        .await
}

fn log(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn secret(client: &Client, name: &str) {
    client
        .create_secret(pb::CreateSecretRequest {
            name: name.into(),
            secret_string: Some("old".into()),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_runs_the_four_steps_and_moves_awscurrent() {
    let server = TestServer::start().await;
    let client = server.client();
    secret(&client, "db").await;
    let (script, log_file) = hook(&server, "ok.sh", "none", true);
    let started = rotate(&client, "db", &script).await.unwrap();
    let described = outcome(&client, "db").await;
    assert_eq!(
        described.rotation_failure,
        "",
        "{}",
        std::fs::read_to_string(format!("{}.err", log_file.display())).unwrap_or_default()
    );
    assert_eq!(described.rotation_enabled, Some(true));
    assert_eq!(
        log(&log_file),
        ["createSecret", "setSecret", "testSecret", "finishSecret"],
        "AWSPENDING has no value before createSecret"
    );
    let token = started.version_id;
    assert_eq!(
        value(&client, "db", "AWSCURRENT").await,
        Some(format!("new-{token}"))
    );
    assert_eq!(
        value(&client, "db", "AWSPREVIOUS").await.as_deref(),
        Some("old")
    );
    assert_eq!(value(&client, "db", "AWSPENDING").await, None);
    assert_eq!(
        described.version_ids_to_stages[&token].stages,
        ["AWSCURRENT"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_step_leaves_awscurrent_alone_and_says_why() {
    let server = TestServer::start().await;
    let client = server.client();
    for step in ["setSecret", "testSecret", "finishSecret"] {
        let name = format!("db-{step}");
        secret(&client, &name).await;
        let (script, log_file) = hook(&server, &format!("{step}.sh"), step, true);
        rotate(&client, &name, &script).await.unwrap();
        let described = outcome(&client, &name).await;
        assert!(
            described.rotation_failure.starts_with(step),
            "{}",
            described.rotation_failure
        );
        assert_eq!(
            value(&client, &name, "AWSCURRENT").await.as_deref(),
            Some("old")
        );
        // The new value waits on AWSPENDING for the next attempt.
        assert!(
            value(&client, &name, "AWSPENDING")
                .await
                .unwrap()
                .starts_with("new-")
        );
        assert_eq!(log(&log_file).last().map(String::as_str), Some(step));
    }
    // A hook that sets no value fails at createSecret.
    secret(&client, "lazy").await;
    let (script, _) = hook(&server, "lazy.sh", "none", false);
    rotate(&client, "lazy", &script).await.unwrap();
    let described = outcome(&client, "lazy").await;
    assert!(
        described.rotation_failure.starts_with("createSecret"),
        "{}",
        described.rotation_failure
    );
    assert_eq!(
        value(&client, "lazy", "AWSCURRENT").await.as_deref(),
        Some("old")
    );
    // The next rotation (a good hook) starts over and succeeds.
    let (good, _) = hook(&server, "good.sh", "none", true);
    rotate(&client, "lazy", &good).await.unwrap();
    let described = outcome(&client, "lazy").await;
    assert_eq!(described.rotation_failure, "");
    assert!(
        value(&client, "lazy", "AWSCURRENT")
            .await
            .unwrap()
            .starts_with("new-")
    );
}

#[tokio::test]
async fn vaultd_runs_only_hooks_from_its_hook_directory() {
    let server = TestServer::start().await;
    let client = server.client();
    secret(&client, "db").await;
    for hook in [
        "command:/bin/sh",
        "command:/usr/bin/env",
        "https://rotator.example/",
        "lambda",
    ] {
        assert_error(
            client
                .rotate_secret(pb::RotateSecretRequest {
                    secret_id: "db".into(),
                    rotation_lambda_arn: hook.into(),
                    ..Default::default()
                })
                .await,
            Code::InvalidArgument,
            "InvalidParameterException",
        );
    }
    // No hook at all.
    assert_error(
        client
            .rotate_secret(pb::RotateSecretRequest {
                secret_id: "db".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "InvalidRequestException",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_rules_rotate_by_themselves() {
    let server = TestServer::start().await;
    let client = server.client();
    secret(&client, "scheduled").await;
    // Once the manual clock has moved on, vaultctl's signatures (dated by the real clock) would
    // be stale, so this hook calls nothing: the rotation it takes part in fails at createSecret,
    // which is enough to see that the schedule started it.
    let (script, log_file) = hook(&server, "sched.sh", "none", false);
    client
        .rotate_secret(pb::RotateSecretRequest {
            secret_id: "scheduled".into(),
            rotation_lambda_arn: format!("command:{}", script.display()),
            rotation_rules: Some(pb::RotationRulesType {
                automatically_after_days: Some(2),
                ..Default::default()
            }),
            rotate_immediately: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let described = describe(&client, "scheduled").await;
    let now = crate::common::NowSecs::now_secs(&*server.clock);
    assert_eq!(
        described.next_rotation_date.unwrap().seconds,
        now + 2 * 86_400
    );
    assert!(log(&log_file).is_empty(), "not rotated yet");
    // Not due yet: nothing starts.
    assert_eq!(server.vault.secrets.rotate_due().unwrap(), 0);
    server.clock.advance(Duration::from_secs(2 * 86_400));
    assert_eq!(server.vault.secrets.rotate_due().unwrap(), 1);
    let described = outcome(&client, "scheduled").await;
    assert!(
        described.rotation_failure.starts_with("createSecret"),
        "{}",
        described.rotation_failure
    );
    assert_eq!(log(&log_file), ["createSecret"]);
    assert_eq!(
        value(&client, "scheduled", "AWSCURRENT").await.as_deref(),
        Some("old")
    );
    // The next one is an interval away.
    let now = crate::common::NowSecs::now_secs(&*server.clock);
    assert_eq!(
        describe(&client, "scheduled")
            .await
            .next_rotation_date
            .unwrap()
            .seconds,
        now + 2 * 86_400
    );
    // CancelRotateSecret turns it off.
    client
        .cancel_rotate_secret(pb::CancelRotateSecretRequest {
            secret_id: "scheduled".into(),
        })
        .await
        .unwrap();
    let described = describe(&client, "scheduled").await;
    assert_eq!(
        (described.rotation_enabled, described.next_rotation_date),
        (Some(false), None)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_rotation_at_a_time_and_a_cancelled_one_moves_nothing() {
    let server = TestServer::start().await;
    let client = server.client();
    secret(&client, "busy").await;
    // A hook that takes its time at setSecret.
    let dir = server.data_dir.with_file_name("hooks");
    let (script, log_file) = hook(&server, "slow.sh", "none", true);
    let slow = dir.join("slower.sh");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\n[ \"$VAULTD_ROTATION_STEP\" = setSecret ] && sleep 1\nexec '{}'\n",
            script.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&slow).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&slow, perms).unwrap();
    rotate(&client, "busy", &slow).await.unwrap();
    assert_error(
        rotate(&client, "busy", &slow).await,
        Code::InvalidArgument,
        "InvalidRequestException",
    );
    // Cancelled while it runs: when it ends, AWSCURRENT has not moved.
    client
        .cancel_rotate_secret(pb::CancelRotateSecretRequest {
            secret_id: "busy".into(),
        })
        .await
        .unwrap();
    let started = Instant::now();
    while log(&log_file).len() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{:?}",
            log(&log_file)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        value(&client, "busy", "AWSCURRENT").await.as_deref(),
        Some("old")
    );
    assert_eq!(
        describe(&client, "busy").await.rotation_enabled,
        Some(false)
    );
}
