//! Field-level encryption: the fixed vector, round trips, every tamper and refusal, RFC 8785.

use super::*;

const ARN: &str = "arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const VERSION: u32 = 3;

fn data_key() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Version 3 is bytes 0x20..0x3f (as in the vector); other versions differ.
fn material(version: u32) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(std::array::from_fn(|i| {
        (0x20 + i as u8) ^ (version as u8).wrapping_sub(VERSION as u8)
    }))
}

fn current() -> Result<Material, FieldError> {
    Ok((VERSION, material(VERSION)))
}

fn by_version(version: u32) -> Result<Zeroizing<[u8; 32]>, FieldError> {
    Ok(material(version))
}

fn context() -> EncryptionContext {
    [("tenant", "42"), ("app", "billing")].into_iter().collect()
}

fn specs(fields: &[(&str, bool)]) -> Vec<FieldSpec> {
    fields
        .iter()
        .map(|(path, deterministic)| FieldSpec {
            path: (*path).into(),
            deterministic: *deterministic,
        })
        .collect()
}

fn encrypt_full(
    text: &str,
    fields: &[(&str, bool)],
    key: &[u8; 32],
    wrap: Wrap,
    context: &EncryptionContext,
) -> Result<Value, FieldError> {
    encrypt_document(
        parse_document(text).unwrap(),
        &specs(fields),
        key,
        ARN,
        wrap,
        b"wrapped data key",
        context,
        &current,
    )
}

fn encrypt(text: &str, fields: &[(&str, bool)]) -> Result<Value, FieldError> {
    encrypt_full(text, fields, &data_key(), Wrap::Kms, &context())
}

fn decrypt_with(document: Value, key: &[u8; 32]) -> Result<Value, FieldError> {
    let metadata = read_metadata(&document)?;
    decrypt_document(document, &metadata, key, &by_version)
}

fn decrypt(document: Value) -> Result<Value, FieldError> {
    decrypt_with(document, &data_key())
}

fn invalid(result: Result<Value, FieldError>) -> String {
    match result {
        Err(FieldError::Invalid(message)) => message,
        other => panic!("expected FieldError::Invalid, got {other:?}"),
    }
}

fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap()
}

/// Recomputes `_vfe.mac` with the data key, as only its holder can: shows that the checks
/// behind the MAC hold on their own.
fn remac(document: &mut Value) {
    let metadata = read_metadata(document).unwrap();
    let meta = metadata_without_mac(
        &metadata.key,
        metadata.wrap,
        &metadata.dk,
        &metadata.context,
        &metadata.paths,
    );
    let values: Vec<String> = metadata
        .paths
        .iter()
        .map(|p| document.pointer(p).unwrap().as_str().unwrap().to_owned())
        .collect();
    let entries: Vec<(&str, &str)> = metadata
        .paths
        .iter()
        .zip(&values)
        .map(|(p, v)| (p.as_str(), v.as_str()))
        .collect();
    let mac = document_mac(&data_key(), &meta, &entries);
    document[META]["mac"] = STANDARD.encode(mac).into();
}

// -- the fixed vector ----------------------------------------------------------------------

const DOCUMENT: &str = r#"{"name":"Ada Lovelace","ssn":"078-05-1120","amount":1234.5,"address":{"zip":"W1","city":"London"},"tags":["a",1,true,null],"phones":["+44 20 7946 0000","+44 20 7946 0001"],"x/y":true,"spouse":null,"email":"ada@example.com"}"#;

/// Printed by `tests/interop/fields_vector.py` (Python `cryptography`: HKDF-SHA256, AESGCM,
/// HMAC), written independently from crypto.md §4, with the same fixed inputs as below.
const VECTOR: &str = r#"{"name":"Ada Lovelace","ssn":"vfe1:AQFAQUJDREVGR0hJSk8xm0jlCJFRQHMvX7G5oYx06hdYpwmKDbcZnaw","amount":"vfe1:AQJAQUJDREVGR0hJSkx6e64QJ_QYz1R8vOAcYr3fxuBqVaRv","address":"vfe1:AQVAQUJDREVGR0hJSktIMmgx2gKcOkXy6-TU6WYGGMNA73PaH_LML6aOJOEHVveAmtO_iFV8YzyJDQ","tags":"vfe1:AQZAQUJDREVGR0hJSlAbSwBWsvvL0oRK3FjoGLyVlU42UEKgEZelqVaiyCcfRe4","phones":["+44 20 7946 0000","vfe1:AQFAQUJDREVGR0hJSk3UMAsRH0rwkBleZg-HfBuUTw8t1Izd9zfSA6QAf9cdUQ"],"x/y":"vfe1:AQNAQUJDREVGR0hJSlGTfQ2vD3oHmAii466H7XmDrqntvA","spouse":"vfe1:AQRAQUJDREVGR0hJSk7kUFAJJ9TldoljnRVB-Z-6yEaRjQ","email":"vfe1:AgEAAAAD6OcNPRZST9Ska1G0NzonM8OH0iAZXrVpVbCcDk8sr0scPi4xApzndPpSQQ","_vfe":{"v":1,"key":"arn:aws:kms:us-east-1:000000000000:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","wrap":"kms","dk":"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaX","ctx":{"app":"billing","tenant":"42"},"paths":["/address","/amount","/email","/phones/1","/spouse","/ssn","/tags","/x~1y"],"mac":"YAycPHQKVsqmUEeA6dae09BZoXHfVf0/MYs/l48Jh68="}}"#;

#[test]
fn matches_the_fixed_vector_and_decrypts() {
    let fields = specs(&[
        ("/ssn", false),
        ("/amount", false),
        ("/address", false),
        ("/tags", false),
        ("/phones/1", false),
        ("/x~1y", false),
        ("/spouse", false),
        ("/email", true),
    ]);
    let wrapped: Vec<u8> = (0x80..0x98).collect();
    // The n-th random-mode iv, in path order: 0x40..0x4a, then 0x4b + n.
    let mut n = 0u8;
    let mut next_iv = || {
        let mut iv: [u8; IV_LEN] = std::array::from_fn(|i| 0x40 + i as u8);
        iv[11] += n;
        n += 1;
        Ok(iv)
    };
    let encrypted = encrypt_with(
        parse_document(DOCUMENT).unwrap(),
        &fields,
        &data_key(),
        ARN,
        Wrap::Kms,
        &wrapped,
        &context(),
        &current,
        &mut next_iv,
    )
    .unwrap();
    assert_eq!(text(&encrypted), VECTOR);

    let metadata = read_metadata(&encrypted).unwrap();
    assert_eq!(metadata.dk, wrapped);
    assert_eq!(metadata.context, context());
    let decrypted = decrypt(parse_document(VECTOR).unwrap()).unwrap();
    // Members keep their order, except inside an encrypted object, which comes back in
    // canonical (sorted) order.
    assert_eq!(
        text(&decrypted),
        DOCUMENT.replace(
            r#"{"zip":"W1","city":"London"}"#,
            r#"{"city":"London","zip":"W1"}"#
        )
    );
}

// -- round trips ---------------------------------------------------------------------------

#[test]
fn every_json_type_round_trips_in_both_modes() {
    let values = [
        r#""plain""#,
        r#""""#,
        r#""ünïcödé € 😀 \"quoted\" \\ \n\t\u0001 /""#,
        r#""vfe1:not really encrypted""#,
        "0",
        "-17",
        "18446744073709551615",
        "-9223372036854775808",
        "9007199254740993",
        "1234.5",
        "-0.000001",
        "1e300",
        "true",
        "false",
        "null",
        r#"{}"#,
        r#"{"b":[1,{"c":null}],"a":"x","é":true}"#,
        "[]",
        r#"[1,"two",[3.5],{"four":4},null,false]"#,
    ];
    for deterministic in [false, true] {
        for value in values {
            let original = parse_document(&format!(r#"{{"keep":1,"v":{value},"z":2}}"#)).unwrap();
            let encrypted = encrypt_document(
                original.clone(),
                &specs(&[("/v", deterministic)]),
                &data_key(),
                ARN,
                Wrap::Kms,
                b"dk",
                &context(),
                &current,
            )
            .unwrap();
            let stored = encrypted["v"].as_str().unwrap();
            assert!(stored.starts_with(PREFIX), "{value}");
            assert!(!stored.contains(value.trim_matches('"')) || value.len() < 3);
            let decrypted = decrypt(encrypted).unwrap();
            assert_eq!(decrypted, original, "{value}");
            assert_eq!(
                canonical_json(&decrypted["v"]),
                canonical_json(&original["v"])
            );
            let keys: Vec<&String> = decrypted.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["keep", "v", "z"]);
        }
    }
}

#[test]
fn paths_through_arrays_and_escaped_names_round_trip() {
    let original = r#"{"a/b":{"m~n":"x"},"list":[{"id":1},{"id":2,"s":"y"}],"":"empty name"}"#;
    let encrypted = encrypt(
        original,
        &[("/a~1b/m~0n", false), ("/list/1/s", true), ("/", false)],
    )
    .unwrap();
    assert_eq!(
        read_metadata(&encrypted).unwrap().paths,
        ["/", "/a~1b/m~0n", "/list/1/s"]
    );
    assert_eq!(text(&decrypt(encrypted).unwrap()), original);
}

#[test]
fn random_mode_differs_each_time_and_public_key_mode_round_trips() {
    let doc = r#"{"ssn":"078-05-1120"}"#;
    let a = encrypt(doc, &[("/ssn", false)]).unwrap();
    let b = encrypt(doc, &[("/ssn", false)]).unwrap();
    assert_ne!(a["ssn"], b["ssn"]);
    let rsa = encrypt_full(
        doc,
        &[("/ssn", false)],
        &data_key(),
        Wrap::RsaOaepSha256,
        &context(),
    )
    .unwrap();
    assert_eq!(rsa[META]["wrap"], "rsa-oaep-sha256");
    assert_eq!(read_metadata(&rsa).unwrap().wrap, Wrap::RsaOaepSha256);
    assert_eq!(text(&decrypt(rsa).unwrap()), doc);
}

#[test]
fn the_material_callback_is_asked_only_for_deterministic_fields() {
    let never = || -> Result<Material, FieldError> { panic!("material asked for") };
    let doc = parse_document(r#"{"a":1}"#).unwrap();
    let fields = specs(&[("/a", false)]);
    encrypt_document(
        doc.clone(),
        &fields,
        &data_key(),
        ARN,
        Wrap::Kms,
        b"dk",
        &context(),
        &never,
    )
    .unwrap();
    // Its error is the caller's to choose, and comes back as is.
    let failing = || -> Result<Material, FieldError> { Err(FieldError::Rng) };
    let fields = specs(&[("/a", true)]);
    assert_eq!(
        encrypt_document(
            doc,
            &fields,
            &data_key(),
            ARN,
            Wrap::Kms,
            b"dk",
            &context(),
            &failing
        ),
        Err(FieldError::Rng)
    );
}

// -- tampering -----------------------------------------------------------------------------

const RECORD: &str = r#"{"id":7,"ssn":"078-05-1120","card":"4111111111111111","notes":["n"]}"#;

fn record() -> Value {
    encrypt(RECORD, &[("/ssn", false), ("/card", false)]).unwrap()
}

#[test]
fn the_untouched_record_decrypts() {
    assert_eq!(text(&decrypt(record()).unwrap()), RECORD);
}

#[test]
fn a_swapped_pair_of_values_fails() {
    let mut doc = record();
    let ssn = doc["ssn"].take();
    doc["ssn"] = doc["card"].take();
    doc["card"] = ssn;
    assert_eq!(decrypt(doc.clone()), Err(FieldError::InvalidCiphertext));
    // Even with a MAC made for the swap, each value is bound to its path.
    remac(&mut doc);
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
}

#[test]
fn a_value_moved_to_another_path_fails() {
    let mut doc = record();
    let moved = doc["ssn"].take();
    doc.as_object_mut().unwrap().shift_remove("ssn");
    doc["tax_id"] = moved;
    assert_eq!(decrypt(doc.clone()), Err(FieldError::InvalidCiphertext));
    // Listed under its new path, with a fresh MAC: the AAD still names /ssn.
    doc[META]["paths"] = serde_json::json!(["/card", "/tax_id"]);
    remac(&mut doc);
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
}

#[test]
fn a_value_copied_into_a_document_with_another_context_fails() {
    let other: EncryptionContext = [("tenant", "43"), ("app", "billing")].into_iter().collect();
    let source = record();
    let mut target = encrypt_full(
        RECORD,
        &[("/ssn", false), ("/card", false)],
        &data_key(),
        Wrap::Kms,
        &other,
    )
    .unwrap();
    target["ssn"] = source["ssn"].clone();
    assert_eq!(decrypt(target.clone()), Err(FieldError::InvalidCiphertext));
    // Even under the same data key and a recomputed MAC: the AAD holds the context's hash.
    remac(&mut target);
    assert_eq!(decrypt(target), Err(FieldError::InvalidCiphertext));
}

#[test]
fn a_deleted_field_fails() {
    let mut doc = record();
    doc.as_object_mut().unwrap().shift_remove("card");
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    let mut doc = record();
    doc["card"] = Value::Null;
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
}

#[test]
fn a_duplicated_field_fails() {
    // The MAC still verifies (it covers the listed paths); the copy is refused on its own.
    let mut doc = record();
    doc["backup"] = doc["ssn"].clone();
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    let mut doc = record();
    doc["notes"][0] = doc["card"].clone();
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
}

#[test]
fn changed_metadata_fails() {
    let changes: [(&str, Value); 6] = [
        ("ctx", serde_json::json!({"app": "billing", "tenant": "43"})),
        ("ctx", serde_json::json!({})),
        ("paths", serde_json::json!(["/card"])),
        ("key", Value::from(ARN.replace("0f1e", "1f1e"))),
        ("dk", Value::from(STANDARD.encode(b"another wrapped key"))),
        ("wrap", Value::from("rsa-oaep-sha256")),
    ];
    for (member, value) in changes {
        let mut doc = record();
        doc[META][member] = value;
        read_metadata(&doc).unwrap();
        assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext), "{member}");
    }
    let mut doc = record();
    let mut mac = read_metadata(&doc).unwrap().mac;
    mac[0] ^= 1;
    doc[META]["mac"] = STANDARD.encode(mac).into();
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
}

#[test]
fn another_data_key_fails() {
    let mut other = data_key();
    other[31] ^= 1;
    assert_eq!(
        decrypt_with(record(), &other),
        Err(FieldError::InvalidCiphertext)
    );
}

#[test]
fn a_rolled_back_value_fails() {
    // Two encryptions of the same document under the same data key and wrapping: the older
    // value of a field does not fit the newer MAC.
    let old = encrypt(RECORD, &[("/ssn", false), ("/card", false)]).unwrap();
    let newer = RECORD.replace("078-05-1120", "219-09-9999");
    let mut doc = encrypt(&newer, &[("/ssn", false), ("/card", false)]).unwrap();
    assert_eq!(text(&decrypt(doc.clone()).unwrap()), newer);
    doc["ssn"] = old["ssn"].clone();
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
}

#[test]
fn a_malformed_value_behind_a_valid_mac_fails() {
    let body_of = |doc: &Value| {
        URL_SAFE_NO_PAD
            .decode(&doc["ssn"].as_str().unwrap()[5..])
            .unwrap()
    };
    let rebuilt = |body: &[u8]| {
        let mut doc = record();
        doc["ssn"] = encode_value(body).into();
        remac(&mut doc);
        decrypt(doc)
    };
    let body = body_of(&record());
    for mode in [0u8, 3, 0xff] {
        let mut changed = body.clone();
        changed[0] = mode;
        assert_eq!(
            rebuilt(&changed),
            Err(FieldError::InvalidCiphertext),
            "mode {mode}"
        );
    }
    for json_type in [0u8, 2, 5, 7] {
        let mut changed = body.clone();
        changed[1] = json_type;
        assert_eq!(
            rebuilt(&changed),
            Err(FieldError::InvalidCiphertext),
            "type {json_type}"
        );
    }
    let mut flipped = body.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(rebuilt(&flipped), Err(FieldError::InvalidCiphertext));
    assert_eq!(rebuilt(&body[..20]), Err(FieldError::InvalidCiphertext));
    assert_eq!(rebuilt(&[]), Err(FieldError::InvalidCiphertext));
    // Not base64url, or not the prefix.
    let mut doc = record();
    doc["ssn"] = "vfe1:***".into();
    remac(&mut doc);
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
    // A type byte that does not match what the plaintext decodes to.
    assert_eq!(value_of(2, b"\"text\""), Err(FieldError::InvalidCiphertext));
    assert_eq!(value_of(5, b"[1]"), Err(FieldError::InvalidCiphertext));
    assert_eq!(value_of(3, b"true").unwrap(), Value::Bool(true));
    assert_eq!(value_of(1, b"\"text\"").unwrap(), Value::from("\"text\""));
}

// -- deterministic mode --------------------------------------------------------------------

fn deterministic_doc(
    text: &str,
    paths: &[&str],
    key: &[u8; 32],
    context: &EncryptionContext,
    version: u32,
) -> Value {
    let fields: Vec<(&str, bool)> = paths.iter().map(|p| (*p, true)).collect();
    encrypt_document(
        parse_document(text).unwrap(),
        &specs(&fields),
        key,
        ARN,
        Wrap::Kms,
        b"dk",
        context,
        &|| Ok((version, material(version))),
    )
    .unwrap()
}

#[test]
fn deterministic_values_are_equal_across_documents_at_the_same_path_and_version() {
    let other_key = [9u8; 32];
    let other_context: EncryptionContext = [("tenant", "7")].into_iter().collect();
    let a = deterministic_doc(
        r#"{"email":"a@x.org","n":1}"#,
        &["/email"],
        &data_key(),
        &context(),
        3,
    );
    let b = deterministic_doc(
        r#"{"z":0,"email":"a@x.org"}"#,
        &["/email"],
        &other_key,
        &other_context,
        3,
    );
    assert_eq!(a["email"], b["email"]);
    // Other value, other path, other version: other ciphertexts.
    let c = deterministic_doc(
        r#"{"email":"b@x.org"}"#,
        &["/email"],
        &data_key(),
        &context(),
        3,
    );
    let d = deterministic_doc(
        r#"{"mail":"a@x.org"}"#,
        &["/mail"],
        &data_key(),
        &context(),
        3,
    );
    let e = deterministic_doc(
        r#"{"email":"a@x.org"}"#,
        &["/email"],
        &data_key(),
        &context(),
        4,
    );
    assert_ne!(a["email"], c["email"]);
    assert_ne!(a["email"], d["mail"]);
    assert_ne!(a["email"], e["email"]);
    // Equal values at two paths of one document differ too.
    let f = deterministic_doc(
        r#"{"p":"same","q":"same"}"#,
        &["/p", "/q"],
        &data_key(),
        &context(),
        3,
    );
    assert_ne!(f["p"], f["q"]);
    // Each decrypts, with the material of the version its body names.
    let asked = std::cell::Cell::new(0);
    for (doc, key) in [(a, data_key()), (b, other_key), (e, data_key())] {
        let metadata = read_metadata(&doc).unwrap();
        let callback = |v: u32| {
            asked.set(v);
            by_version(v)
        };
        let plain = decrypt_document(doc, &metadata, &key, &callback).unwrap();
        assert_eq!(plain["email"], "a@x.org");
    }
    assert_eq!(asked.get(), 4);
}

#[test]
fn deterministic_values_fail_under_other_material() {
    let doc = deterministic_doc(
        r#"{"email":"a@x.org"}"#,
        &["/email"],
        &data_key(),
        &context(),
        3,
    );
    let metadata = read_metadata(&doc).unwrap();
    let wrong = |_: u32| Ok(material(5));
    assert_eq!(
        decrypt_document(doc.clone(), &metadata, &data_key(), &wrong),
        Err(FieldError::InvalidCiphertext)
    );
    let gone = |_: u32| Err(FieldError::InvalidCiphertext);
    assert_eq!(
        decrypt_document(doc, &metadata, &data_key(), &gone),
        Err(FieldError::InvalidCiphertext)
    );
}

#[test]
fn a_deterministic_value_whose_iv_does_not_match_fails() {
    // A value sealed under the right key with a chosen iv (not the synthetic one) opens, but
    // is refused: the iv must be HMAC(K_siv, AAD || plaintext).
    let mut doc = deterministic_doc(
        r#"{"email":"a@x.org"}"#,
        &["/email"],
        &data_key(),
        &context(),
        3,
    );
    let (k_enc, _) = deterministic_keys(&material(3), "/email");
    let aad = deterministic_aad(1, "/email");
    let iv = [7u8; IV_LEN];
    let mut body = vec![MODE_DETERMINISTIC, 1];
    body.extend_from_slice(&3u32.to_be_bytes());
    body.extend_from_slice(&iv);
    body.extend_from_slice(&seal(&k_enc, iv, &aad, b"a@x.org").unwrap());
    doc["email"] = encode_value(&body).into();
    remac(&mut doc);
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
}

#[test]
fn public_key_mode_refuses_deterministic_paths() {
    let message = invalid(encrypt_full(
        r#"{"email":"a@x.org"}"#,
        &[("/email", true)],
        &data_key(),
        Wrap::RsaOaepSha256,
        &context(),
    ));
    assert_eq!(
        message,
        "deterministic mode needs the key's material inside vaultd; public-key mode is random only"
    );
    // And a deterministic value in an rsa-oaep-sha256 document does not decrypt, even with a
    // valid MAC.
    let mut doc = deterministic_doc(
        r#"{"email":"a@x.org"}"#,
        &["/email"],
        &data_key(),
        &context(),
        3,
    );
    doc[META]["wrap"] = "rsa-oaep-sha256".into();
    remac(&mut doc);
    assert_eq!(decrypt(doc), Err(FieldError::InvalidCiphertext));
}

// -- refusals when encrypting --------------------------------------------------------------

#[test]
fn encryption_refuses_bad_paths() {
    let doc = r#"{"a":{"b":1},"ssn":"x","list":[1,2],"0":"zero"}"#;
    let cases: &[(&[&str], &str)] = &[
        (&[], "no paths to encrypt"),
        (
            &[""],
            "the empty path names the whole document, which cannot be encrypted",
        ),
        (
            &["ssn"],
            "the path ssn is not a JSON Pointer: it must start with /",
        ),
        (
            &["/a~2"],
            "the path /a~2 is not a JSON Pointer: ~ must be followed by 0 or 1",
        ),
        (
            &["/a~"],
            "the path /a~ is not a JSON Pointer: ~ must be followed by 0 or 1",
        ),
        (
            &["/_vfe"],
            "the path /_vfe is inside the reserved member _vfe",
        ),
        (
            &["/_vfe/key"],
            "the path /_vfe/key is inside the reserved member _vfe",
        ),
        (&["/nope"], "no value at /nope"),
        (&["/a/c"], "no value at /a/c"),
        (&["/ssn/x"], "no value at /ssn/x"),
        (&["/list/2"], "no value at /list/2"),
        (&["/ssn", "/ssn"], "the path /ssn is listed twice"),
        (
            &["/a/b", "/a"],
            "the path /a/b is inside /a, which is encrypted whole",
        ),
        (
            &["/a", "/ssn", "/a/b"],
            "the path /a/b is inside /a, which is encrypted whole",
        ),
    ];
    for (paths, expected) in cases {
        let fields: Vec<(&str, bool)> = paths.iter().map(|p| (*p, false)).collect();
        assert_eq!(invalid(encrypt(doc, &fields)), *expected, "{paths:?}");
    }
    for bad in ["/list/01", "/list/-", "/list/+1", "/list/"] {
        assert!(
            invalid(encrypt(doc, &[(bad, false)])).contains("does not name an array element"),
            "{bad}"
        );
    }
    // "01" and "-" are ordinary member names in an object.
    let doc2 = r#"{"01":"x","-":"y"}"#;
    assert_eq!(
        text(&decrypt(encrypt(doc2, &[("/01", false), ("/-", false)]).unwrap()).unwrap()),
        doc2
    );
    // Not an ancestor: a name that merely starts with the same characters.
    let doc3 = r#"{"a":"x","ab":"y","a/b":"z"}"#;
    let fields = [("/a", false), ("/ab", false), ("/a~1b", false)];
    assert_eq!(
        text(&decrypt(encrypt(doc3, &fields).unwrap()).unwrap()),
        doc3
    );
}

#[test]
fn encryption_refuses_too_many_paths() {
    let members: Vec<String> = (0..=MAX_PATHS).map(|i| format!(r#""f{i}":{i}"#)).collect();
    let doc = format!("{{{}}}", members.join(","));
    let paths: Vec<String> = (0..=MAX_PATHS).map(|i| format!("/f{i}")).collect();
    let fields: Vec<(&str, bool)> = paths.iter().map(|p| (p.as_str(), false)).collect();
    assert_eq!(
        invalid(encrypt(&doc, &fields)),
        "more than 256 paths to encrypt"
    );
    let encrypted = encrypt(&doc, &fields[..MAX_PATHS]).unwrap();
    assert_eq!(text(&decrypt(encrypted).unwrap()), doc);
}

#[test]
fn encryption_refuses_an_encrypted_document_and_reserved_strings() {
    let encrypted = record();
    assert_eq!(
        invalid(encrypt(&text(&encrypted), &[("/id", false)])),
        "the document is already field-encrypted"
    );
    let message = invalid(encrypt(
        r#"{"ssn":"x","notes":["ok","vfe1:copied from elsewhere"]}"#,
        &[("/ssn", false)],
    ));
    assert_eq!(
        message,
        "the string at /notes/1 starts with the reserved prefix vfe1:"
    );
    assert!(!message.contains("copied"));
    // At an encrypted path, or inside an encrypted value, it is just data.
    let doc = r#"{"ssn":"vfe1:x","o":{"s":"vfe1:y"}}"#;
    let encrypted = encrypt(doc, &[("/ssn", false), ("/o", false)]).unwrap();
    assert_eq!(text(&decrypt(encrypted).unwrap()), doc);
    // The document must be an object.
    let fields = specs(&[("/0", false)]);
    let array = serde_json::json!(["x"]);
    assert_eq!(
        encrypt_document(
            array,
            &fields,
            &data_key(),
            ARN,
            Wrap::Kms,
            b"dk",
            &context(),
            &current
        ),
        Err(FieldError::Invalid(
            "the document must be a JSON object".into()
        ))
    );
}

#[test]
fn an_oversized_context_is_refused() {
    let big = "x".repeat(9000);
    let large: EncryptionContext = [("k", big.as_str())].into_iter().collect();
    let result = encrypt_full(
        r#"{"a":1}"#,
        &[("/a", false)],
        &data_key(),
        Wrap::Kms,
        &large,
    );
    assert!(invalid(result).contains("8192"));
}

// -- parsing -------------------------------------------------------------------------------

#[test]
fn parse_document_refuses_repeated_member_names_at_any_depth() {
    assert_eq!(
        parse_document(r#"{"a":"secret-1","a":"secret-2"}"#),
        Err(FieldError::Invalid(
            "the document repeats the member name at /a".into()
        ))
    );
    assert_eq!(
        parse_document(r#"{"x":1,"a":{"l":[0,{"b/~":1,"c":2,"b/~":3}]}}"#),
        Err(FieldError::Invalid(
            "the document repeats the member name at /a/l/1/b~1~0".into()
        ))
    );
    // Equal names in different objects are fine.
    parse_document(r#"{"a":{"a":1},"b":{"a":2}}"#).unwrap();
}

#[test]
fn parse_document_is_strict_and_never_quotes_the_input() {
    let message = invalid(parse_document(
        "{\n  \"a\": \"secret\",\n  \"b\": secret\n}",
    ));
    assert!(
        message.starts_with("the document is not valid JSON"),
        "{message}"
    );
    assert!(message.ends_with("(line 3, column 8)"), "{message}");
    assert!(!message.contains("secret"), "{message}");
    for bad in [
        "",
        "{",
        r#"{"a":1,}"#,
        r#"{"a":1} {}"#,
        r#"{"a":01}"#,
        r#"{"a":NaN}"#,
        r#"{"a":1e999}"#,
        r#"{'a':1}"#,
        "{\"a\":\"tab\there\"}",
        r#"{"a":"\ud800"}"#,
    ] {
        assert!(
            invalid(parse_document(bad)).starts_with("the document is not valid JSON"),
            "{bad}"
        );
    }
    for not_object in ["[]", "1", "\"s\"", "null"] {
        assert_eq!(
            invalid(parse_document(not_object)),
            "the document must be a JSON object"
        );
    }
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
    assert!(invalid(parse_document(&deep)).contains("recursion limit"));
}

#[test]
fn parse_document_keeps_member_order_and_numbers() {
    let doc = r#"{"z":1,"a":-2,"m":1.5,"big":18446744073709551615,"neg":-9223372036854775808}"#;
    let value = parse_document(doc).unwrap();
    assert_eq!(text(&value), doc);
    assert!(value["big"].is_u64());
    assert!(value["neg"].is_i64());
}

// -- metadata ------------------------------------------------------------------------------

#[test]
fn read_metadata_checks_the_shape_of_vfe() {
    let good = record();
    let metadata = read_metadata(&good).unwrap();
    assert_eq!(metadata.key, ARN);
    assert_eq!(metadata.wrap, Wrap::Kms);
    assert_eq!(metadata.dk, b"wrapped data key");
    assert_eq!(metadata.paths, ["/card", "/ssn"]);
    assert_eq!(
        read_metadata(&serde_json::json!({"a": 1})),
        Err(FieldError::Invalid(
            "the document has no _vfe member: it is not field-encrypted".into()
        ))
    );
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "",
            Value::from("x"),
            "the document's _vfe member is not an object",
        ),
        (
            "v",
            Value::from(2),
            "the _vfe member's v is not 1: an unknown format version",
        ),
        (
            "v",
            Value::from(1.0),
            "the _vfe member's v is not 1: an unknown format version",
        ),
        (
            "v",
            Value::from("1"),
            "the _vfe member's v is not 1: an unknown format version",
        ),
        (
            "key",
            Value::from(""),
            "the _vfe member's key must be a non-empty string",
        ),
        (
            "key",
            Value::from(5),
            "the _vfe member's key must be a non-empty string",
        ),
        (
            "wrap",
            Value::from("aes"),
            "the _vfe member's wrap must be \"kms\" or \"rsa-oaep-sha256\"",
        ),
        (
            "dk",
            Value::from("not base64!"),
            "the _vfe member's dk must be base64 (standard, padded)",
        ),
        (
            "dk",
            Value::from("AAA"),
            "the _vfe member's dk must be base64 (standard, padded)",
        ),
        (
            "dk",
            Value::from(""),
            "the _vfe member's dk must be base64 (standard, padded)",
        ),
        (
            "ctx",
            serde_json::json!({"a": 1}),
            "the _vfe member's ctx must be an object of strings",
        ),
        (
            "ctx",
            serde_json::json!(["a"]),
            "the _vfe member's ctx must be an object of strings",
        ),
        (
            "paths",
            serde_json::json!([]),
            "the _vfe member's paths must be a non-empty array of at most 256 strings",
        ),
        (
            "paths",
            serde_json::json!(["/a", 1]),
            "the _vfe member's paths must be a non-empty array of at most 256 strings",
        ),
        (
            "paths",
            serde_json::json!("/a"),
            "the _vfe member's paths must be a non-empty array of at most 256 strings",
        ),
        (
            "paths",
            serde_json::json!(["/ssn", "/card"]),
            "the _vfe member's paths must be sorted by their UTF-8 bytes, each once",
        ),
        (
            "paths",
            serde_json::json!(["/card", "/card"]),
            "the _vfe member's paths must be sorted by their UTF-8 bytes, each once",
        ),
        (
            "paths",
            serde_json::json!(["card"]),
            "the _vfe member's paths: the path card is not a JSON Pointer: it must start with /",
        ),
        (
            "paths",
            serde_json::json!([""]),
            "the _vfe member's paths: the empty path names the whole document, which cannot be encrypted",
        ),
        (
            "paths",
            serde_json::json!(["/_vfe/mac"]),
            "the _vfe member's paths: the path /_vfe/mac is inside the reserved member _vfe",
        ),
        (
            "mac",
            Value::from(STANDARD.encode([0u8; 31])),
            "the _vfe member's mac must be base64 of 32 bytes",
        ),
        (
            "mac",
            Value::from(1),
            "the _vfe member's mac must be base64 of 32 bytes",
        ),
        (
            "extra",
            Value::from(1),
            "the _vfe member has an unknown member at /_vfe/extra",
        ),
    ];
    for (member, value, expected) in cases {
        let mut doc = good.clone();
        if member.is_empty() {
            doc[META] = value;
        } else {
            doc[META][member] = value;
        }
        assert_eq!(
            read_metadata(&doc),
            Err(FieldError::Invalid(expected.into())),
            "{member}"
        );
    }
    for member in ["v", "key", "wrap", "dk", "ctx", "paths", "mac"] {
        let mut doc = good.clone();
        doc[META].as_object_mut().unwrap().shift_remove(member);
        assert_eq!(
            read_metadata(&doc),
            Err(FieldError::Invalid(format!(
                "the _vfe member lacks its \"{member}\" member"
            )))
        );
    }
}

// -- canonical JSON ------------------------------------------------------------------------

fn number(f: f64) -> String {
    canonical_json(&Value::from(f))
}

#[test]
// RFC 8785's inputs as the RFC writes them, more digits than a double holds included.
#[allow(clippy::excessive_precision)]
fn canonical_numbers_follow_rfc_8785() {
    // RFC 8785 §3.2.2 and Appendix B (IEEE 754 bit patterns and their JCS text).
    let vectors: [(u64, &str); 24] = [
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        // Exactly halfway between ...206.2 and ...206.3: ECMAScript takes the even digit.
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ];
    for (bits, expected) in vectors {
        assert_eq!(number(f64::from_bits(bits)), expected, "{bits:#018x}");
    }
    let examples = [
        (333333333.33333329, "333333333.3333333"),
        (1E30, "1e+30"),
        (4.50, "4.5"),
        (2e-3, "0.002"),
        (0.000000000000000000000000001, "1e-27"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (-0.0, "0"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (-1e-6, "-0.000001"),
        (123.0, "123"),
        (0.1, "0.1"),
    ];
    for (f, expected) in examples {
        assert_eq!(number(f), expected, "{f:e}");
    }
}

#[test]
fn canonical_integers_keep_their_exact_digits() {
    assert_eq!(canonical_json(&Value::from(0u64)), "0");
    assert_eq!(canonical_json(&Value::from(-42i64)), "-42");
    assert_eq!(
        canonical_json(&Value::from(9007199254740992u64)),
        "9007199254740992"
    );
    // Beyond 2^53 JCS would round through a double (9007199254740993 → ...992); we keep the
    // exact value on purpose.
    assert_eq!(
        canonical_json(&Value::from(9007199254740993u64)),
        "9007199254740993"
    );
    assert_eq!(
        canonical_json(&Value::from(u64::MAX)),
        "18446744073709551615"
    );
    assert_eq!(
        canonical_json(&Value::from(i64::MIN)),
        "-9223372036854775808"
    );
    // What serde_json parses as a double (a fraction, an exponent, -0) is a double.
    let parsed = parse_document(r#"{"a":-0,"b":1E2,"c":4.50,"d":2e-3,"e":1e21}"#).unwrap();
    assert_eq!(
        canonical_json(&parsed),
        r#"{"a":0,"b":100,"c":4.5,"d":0.002,"e":1e+21}"#
    );
}

/// serde_json parses decimals to the nearest double only with its `float_roundtrip` feature;
/// without it about a third of shortest-digit texts come back one ulp off, so a number
/// (encrypted or not) can change between EncryptFields and DecryptFields. Cargo.toml enables
/// it; this test fails if it goes.
#[test]
fn numbers_parse_to_the_nearest_double_and_round_trip() {
    let parsed = parse_document(r#"{"a":333333333.33333329,"b":9.999999999999997e+22}"#).unwrap();
    assert_eq!(
        canonical_json(&parsed),
        r#"{"a":333333333.3333333,"b":9.999999999999997e+22}"#
    );
    let mut x: u64 = 0x0123_4567_89ab_cdef;
    for _ in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = f64::from_bits(x);
        if !f.is_finite() {
            continue;
        }
        let doc = format!(r#"{{"v":{},"w":{}}}"#, number(f), number(f));
        let decrypted = decrypt(encrypt(&doc, &[("/v", false)]).unwrap()).unwrap();
        assert_eq!(decrypted["v"].as_f64(), Some(f), "{f:e}");
        assert_eq!(decrypted["w"].as_f64(), Some(f), "{f:e}");
    }
}

#[test]
fn canonical_strings_and_sorting_follow_rfc_8785() {
    // RFC 8785 §3.2.2 (the number examples are checked above from their doubles).
    let input = r#"{"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#;
    assert_eq!(
        canonical_json(&parse_document(input).unwrap()),
        r#"{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
    // RFC 8785 §3.2.3: names sorted by UTF-16 code units (the emoji's surrogates sort before
    // U+FB33, unlike its UTF-8 bytes).
    let input = r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#;
    assert_eq!(
        canonical_json(&parse_document(input).unwrap()),
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
    assert_eq!(
        canonical_json(&Value::from("\u{8}\u{c}\t\r\n\u{0}\u{1f}\u{7f}/")),
        r#""\b\f\t\r\n\u0000\u001f/""#.replace("/\"", "\u{7f}/\"")
    );
    assert_eq!(
        canonical_json(&serde_json::json!({"b": [], "a": {}})),
        r#"{"a":{},"b":[]}"#
    );
}

#[test]
fn errors_and_debug_output_hold_no_secret() {
    let secret = "078-05-1120";
    let doc = parse_document(&format!(r#"{{"ssn":"{secret}","n":"vfe1:{secret}"}}"#)).unwrap();
    let err = encrypt_document(
        doc,
        &specs(&[("/ssn", false)]),
        &data_key(),
        ARN,
        Wrap::Kms,
        b"dk",
        &context(),
        &current,
    )
    .unwrap_err();
    assert!(!err.to_string().contains(secret));
    assert!(!format!("{err:?}").contains(secret));
    let err = parse_document(&format!(r#"{{"ssn":"{secret}","ssn":1}}"#)).unwrap_err();
    assert!(!format!("{err} {err:?}").contains(secret));
    let metadata = read_metadata(&record()).unwrap();
    assert!(!format!("{metadata:?}").contains(secret));
}

#[test]
fn integers_beyond_64_bits_are_refused_not_rounded() {
    for text in [
        r#"{"id": 123456789012345678901234567890}"#,
        r#"{"a": {"b": [1, 18446744073709551616]}}"#,
        r#"{"n": -9223372036854775809}"#,
    ] {
        let err = parse_document(text).unwrap_err().to_string();
        assert!(err.contains("64-bit"), "{err}");
        assert!(!err.contains("1234567890123"), "{err}");
    }
    // The 64-bit range itself, decimals, exponents, and digits inside strings are fine.
    let ok = r#"{"a": 18446744073709551615, "b": -9223372036854775808, "c": 1.5e300,
                 "d": "123456789012345678901234567890", "e\"": 0.1}"#;
    let value = parse_document(ok).unwrap();
    assert_eq!(value["a"].as_u64(), Some(u64::MAX));
    assert_eq!(value["b"].as_i64(), Some(i64::MIN));
}
