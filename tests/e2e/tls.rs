//! TLS, mutual TLS, certificate reload on SIGHUP and the Unix socket, against the real binary,
//! with certificates made at test time (rcgen).

use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use vaultd::client::{Client, ClientConfig, ClientTls, RetryPolicy};
use zeroize::Zeroizing;

use crate::common::*;

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate `ca` issued: (certificate PEM, key PEM).
fn leaf(ca: &Ca, names: &[&str], purpose: ExtendedKeyUsagePurpose) -> (String, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "vaultd test");
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![purpose];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn server_cert(ca: &Ca) -> (String, String) {
    leaf(
        ca,
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    )
}

fn client_cert(ca: &Ca) -> (String, String) {
    leaf(ca, &[], ExtendedKeyUsagePurpose::ClientAuth)
}

/// A data directory and the server's TLS files.
struct TlsDir {
    dir: tempfile::TempDir,
}

impl TlsDir {
    fn new(server: &(String, String)) -> Self {
        let this = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        this.write_server(server);
        this
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn write_server(&self, (cert, key): &(String, String)) {
        std::fs::write(self.path("server.pem"), cert).unwrap();
        std::fs::write(self.path("server.key"), key).unwrap();
    }

    fn args(&self) -> Vec<String> {
        [
            "--data-dir",
            &self.path("data"),
            "--dev",
            "--tls-cert-file",
            &self.path("server.pem"),
            "--tls-key-file",
            &self.path("server.key"),
        ]
        .map(String::from)
        .to_vec()
    }
}

fn start(args: &[String]) -> Daemon {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::start(&args, &FIXED_CREDS).unwrap()
}

fn client(endpoint: String, tls: ClientTls) -> Result<Client, vaultd::client::ClientError> {
    let mut config = ClientConfig::new(endpoint, root_credentials());
    config.tls = tls;
    config.retry = RetryPolicy {
        max_retries: 0,
        ..RetryPolicy::default()
    };
    config.timeout = Duration::from_secs(10);
    Client::connect(config)
}

fn trusting(ca: &Ca) -> ClientTls {
    ClientTls {
        ca_pem: Some(ca.pem.clone().into_bytes()),
        ..ClientTls::default()
    }
}

fn with_identity(ca: &Ca, (cert, key): (String, String)) -> ClientTls {
    ClientTls {
        identity: Some((cert.into_bytes(), Zeroizing::new(key.into_bytes()))),
        ..trusting(ca)
    }
}

async fn works(client: &Client) -> Result<(), vaultd::client::ClientError> {
    client.list_keys(Default::default()).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_connects_with_the_right_ca_and_is_refused_without() {
    let ca1 = ca("vaultd test CA");
    let dir = TlsDir::new(&server_cert(&ca1));
    let daemon = start(&dir.args());
    assert!(
        daemon.log().contains("tls=\"on\"") || daemon.log().contains("tls=on"),
        "{}",
        daemon.log()
    );
    let https = format!("https://localhost:{}", daemon.addr.port());

    works(&client(https.clone(), trusting(&ca1)).unwrap())
        .await
        .unwrap();
    // By IP address too: the certificate names 127.0.0.1.
    let by_ip = format!("https://127.0.0.1:{}", daemon.addr.port());
    works(&client(by_ip, trusting(&ca1)).unwrap())
        .await
        .unwrap();

    // Another CA, the system's roots, or plaintext: no answer.
    let other = ca("someone else");
    let err = works(&client(https.clone(), trusting(&other)).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code, tonic::Code::Unavailable, "{err}");
    assert!(err.message.contains("certificate"), "{err}");
    let err = works(&client(https.clone(), ClientTls::default()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.code, tonic::Code::Unavailable, "{err}");
    let plain = format!("http://127.0.0.1:{}", daemon.addr.port());
    assert!(
        works(&client(plain, ClientTls::default()).unwrap())
            .await
            .is_err()
    );
    // A certificate for another name is refused.
    let wrong_name = ClientTls {
        server_name: Some("vault.example.com".into()),
        ..trusting(&ca1)
    };
    assert!(works(&client(https, wrong_name).unwrap()).await.is_err());

    // vaultctl with --ca-bundle (as the AWS CLI's), and without.
    std::fs::write(dir.path("ca.pem"), &ca1.pem).unwrap();
    let vaultctl = |extra: &[&str]| {
        root_vaultctl(&format!("https://localhost:{}", daemon.addr.port()))
            .args(extra)
            .args(["kms", "list-keys", "--no-retry"])
            .output()
            .unwrap()
    };
    let ok = vaultctl(&["--ca-bundle", &dir.path("ca.pem")]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let refused = vaultctl(&[]);
    assert_eq!(refused.status.code(), Some(255));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    // The healthcheck speaks TLS when vaultd does.
    let output = scrubbed_command(vaultd_bin())
        .args([
            "healthcheck",
            "--endpoint",
            &format!("https://localhost:{}", daemon.addr.port()),
        ])
        .args(["--ca-file", &dir.path("ca.pem")])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The AWS endpoint serves TLS with the same certificate when --tls-cert-file is set: boto3
/// trusting the test CA works, one trusting another CA or speaking plain HTTP does not.
#[test]
fn the_aws_endpoint_serves_tls_with_the_same_certificate() {
    let ca1 = ca("vaultd test CA");
    let dir = TlsDir::new(&server_cert(&ca1));
    let mut args = dir.args();
    args.extend(["--aws-listen".to_string(), "127.0.0.1:0".to_string()]);
    let daemon = start(&args);
    let aws = daemon.aws_addr.expect("the AWS endpoint's address");
    assert!(
        daemon
            .log()
            .contains(&format!("AWS endpoint listening on https://{aws}")),
        "{}",
        daemon.log()
    );
    std::fs::write(dir.path("ca.pem"), &ca1.pem).unwrap();
    std::fs::write(dir.path("other-ca.pem"), ca("someone else").pem).unwrap();
    crate::aws::run_aws_script_on(
        "tls_check.py",
        &daemon,
        &format!("https://localhost:{}", aws.port()),
        &[
            ("AWS_CA_BUNDLE", &dir.path("ca.pem")),
            ("OTHER_CA_BUNDLE", &dir.path("other-ca.pem")),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_refuses_a_client_without_a_certificate_of_its_ca() {
    let ca1 = ca("vaultd test CA");
    let clients = ca("client CA");
    let dir = TlsDir::new(&server_cert(&ca1));
    std::fs::write(dir.path("clients.pem"), &clients.pem).unwrap();
    let mut args = dir.args();
    args.extend(["--tls-client-ca-file".into(), dir.path("clients.pem")]);
    let daemon = start(&args);
    let https = format!("https://localhost:{}", daemon.addr.port());

    works(&client(https.clone(), with_identity(&ca1, client_cert(&clients))).unwrap())
        .await
        .unwrap();
    // vaultctl with --client-cert and --client-key.
    let (cert, key) = client_cert(&clients);
    std::fs::write(dir.path("ca.pem"), &ca1.pem).unwrap();
    std::fs::write(dir.path("client.pem"), cert).unwrap();
    std::fs::write(dir.path("client.key"), key).unwrap();
    let output = root_vaultctl(&https)
        .args(["--ca-bundle", &dir.path("ca.pem")])
        .args([
            "--client-cert",
            &dir.path("client.pem"),
            "--client-key",
            &dir.path("client.key"),
        ])
        .args(["kms", "list-keys"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The healthcheck presents a client certificate too.
    let health = |extra: &[&str]| {
        scrubbed_command(vaultd_bin())
            .args([
                "healthcheck",
                "--endpoint",
                &https,
                "--ca-file",
                &dir.path("ca.pem"),
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let with_cert = [
        "--client-cert",
        &dir.path("client.pem"),
        "--client-key",
        &dir.path("client.key"),
    ];
    succeeded(&health(&with_cert));
    assert_eq!(health(&[]).status.code(), Some(1));
    assert!(
        works(&client(https.clone(), trusting(&ca1)).unwrap())
            .await
            .is_err()
    );
    // A client certificate from another CA (here the server's own) is refused too.
    assert!(
        works(&client(https, with_identity(&ca1, client_cert(&ca1))).unwrap())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_certificate_and_a_bad_one_keeps_the_old() {
    let ca1 = ca("first CA");
    let ca2 = ca("second CA");
    let dir = TlsDir::new(&server_cert(&ca1));
    let mut daemon = start(&dir.args());
    let https = format!("https://localhost:{}", daemon.addr.port());
    works(&client(https.clone(), trusting(&ca1)).unwrap())
        .await
        .unwrap();

    let hup = |daemon: &Daemon| {
        let pid = daemon.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    let wait_for = |daemon: &Daemon, text: &str, count: usize| {
        for _ in 0..100 {
            if daemon.log().matches(text).count() >= count {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no {text:?} in\n{}", daemon.log());
    };
    dir.write_server(&server_cert(&ca2));
    hup(&daemon);
    wait_for(&daemon, "reloaded", 1);
    works(&client(https.clone(), trusting(&ca2)).unwrap())
        .await
        .unwrap();
    assert!(
        works(&client(https.clone(), trusting(&ca1)).unwrap())
            .await
            .is_err()
    );

    // A broken key: the reload fails, the certificate in use stays, vaultd keeps serving.
    std::fs::write(dir.path("server.key"), "not a key").unwrap();
    hup(&daemon);
    wait_for(&daemon, "TLS reload failed", 1);
    works(&client(https, trusting(&ca2)).unwrap())
        .await
        .unwrap();
    assert!(daemon.signal("TERM").success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_unix_socket_serves_only_its_owner_and_the_healthcheck_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vaultd.sock");
    let data = dir.path().join("data");
    let args = [
        "--data-dir",
        data.to_str().unwrap(),
        "--dev",
        "--unix-socket",
        socket.to_str().unwrap(),
    ];
    let mut daemon = Daemon::start(&args, &FIXED_CREDS).unwrap();
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let over_socket = client(format!("unix://{}", socket.display()), ClientTls::default()).unwrap();
    let key = create_key(&over_socket).await;
    // The same vault over TCP.
    daemon
        .client(root_credentials())
        .describe_key(vaultd::pb::DescribeKeyRequest { key_id: key })
        .await
        .unwrap();
    let output = scrubbed_command(vaultd_bin())
        .args(["healthcheck"])
        .env("VAULTD_UNIX_SOCKET", &socket)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("unix://"));
    assert!(daemon.signal("TERM").success());
    assert!(
        !Path::new(&socket).exists(),
        "the socket is removed at exit"
    );
}
