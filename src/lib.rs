pub mod crypto;
pub mod pb {
    tonic::include_proto!("vault.v1");
}
