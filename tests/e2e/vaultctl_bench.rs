//! `vaultctl bench` against a real server: what it reports and what it leaves behind. (A
//! functional test: rates are printed, never asserted.)

use vaultd::pb;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn bench_reports_rates_and_percentiles_against_the_baselines_and_cleans_up() {
    let server = TestServer::start().await;
    let output = tokio::task::spawn_blocking({
        let endpoint = server.endpoint();
        move || {
            root_vaultctl(&endpoint)
                .args([
                    "bench",
                    "--seconds",
                    "1",
                    "--concurrency",
                    "1,4",
                    "--connections",
                    "2",
                ])
                .args([
                    "--operations",
                    "generate-data-key,sign-p256,get-secret-value",
                ])
                .args(["--output", "json"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let out = succeeded(&output);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows["Rows"].as_array().unwrap();
    let names: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r["Operation"].as_str().unwrap(),
                r["Concurrency"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Health/Check", 1),
            ("Health/Check", 4),
            ("GenerateDataKey", 1),
            ("GenerateDataKey", 4),
            ("Sign ECC_NIST_P256", 1),
            ("Sign ECC_NIST_P256", 4),
            ("GetSecretValue", 1),
            ("GetSecretValue", 4),
        ]
    );
    for row in rows {
        assert_eq!(row["Errors"], 0, "{row}");
        assert!(row["Requests"].as_u64().unwrap() > 0, "{row}");
        let (p50, p99, p999) = (
            row["P50Ms"].as_f64().unwrap(),
            row["P99Ms"].as_f64().unwrap(),
            row["P999Ms"].as_f64().unwrap(),
        );
        assert!(0.0 < p50 && p50 <= p99 && p99 <= p999, "{row}");
        let is_health = row["Operation"] == "Health/Check";
        assert_eq!(row["OfHealthCheck"].is_null(), is_health, "{row}");
        let has_local = !is_health && row["Operation"] != "GetSecretValue";
        assert_eq!(!row["InProcessPerSecond"].is_null(), has_local, "{row}");
    }

    // What it made is scheduled for deletion (keys) or gone (the secret).
    let client = server.client();
    let keys = client.list_keys(Default::default()).await.unwrap().keys;
    let mut bench_keys = 0;
    for key in keys {
        let meta = client
            .describe_key(pb::DescribeKeyRequest { key_id: key.key_id })
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        if meta.description.starts_with("vaultctl bench") {
            bench_keys += 1;
            assert_eq!(
                meta.key_state,
                pb::KeyState::PendingDeletion as i32,
                "{meta:?}"
            );
        }
    }
    assert_eq!(bench_keys, 2);
    let secrets = client
        .list_secrets(Default::default())
        .await
        .unwrap()
        .secret_list;
    assert!(
        secrets
            .iter()
            .all(|s| !s.name.starts_with("vaultctl-bench")),
        "{secrets:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bench_fill_adds_keys_and_secrets_and_measures_each_row_again() {
    let server = TestServer::start().await;
    let output = tokio::task::spawn_blocking({
        let endpoint = server.endpoint();
        move || {
            root_vaultctl(&endpoint)
                .args(["bench", "--seconds", "1", "--concurrency", "2"])
                .args(["--operations", "encrypt,get-secret-value"])
                .args(["--fill-keys", "5", "--fill-secrets", "7"])
                .args(["--output", "json"])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let out = succeeded(&output);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows["Rows"].as_array().unwrap();
    let after: Vec<_> = rows.iter().filter(|r| !r["AfterFill"].is_null()).collect();
    let names: Vec<_> = after
        .iter()
        .map(|r| r["Operation"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Encrypt", "GetSecretValue"], "{out}");
    for row in after {
        assert_eq!(row["Errors"], 0, "{row}");
        assert_eq!(row["AfterFill"]["Keys"], 5, "{row}");
        assert_eq!(row["AfterFill"]["Secrets"], 7, "{row}");
        assert!(
            row["AfterFill"]["OfBeforeFill"].as_f64().unwrap() > 0.0,
            "{row}"
        );
    }

    // The fill stays (the bench's own key and secret do not).
    let client = server.client();
    let secrets = client
        .list_secrets(Default::default())
        .await
        .unwrap()
        .secret_list;
    let filled = secrets
        .iter()
        .filter(|s| s.name.starts_with("vaultctl-bench-fill-"))
        .count();
    assert_eq!(filled, 7, "{secrets:?}");
    let mut fill_keys = 0;
    for key in client.list_keys(Default::default()).await.unwrap().keys {
        let meta = client
            .describe_key(pb::DescribeKeyRequest { key_id: key.key_id })
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        if meta.description == "vaultctl bench fill" {
            assert_eq!(meta.key_state, pb::KeyState::Enabled as i32, "{meta:?}");
            fill_keys += 1;
        }
    }
    assert_eq!(fill_keys, 5);
}
