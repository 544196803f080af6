//! The AWS front end from Rust, over a real socket: one state behind both front ends, the SigV4
//! checks and AWS's error shapes. (tests/aws/ drives it with the real AWS clients.)

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vaultd::{
    auth::{sigv4, throttle::ThrottleConfig},
    clock::{Clock, format_basic_iso8601},
    pb,
};

use crate::common::{ROOT_ACCESS_KEY_ID, ROOT_SECRET, TestServer};

/// One HTTP answer.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// How to sign a request (each field can be spoiled by a test).
#[derive(Clone)]
struct Signer {
    key_id: String,
    secret: String,
    region: String,
    service: String,
    /// Seconds to move the signing date from the server's clock.
    skew: i64,
    token: Option<String>,
    /// Headers sent but left out of the signature.
    unsigned: Vec<&'static str>,
}

impl Signer {
    fn root(service: &str) -> Self {
        Self {
            key_id: ROOT_ACCESS_KEY_ID.into(),
            secret: ROOT_SECRET.into(),
            region: "us-east-1".into(),
            service: service.into(),
            skew: 0,
            token: None,
            unsigned: Vec::new(),
        }
    }
}

/// Sends a signed POST to the AWS endpoint; `signed_body` is what the signature covers (the
/// body itself unless a test tampers with it).
fn send(
    server: &TestServer,
    signer: Option<&Signer>,
    extra: &[(&str, &str)],
    body: &str,
    signed_body: &str,
) -> Answer {
    let host = server.aws_addr.to_string();
    let mut headers: Vec<(String, String)> = vec![("host".into(), host.clone())];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    if let Some(signer) = signer {
        let now = server.clock.now();
        let date = if signer.skew >= 0 {
            now + Duration::from_secs(signer.skew as u64)
        } else {
            now - Duration::from_secs(signer.skew.unsigned_abs())
        };
        let amz_date = format_basic_iso8601(date);
        headers.push(("x-amz-date".into(), amz_date.clone()));
        if let Some(token) = &signer.token {
            headers.push(("x-amz-security-token".into(), token.clone()));
        }
        let names: Vec<String> = headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .filter(|n| !signer.unsigned.contains(&n.as_str()))
            .collect();
        let raw: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let payload = hex::encode(Sha256::digest(signed_body.as_bytes()));
        let input = sigv4::CanonicalInput {
            method: "POST",
            path: "/",
            query: "",
            headers: &raw,
            payload_sha256_hex: &payload,
        };
        let mut signed: Vec<String> = names.clone();
        signed.sort();
        let canonical = sigv4::canonical_request(&input, &signed).unwrap();
        let scope = format!(
            "{}/{}/{}/aws4_request",
            &amz_date[..8],
            signer.region,
            signer.service
        );
        let to_sign = sigv4::string_to_sign(&amz_date, &scope, &canonical);
        let key = sigv4::signing_key(
            &signer.secret,
            &amz_date[..8],
            &signer.region,
            &signer.service,
        );
        let signature = {
            use hmac::{KeyInit, Mac};
            let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key.as_ref()).unwrap();
            mac.update(to_sign.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        };
        headers.push((
            "authorization".into(),
            format!(
                "{} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
                sigv4::ALGORITHM,
                signer.key_id,
                signed.join(";")
            ),
        ));
    }
    let mut request = String::from("POST / HTTP/1.1\r\n");
    for (name, value) in &headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    exchange(server.aws_addr, request.as_bytes())
}

fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

/// An awsJson call signed by `signer`.
fn json_call(server: &TestServer, signer: &Signer, target: &str, body: Value) -> Answer {
    let body = body.to_string();
    send(
        server,
        Some(signer),
        &[
            ("x-amz-target", target),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        &body,
        &body,
    )
}

fn kms(server: &TestServer, action: &str, body: Value) -> Answer {
    json_call(
        server,
        &Signer::root("kms"),
        &format!("TrentService.{action}"),
        body,
    )
}

fn query_call(server: &TestServer, signer: &Signer, form: &str) -> Answer {
    send(
        server,
        Some(signer),
        &[(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )],
        form,
        form,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_made_over_grpc_serves_the_aws_protocol_and_back() {
    let server = TestServer::start().await;
    let grpc = server.client();
    let created = grpc
        .create_key(pb::CreateKeyRequest::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap();

    let described = tokio::task::block_in_place(|| {
        kms(&server, "DescribeKey", json!({"KeyId": created.key_id}))
    });
    assert_eq!(described.status, 200, "{}", described.body);
    assert_eq!(
        described.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    let metadata = &described.json()["KeyMetadata"];
    assert_eq!(
        metadata["Arn"], created.arn,
        "the same ARN on both front ends"
    );
    assert_eq!(metadata["KeyState"], "Enabled");
    assert_eq!(metadata["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(metadata["AWSAccountId"], "000000000000");
    assert!(metadata["CreationDate"].is_number());

    let encrypted = tokio::task::block_in_place(|| {
        kms(
            &server,
            "Encrypt",
            json!({"KeyId": created.arn, "Plaintext": "aGVsbG8=", "EncryptionContext": {"app": "t"}}),
        )
    });
    assert_eq!(encrypted.status, 200, "{}", encrypted.body);
    let blob = encrypted.json()["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    use base64::Engine;
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(&blob)
        .unwrap();
    let decrypted = grpc
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: ciphertext,
            encryption_context: [("app".to_string(), "t".to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(decrypted.plaintext, b"hello");
    assert_eq!(decrypted.key_id, created.arn);

    // An alias made over AWS names the key over gRPC.
    let aliased = tokio::task::block_in_place(|| {
        kms(
            &server,
            "CreateAlias",
            json!({"AliasName": "alias/both", "TargetKeyId": created.key_id}),
        )
    });
    assert_eq!(aliased.status, 200, "{}", aliased.body);
    let by_alias = grpc
        .describe_key(pb::DescribeKeyRequest {
            key_id: "alias/both".into(),
        })
        .await
        .unwrap();
    assert_eq!(by_alias.key_metadata.unwrap().arn, created.arn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_checked_as_aws_does() {
    let server = TestServer::start().await;
    tokio::task::block_in_place(|| {
        let body = json!({}).to_string();
        let target = [
            ("x-amz-target", "TrentService.ListKeys"),
            ("content-type", "application/x-amz-json-1.1"),
        ];
        let expect = |answer: Answer, status: u16, code: &str, says: &str| {
            assert_eq!(answer.status, status, "{}", answer.body);
            let json = answer.json();
            assert_eq!(json["__type"], code, "{}", answer.body);
            assert!(
                json["message"].as_str().unwrap().contains(says),
                "{}",
                answer.body
            );
            assert!(answer.header("x-amzn-requestid").is_some());
        };

        let ok = send(&server, Some(&Signer::root("kms")), &target, &body, &body);
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.json()["Keys"], json!([]));

        let unsigned = send(&server, None, &target, &body, &body);
        expect(
            unsigned,
            403,
            "MissingAuthenticationTokenException",
            "Authentication Token",
        );

        let wrong_secret = Signer {
            secret: "x".repeat(40),
            ..Signer::root("kms")
        };
        expect(
            send(&server, Some(&wrong_secret), &target, &body, &body),
            400,
            "InvalidSignatureException",
            "signature we calculated does not match",
        );

        let unknown = Signer {
            key_id: "AKIAAAAAAAAAAAAAAAAA".into(),
            ..Signer::root("kms")
        };
        expect(
            send(&server, Some(&unknown), &target, &body, &body),
            400,
            "UnrecognizedClientException",
            "security token included in the request is invalid",
        );

        let late = Signer {
            skew: -600,
            ..Signer::root("kms")
        };
        expect(
            send(&server, Some(&late), &target, &body, &body),
            400,
            "InvalidSignatureException",
            "Signature expired",
        );

        // The payload hash is part of the signature.
        expect(
            send(
                &server,
                Some(&Signer::root("kms")),
                &target,
                &body,
                "{\"Limit\": 1}",
            ),
            400,
            "InvalidSignatureException",
            "does not match",
        );

        let elsewhere = Signer {
            region: "eu-west-1".into(),
            ..Signer::root("kms")
        };
        expect(
            send(&server, Some(&elsewhere), &target, &body, &body),
            400,
            "InvalidSignatureException",
            "valid region",
        );

        let other_service = Signer::root("ssm");
        expect(
            send(&server, Some(&other_service), &target, &body, &body),
            400,
            "InvalidSignatureException",
            "'kms'",
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_take_aws_shapes_and_statuses() {
    let server = TestServer::start().await;
    tokio::task::block_in_place(|| {
        let missing = kms(
            &server,
            "DescribeKey",
            json!({"KeyId": "0b7b8f4e-9d1c-4a5e-8f3e-2b6f7c8d9e0f"}),
        );
        assert_eq!(missing.status, 400);
        assert_eq!(missing.json()["__type"], "NotFoundException");
        assert_eq!(
            missing.header("x-amzn-errortype"),
            Some("NotFoundException")
        );

        let unknown = kms(&server, "DescribeKeys", json!({}));
        assert_eq!(unknown.status, 400);
        assert_eq!(unknown.json()["__type"], "UnknownOperationException");

        let bad_json = send(
            &server,
            Some(&Signer::root("kms")),
            &[
                ("x-amz-target", "TrentService.ListKeys"),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            "{not json",
            "{not json",
        );
        assert_eq!(bad_json.status, 400);
        assert_eq!(bad_json.json()["__type"], "SerializationException");

        let bad_enum = kms(&server, "CreateKey", json!({"KeySpec": "RSA_1024"}));
        assert_eq!(bad_enum.status, 400);
        assert_eq!(bad_enum.json()["__type"], "ValidationException");

        let ssm = json_call(
            &server,
            &Signer::root("ssm"),
            "AmazonSSM.GetParameter",
            json!({"Name": "/nothing/here"}),
        );
        assert_eq!(ssm.status, 400);
        assert_eq!(ssm.json()["__type"], "ParameterNotFound");

        let secrets = json_call(
            &server,
            &Signer::root("secretsmanager"),
            "secretsmanager.GetSecretValue",
            json!({"SecretId": "nothing"}),
        );
        assert_eq!(secrets.status, 400);
        assert_eq!(secrets.json()["__type"], "ResourceNotFoundException");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_requests_get_the_code_sdks_retry() {
    let throttle = ThrottleConfig::parse("write=1").unwrap();
    let server = TestServer::start_throttled(throttle).await;
    tokio::task::block_in_place(|| {
        let codes: Vec<(u16, Value)> = (0..5)
            .map(|_| {
                let answer = kms(&server, "CreateKey", json!({}));
                (answer.status, answer.json()["__type"].clone())
            })
            .collect();
        assert!(
            codes.contains(&(400, json!("ThrottlingException"))),
            "{codes:?}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sts_and_iam_speak_the_query_protocol() {
    let server = TestServer::start().await;
    tokio::task::block_in_place(|| {
        let who = query_call(
            &server,
            &Signer::root("sts"),
            "Action=GetCallerIdentity&Version=2011-06-15",
        );
        assert_eq!(who.status, 200, "{}", who.body);
        assert!(who.body.starts_with(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
        ));
        assert!(
            who.body
                .contains("<Arn>arn:aws:iam::000000000000:user/root</Arn>")
        );
        assert!(who.body.contains("<Account>000000000000</Account>"));

        let created = query_call(
            &server,
            &Signer::root("iam"),
            "Action=CreateUser&Version=2010-05-08&UserName=app",
        );
        assert_eq!(created.status, 200, "{}", created.body);
        assert!(
            created.body.contains("<UserName>app</UserName>"),
            "{}",
            created.body
        );

        let again = query_call(
            &server,
            &Signer::root("iam"),
            "Action=CreateUser&Version=2010-05-08&UserName=app",
        );
        assert_eq!(again.status, 409, "{}", again.body);
        assert!(
            again.body.contains("<Code>EntityAlreadyExists</Code>"),
            "{}",
            again.body
        );
        assert!(again.body.contains("<Type>Sender</Type>"), "{}", again.body);

        let wrong = Signer {
            secret: "y".repeat(40),
            ..Signer::root("sts")
        };
        let refused = query_call(
            &server,
            &wrong,
            "Action=GetCallerIdentity&Version=2011-06-15",
        );
        assert_eq!(refused.status, 403, "{}", refused.body);
        assert!(
            refused.body.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{}",
            refused.body
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_requests_are_audited_and_cloudtrail_lookup_events_reads_them() {
    let server = TestServer::start().await;
    tokio::task::block_in_place(|| {
        let answer = kms(&server, "ListKeys", json!({}));
        assert_eq!(answer.status, 200);
        let request_id = answer.header("x-amzn-requestid").unwrap().to_string();
        assert!(server.vault.audit.flush(Duration::from_secs(5)));
        let events = server
            .vault
            .audit
            .lookup(&vaultd::model::AuditQuery::default())
            .unwrap();
        let event = events
            .iter()
            .find(|e| e.body.contains(&request_id))
            .unwrap_or_else(|| panic!("no audit event for {request_id}"));
        assert_eq!(event.event_name, "kms:ListKeys");

        // The trail over the AWS protocol too, as CloudTrail's LookupEvents.
        let looked_up = json_call(
            &server,
            &Signer::root("cloudtrail"),
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
            json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ListKeys"}]}),
        );
        assert_eq!(looked_up.status, 200, "{}", looked_up.body);
        let found = looked_up.json();
        let events = found["Events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{found}");
        assert_eq!(events[0]["EventName"], "ListKeys");
        assert_eq!(events[0]["EventSource"], "kms.amazonaws.com");
        assert_eq!(events[0]["Username"], "root");
        assert!(events[0]["EventTime"].is_number());
        assert!(
            events[0]["CloudTrailEvent"]
                .as_str()
                .unwrap()
                .contains(&request_id)
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_picks_the_action_must_be_signed_so_a_captured_request_cannot_become_another() {
    let server = TestServer::start().await;
    let key = server
        .client()
        .create_key(pb::CreateKeyRequest::default())
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    tokio::task::block_in_place(|| {
        let body = json!({"KeyId": key.key_id}).to_string();
        let careless = Signer {
            unsigned: vec!["x-amz-target"],
            ..Signer::root("kms")
        };
        // Signed as DescribeKey without its target, sent as DisableKey: refused.
        let replayed = send(
            &server,
            Some(&careless),
            &[
                ("x-amz-target", "TrentService.DisableKey"),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            &body,
            &body,
        );
        assert_eq!(replayed.status, 400, "{}", replayed.body);
        assert_eq!(replayed.json()["__type"], "IncompleteSignatureException");
        assert!(
            replayed.json()["message"]
                .as_str()
                .unwrap()
                .contains("x-amz-target")
        );

        // A header that decides the request, given twice: refused.
        let doubled = send(
            &server,
            Some(&Signer::root("kms")),
            &[
                ("x-amz-target", "TrentService.DescribeKey"),
                ("x-amz-target", "TrentService.DisableKey"),
                ("content-type", "application/x-amz-json-1.1"),
            ],
            &body,
            &body,
        );
        assert_eq!(doubled.status, 400, "{}", doubled.body);
        assert_eq!(doubled.json()["__type"], "IncompleteSignatureException");
    });
    let after = server
        .client()
        .describe_key(pb::DescribeKeyRequest {
            key_id: key.key_id.clone(),
        })
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert!(after.enabled, "the key was never disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_client_errors_and_the_daemon_stays_up() {
    let server = TestServer::start().await;
    tokio::task::block_in_place(|| {
        // A form name nested 200,000 deep once overflowed the stack and took the daemon down.
        let deep = format!(
            "Action=GetCallerIdentity&Version=2011-06-15&{}a=1",
            "a.".repeat(200_000)
        );
        let answer = query_call(&server, &Signer::root("sts"), &deep);
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(
            answer.body.contains("<Code>MalformedQueryString</Code>"),
            "{}",
            answer.body
        );

        // Over the services' 4 MiB message limit: a 400 SDKs do not retry, never a 500.
        let big = json!({"Name": "big", "SecretString": "x".repeat(5 * 1024 * 1024)});
        let answer = json_call(
            &server,
            &Signer::root("secretsmanager"),
            "secretsmanager.CreateSecret",
            big,
        );
        assert_eq!(
            answer.status,
            400,
            "{}",
            &answer.body[..answer.body.len().min(300)]
        );
        assert_eq!(answer.json()["__type"], "ValidationException");

        // A body that says it is over the limit: refused before any of it is read (the client
        // sends only its first kilobyte).
        let head = format!(
            "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-target: TrentService.ListKeys\r\n\
             authorization: AWS4-HMAC-SHA256 Credential=x\r\ncontent-length: {}\r\n\r\n{}",
            server.aws_addr,
            7 * 1024 * 1024,
            "x".repeat(1024)
        );
        let answer = exchange(server.aws_addr, head.as_bytes());
        assert_eq!(answer.status, 413, "{}", answer.body);
        assert_eq!(answer.json()["__type"], "RequestEntityTooLarge");

        // A query API version vaultd does not speak.
        let answer = query_call(
            &server,
            &Signer::root("sts"),
            "Action=GetCallerIdentity&Version=1999-01-01",
        );
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert!(
            answer.body.contains("<Code>InvalidAction</Code>"),
            "{}",
            answer.body
        );

        // Still serving.
        let answer = kms(&server, "ListKeys", json!({}));
        assert_eq!(answer.status, 200, "{}", answer.body);
    });
}
