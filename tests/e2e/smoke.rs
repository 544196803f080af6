use crate::common::*;
use vaultd::pb;

#[tokio::test]
async fn create_encrypt_decrypt() {
    let server = TestServer::start().await;
    let client = server.client();
    let key_id = create_key(&client).await;
    let enc = client
        .encrypt(pb::EncryptRequest {
            key_id: key_id.clone(),
            plaintext: b"hello".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    let dec = client
        .decrypt(pb::DecryptRequest {
            ciphertext_blob: enc.ciphertext_blob,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dec.plaintext, b"hello");
}
