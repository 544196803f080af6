//! Seeds against a real vault: real SQLite files in a temporary directory, real crypto.

use std::{path::Path, sync::Arc};

use hmac::{KeyInit, Mac};
use p256::ecdsa::signature::Verifier;
use zeroize::Zeroizing;

use super::*;
use crate::{
    arn::Arns,
    audit::AuditConfig,
    auth::throttle::ThrottleConfig,
    clock::ManualClock,
    crypto::{
        asymmetric::{AsymmetricSpec, PrivateKey},
        barrier::RootKey,
        context::EncryptionContext,
        secret::Key256,
    },
    iam::RootCredentials,
    kms::Page,
    model::{KeyState, MacAlgorithm, SigningAlgorithm},
    vault::VaultConfig,
};

const AES_1: &str = "5cdaead27fe7da2de47945d73cd6d79e36494e73802f3cd3869f1d2cb0b5d7a9";
const AES_2: &str = "614E645267556B58703273357638792F423F4528472B4B6250655368566D5971";
const HMAC_KEY: &str = "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef";
/// The P-256 key of local-kms's README (SEC1 PEM), a public test key.
const LOCAL_KMS_EC_PEM: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMnOrUrXr8rwne7d8f01cfwmpS/w+K7jcyWmmeLDgWKaoAoGCCqGSM49
AwEHoUQDQgAEYNMBBZ3h1ipuph1iO5k+yLvTs94UN71quXN3f0P/tprs2Fp2FEas
M7m7XZ2xlDK3wcEAs1QEIoQjjwnhcptQ6A==
-----END EC PRIVATE KEY-----";
const SYMMETRIC_ID: &str = "bc436485-5092-42b8-92a3-0aa8b93536dc";
const HMAC_ID: &str = "01234567-89ab-cdef-0123-456789abcdef";
const ECC_ID: &str = "800d5768-3fd7-4edd-a4b8-4c81c3e4c147";
const RSA_ID: &str = "5e1c1bd8-4b1b-4f57-8d21-6a7a3e9c0f11";
const APP_KEY_ID: &str = "AKIAAPPSEEDKEY234567";
const APP_SECRET: &str = "appSeedSecret/0123456789abcdefghijklmnop";

fn open(dir: &Path, root: &RootKey) -> Vault {
    Vault::open(VaultConfig {
        storage: Default::default(),
        data_dir: dir.to_path_buf(),
        root_key: root.clone(),
        arns: Arns::default(),
        clock: Arc::new(ManualClock::starting_now()),
        root_credentials: RootCredentials::Fixed(Credentials {
            access_key_id: "AKIAEXAMPLEKEY234567".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
        }),
        throttle: ThrottleConfig::off(),
        audit: AuditConfig::default(),
        rotation_hooks: Default::default(),
    })
    .expect("vault opens")
}

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap()
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

fn vaultd_seed(backing_keys: &[&str]) -> String {
    format!(
        r#"
Keys:
  - KeyId: {SYMMETRIC_ID}
    Description: billing data
    BackingKeys: [{}]
    RotationPeriodInDays: 90
    Tags: {{team: payments}}
  - KeyId: {HMAC_ID}
    KeySpec: HMAC_256
    BackingKeys: [{HMAC_KEY}]
  - KeyId: {ECC_ID}
    KeySpec: ECC_NIST_P256
    KeyUsage: SIGN_VERIFY
    PrivateKeyPem: |
{}
Aliases:
  - AliasName: alias/billing
    TargetKeyId: {SYMMETRIC_ID}
Users:
  - UserName: app
    AccessKeys:
      - AccessKeyId: {APP_KEY_ID}
        SecretAccessKey: {APP_SECRET}
    Policies:
      - PolicyName: use-billing
        PolicyDocument:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: ["kms:Encrypt", "kms:Decrypt"]
              Resource: "*"
Parameters:
  - Name: /app/db/host
    Value: db.internal
  - Name: /app/db/port
    Value: 5432
  - Name: /app/db/password
    Type: SecureString
    Value: hunter2-seeded
    KeyId: alias/billing
Secrets:
  - Name: app/db
    SecretString: {{username: app, password: s3cret-seeded}}
    Description: the database login
"#,
        backing_keys.join(", "),
        indent(LOCAL_KMS_EC_PEM, 6)
    )
}

/// What a user would see of the vault: keys with state and versions, aliases, users with keys
/// and policies, parameter versions, secret versions.
fn snapshot(vault: &Vault) -> String {
    let mut out = String::new();
    let page = Page::default();
    for key in vault.kms.list_keys(&page).unwrap().items {
        let id = key.record.id;
        let rotations = match key.record.key_spec {
            crate::model::KeySpec::SymmetricDefault => {
                vault.kms.list_key_rotations(id, &page).unwrap().items.len()
            }
            _ => 0,
        };
        out += &format!("key {id} {} rotations={rotations}\n", key.record.state);
    }
    for alias in vault.kms.list_aliases(None, &page).unwrap().items {
        out += &format!("alias {} -> {}\n", alias.name, alias.target_key_id);
    }
    for user in vault.iam.list_users(&page).unwrap().items {
        let keys = vault
            .iam
            .list_access_keys(&user.name, &page)
            .unwrap()
            .1
            .items;
        let policies = vault
            .iam
            .list_user_policies(&user.name, &page)
            .unwrap()
            .items;
        out += &format!(
            "user {} keys={:?} policies={policies:?}\n",
            user.name,
            keys.iter().map(|k| &k.id).collect::<Vec<_>>()
        );
    }
    for name in ["/app/db/host", "/app/db/port", "/app/db/password"] {
        let history = vault.params.get_parameter_history(name, &page).unwrap();
        out += &format!("parameter {name} versions={}\n", history.items.len());
    }
    let secret = vault.secrets.find("app/db").unwrap();
    out += &format!(
        "secret {} versions={}\n",
        secret.arn,
        vault.secrets.versions(&secret, true).unwrap().len()
    );
    out
}

#[test]
fn a_seed_applied_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = RootKey::generate().unwrap();
    let seed = Seed::parse(&vaultd_seed(&[AES_1, AES_2])).unwrap();
    let vault = open(dir.path(), &root);
    let first = seed.apply(&vault).unwrap();
    assert_eq!(first.created.len(), 11, "{:?}", first.created);
    let before = snapshot(&vault);
    assert!(
        before.contains(&format!("key {SYMMETRIC_ID} Enabled rotations=1")),
        "{before}"
    );

    let second = seed.apply(&vault).unwrap();
    assert_eq!(
        (
            second.created.len(),
            second.extended.len(),
            second.unchanged
        ),
        (0, 0, 11)
    );
    assert_eq!(snapshot(&vault), before);

    // And at the next start.
    drop(vault);
    let vault = open(dir.path(), &root);
    let third = seed.apply(&vault).unwrap();
    assert!(third.created.is_empty() && third.extended.is_empty());
    assert_eq!(snapshot(&vault), before);
}

#[test]
fn seeded_things_work_as_the_seed_says() {
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path(), &RootKey::generate().unwrap());
    Seed::parse(&vaultd_seed(&[AES_1, AES_2]))
        .unwrap()
        .apply(&vault)
        .unwrap();
    let id = uuid(SYMMETRIC_ID);
    let key = vault.kms.describe_key(id).unwrap();
    assert_eq!(key.record.description, "billing data");
    let status = vault.kms.get_key_rotation_status(id).unwrap();
    assert_eq!((status.enabled, status.period_days), (true, Some(90)));
    let tags = vault
        .kms
        .list_resource_tags(id, &Page::default())
        .unwrap()
        .items;
    assert_eq!(
        tags,
        vec![Tag {
            key: "team".into(),
            value: "payments".into()
        }]
    );

    // The fixed access key signs in; the secret values read back.
    let access_key = vault
        .iam
        .access_key(APP_KEY_ID)
        .unwrap()
        .expect("seeded access key");
    assert_eq!(access_key.secret(), APP_SECRET);
    let (_, policy) = vault.iam.get_user_policy("app", "use-billing").unwrap();
    assert!(policy.contains("kms:Encrypt"), "{policy}");
    let (password, _) = vault.params.find("/app/db/password").unwrap();
    let opened = vault.params.open(password, String::new(), true).unwrap();
    assert_eq!(opened.value.as_str(), "hunter2-seeded");
    let (port, _) = vault.params.find("/app/db/port").unwrap();
    assert_eq!(
        vault
            .params
            .open(port, String::new(), true)
            .unwrap()
            .value
            .as_str(),
        "5432"
    );
    let secret = vault.secrets.find("app/db").unwrap();
    let version = vault.secrets.version(&secret, None, None).unwrap();
    let value = vault.secrets.open(&secret, version).unwrap();
    match value.value {
        SecretValue::String(text) => {
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(json["password"], "s3cret-seeded");
        }
        SecretValue::Binary(_) => panic!("a string secret"),
    }
}

#[test]
fn what_changed_at_run_time_survives_a_reseed() {
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path(), &RootKey::generate().unwrap());
    let seed = Seed::parse(&vaultd_seed(&[AES_1])).unwrap();
    seed.apply(&vault).unwrap();
    let id = uuid(SYMMETRIC_ID);
    vault.kms.disable_key(id).unwrap();
    vault
        .kms
        .rotate_key_on_demand(uuid(SYMMETRIC_ID))
        .unwrap_err(); // disabled keys don't rotate
    vault.kms.enable_key(id).unwrap();
    vault.kms.rotate_key_on_demand(id).unwrap();
    vault.kms.disable_key(id).unwrap();
    let report = seed.apply(&vault).unwrap();
    assert!(report.created.is_empty() && report.extended.is_empty());
    let key = vault.kms.describe_key(id).unwrap();
    assert_eq!(
        (key.record.state, key.record.current_version),
        (KeyState::Disabled, 2)
    );
}

#[test]
fn later_backing_keys_extend_a_seeded_key_and_old_ciphertexts_still_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path(), &RootKey::generate().unwrap());
    Seed::parse(&vaultd_seed(&[AES_1]))
        .unwrap()
        .apply(&vault)
        .unwrap();
    let id = uuid(SYMMETRIC_ID);
    let context = EncryptionContext::new();
    let old = vault.kms.encrypt(id, b"v1 data", &context, None).unwrap();

    let report = Seed::parse(&vaultd_seed(&[AES_1, AES_2]))
        .unwrap()
        .apply(&vault)
        .unwrap();
    assert_eq!(
        report.extended,
        vec![format!("key {SYMMETRIC_ID} (+1 versions)")]
    );
    let new = vault.kms.encrypt(id, b"v2 data", &context, None).unwrap();
    assert_eq!(new.material_version, 2);
    let decrypted = vault
        .kms
        .decrypt(id, &old.ciphertext_blob, &context, None)
        .unwrap();
    assert_eq!(decrypted.plaintext.as_slice(), b"v1 data");
    assert_eq!(decrypted.material_version, 1);
}

#[test]
fn a_key_with_other_material_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path(), &RootKey::generate().unwrap());
    Seed::parse(&vaultd_seed(&[AES_1]))
        .unwrap()
        .apply(&vault)
        .unwrap();
    let err = Seed::parse(&vaultd_seed(&[AES_2]))
        .unwrap()
        .apply(&vault)
        .unwrap_err();
    assert!(
        err.0.contains(SYMMETRIC_ID) && err.0.contains("other material in version 1"),
        "{err}"
    );
    assert!(
        !err.0.to_lowercase().contains(&AES_2.to_lowercase()[..16]),
        "{err}"
    );

    // An access key of that id with another secret is refused the same way.
    let other =
        vaultd_seed(&[AES_1]).replace(APP_SECRET, "otherSeedSecret/0123456789abcdefghijklmn");
    let err = Seed::parse(&other).unwrap().apply(&vault).unwrap_err();
    assert!(
        err.0.contains(APP_KEY_ID) && err.0.contains("another secret"),
        "{err}"
    );
    assert!(!err.0.contains("otherSeedSecret"), "{err}");
}

fn rsa_pem() -> (PrivateKey, String) {
    let key = PrivateKey::generate(AsymmetricSpec::Rsa2048).unwrap();
    let pem = pem_rfc7468::encode_string(
        "PRIVATE KEY",
        pem_rfc7468::LineEnding::LF,
        &key.to_pkcs8_der(),
    )
    .unwrap();
    (key, pem)
}

/// local-kms's documented format (its README's examples), with a rotated AES key, an HMAC key,
/// an RSA and an ECC key and an alias.
fn local_kms_seed(rsa_pem: &str) -> String {
    format!(
        r#"
Keys:
  Symmetric:
    Aes:
      - Metadata:
          KeyId: {SYMMETRIC_ID}
          Description: rotated once
        BackingKeys:
          - {AES_1}
          - {AES_2}
        NextKeyRotation: "2027-09-12T15:19:21+00:00"
    Hmac:
      - Metadata:
          KeyId: {HMAC_ID}
          KeyUsage: GENERATE_VERIFY_MAC
          KeySpec: HMAC_256
          Description: HMAC key for message authentication
        BackingKeys:
          - {HMAC_KEY}
  Asymmetric:
    Rsa:
      - Metadata:
          KeyId: {RSA_ID}
          KeyUsage: SIGN_VERIFY
          Description: RSA key
        PrivateKeyPem: |
{}
    Ecc:
      - Metadata:
          KeyId: {ECC_ID}
          KeyUsage: SIGN_VERIFY
          Description: ECC key with curve secp256r1
        PrivateKeyPem: |
{}
Aliases:
  - AliasName: alias/testing
    TargetKeyId: {SYMMETRIC_ID}
"#,
        indent(rsa_pem, 10),
        indent(LOCAL_KMS_EC_PEM, 10)
    )
}

#[test]
fn a_local_kms_seed_loads_and_its_keys_open_what_the_same_material_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path(), &RootKey::generate().unwrap());
    let (rsa, rsa_pem) = rsa_pem();
    let seed = Seed::parse(&local_kms_seed(&rsa_pem)).unwrap();
    let report = seed.apply(&vault).unwrap();
    assert_eq!(report.created.len(), 5, "{:?}", report.created);
    assert!(seed.apply(&vault).unwrap().created.is_empty());

    // Ciphertexts made outside the vault with each backing key (crypto.md §1) decrypt, the last
    // backing key is the current one, and the alias leads to the key.
    let id = uuid(SYMMETRIC_ID);
    assert_eq!(vault.kms.resolve("alias/testing").unwrap().id, id);
    let context: EncryptionContext = [("app", "billing")].into_iter().collect();
    for (version, hex_key) in [(1, AES_1), (2, AES_2)] {
        let material = Key256::from_slice(&hex::decode(hex_key).unwrap()).unwrap();
        let blob = crate::crypto::blob::seal(
            &material,
            *id.as_bytes(),
            version,
            &context,
            b"sealed outside",
        )
        .unwrap();
        let opened = vault.kms.decrypt(id, &blob, &context, None).unwrap();
        assert_eq!(opened.plaintext.as_slice(), b"sealed outside");
    }
    assert_eq!(
        vault
            .kms
            .encrypt(id, b"x", &context, None)
            .unwrap()
            .material_version,
        2
    );
    assert!(vault.kms.get_key_rotation_status(id).unwrap().enabled);

    // The HMAC key computes the MAC any HMAC implementation computes with the backing key.
    let message = b"user=42;exp=1700000000";
    let mac = vault
        .kms
        .generate_mac(uuid(HMAC_ID), message, Some(MacAlgorithm::HmacSha256))
        .unwrap()
        .mac;
    let mut expected =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&hex::decode(HMAC_KEY).unwrap()).unwrap();
    expected.update(message);
    assert_eq!(mac, expected.finalize().into_bytes().to_vec());

    // Signatures verify under the PEMs' public keys.
    let signature = vault
        .kms
        .sign(
            uuid(ECC_ID),
            b"release",
            None,
            Some(SigningAlgorithm::EcdsaSha256),
        )
        .unwrap()
        .signature;
    let ec = p256::SecretKey::from_sec1_der(
        &pem_rfc7468::decode_vec(LOCAL_KMS_EC_PEM.as_bytes())
            .unwrap()
            .1,
    )
    .unwrap();
    let verifying = *p256::ecdsa::SigningKey::from(ec).verifying_key();
    verifying
        .verify(
            b"release",
            &p256::ecdsa::DerSignature::try_from(signature.as_slice()).unwrap(),
        )
        .unwrap();
    let signature = vault
        .kms
        .sign(
            uuid(RSA_ID),
            b"release",
            None,
            Some(SigningAlgorithm::RsassaPssSha256),
        )
        .unwrap()
        .signature;
    rsa.public_key()
        .verify(
            SigningAlgorithm::RsassaPssSha256,
            crate::model::MessageType::Raw,
            b"release",
            &signature,
        )
        .unwrap();
}

#[test]
fn local_kms_legacy_seeds_load_too() {
    let legacy = format!(
        "Keys:\n  - Metadata:\n      KeyId: {SYMMETRIC_ID}\n    BackingKeys:\n      - {AES_1}\n"
    );
    let seed = Seed::parse(&legacy).unwrap();
    assert_eq!(seed.keys.len(), 1);
    assert_eq!(seed.keys[0].id, uuid(SYMMETRIC_ID));
}

#[test]
fn bad_seeds_are_refused_naming_the_entry() {
    let err = |text: &str| Seed::parse(text).unwrap_err().0;
    let typo = err(&format!(
        "Keys:\n  - KeyId: {SYMMETRIC_ID}\n    BackingKey: [{AES_1}]\n"
    ));
    assert!(typo.contains("BackingKey"), "{typo}");
    let bad_hex = err(&format!(
        "Keys:\n  - KeyId: {SYMMETRIC_ID}\n    BackingKeys: [zz{}]\n",
        &AES_1[2..]
    ));
    assert!(
        bad_hex.contains("Keys[0]") && bad_hex.contains("BackingKeys[0]"),
        "{bad_hex}"
    );
    let not_uuid = err("Keys:\n  - KeyId: my-key\n");
    assert!(not_uuid.contains("KeyId must be a key id"), "{not_uuid}");
    let twice = err(&format!(
        "Keys:\n  - KeyId: {SYMMETRIC_ID}\n  - KeyId: {SYMMETRIC_ID}\n"
    ));
    assert!(twice.contains("appears twice"), "{twice}");
    let short = err(&format!(
        "Keys:\n  Symmetric:\n    Aes:\n      - Metadata: {{KeyId: {SYMMETRIC_ID}}}\n        BackingKeys: [abcd]\n"
    ));
    assert!(short.contains("32 bytes"), "{short}");
    let bad_key = err(
        "Users:\n  - UserName: app\n    AccessKeys: [{AccessKeyId: AKIA1, SecretAccessKey: short}]\n",
    );
    assert!(
        bad_key.contains("Users[0] (app)") && !bad_key.contains("short"),
        "{bad_key}"
    );
    // A YAML syntax error says where, without quoting the line (it may hold a secret).
    let syntax = err("Secrets:\n  - Name: x\n    SecretString: \"never-shown\n");
    assert!(!syntax.contains("never-shown"), "{syntax}");
    // Material that does not fit the spec: a material error, without the material.
    let wrong_len = Seed::parse(&format!(
        "Keys:\n  - KeyId: {SYMMETRIC_ID}\n    BackingKeys: [abcdef]\n"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path(), &RootKey::generate().unwrap());
    let refused = wrong_len.apply(&vault).unwrap_err().0;
    assert!(
        refused.contains("material version 1") && refused.contains("32 bytes"),
        "{refused}"
    );
}

#[test]
fn the_compose_stacks_example_seed_applies() {
    let text = include_str!("../../deploy/seed.yaml");
    let seed = Seed::parse(text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let vault = open(dir.path(), &RootKey::generate().unwrap());
    let report = seed.apply(&vault).unwrap();
    assert!(
        report.extended.is_empty() && report.unchanged == 0,
        "{report:?}"
    );
    assert_eq!(report.created.len(), 9, "{:?}", report.created);
    // The app user of docker-compose.yml signs in with the seeded key.
    let compose = include_str!("../../deploy/docker-compose.yml");
    let app = &seed.users[0].access_keys[0];
    assert!(compose.contains(&format!("VAULTD_ACCESS_KEY_ID: {}", app.access_key_id)));
    assert!(compose.contains(&format!(
        "VAULTD_SECRET_ACCESS_KEY: {}",
        app.secret_access_key.as_str()
    )));
    let (greeting, _) = vault.params.find("/app/greeting").unwrap();
    assert_eq!(
        vault
            .params
            .open(greeting, String::new(), true)
            .unwrap()
            .value
            .as_str(),
        "hello from vaultd"
    );
}
