//! local-kms's seed file format (its README's `seed.yaml`), read into a [`Seed`]:
//! `Keys.Symmetric.Aes` / `Keys.Symmetric.Hmac` (`Metadata`, `BackingKeys` in hex, the last one
//! current, `NextKeyRotation`), `Keys.Asymmetric.Rsa` / `Ecc` (`Metadata` with `KeyUsage`,
//! `PrivateKeyPem`), `Aliases`; and its legacy form, `Keys` as a list of AES keys. Unknown members
//! are ignored, as local-kms ignores them.

use serde::Deserialize;

use super::{
    Seed, SeedError,
    formats::{
        Alias, aliases, date, entry, hex_material, key_id, parse_enum, pem_material, unique,
    },
};
use crate::{
    kms::{SeedKey, SeedMaterial, SeedRotation},
    model::{KeySpec, KeyUsage},
};

#[derive(Deserialize)]
pub(super) struct LocalKms {
    #[serde(rename = "Keys", default)]
    keys: LocalKmsKeys,
    #[serde(rename = "Aliases", default)]
    aliases: Vec<Alias>,
}

#[derive(Deserialize)]
pub(super) struct LocalKmsLegacy {
    #[serde(rename = "Keys", default)]
    keys: Vec<LocalKmsSymmetricKey>,
    #[serde(rename = "Aliases", default)]
    aliases: Vec<Alias>,
}

#[derive(Deserialize, Default)]
struct LocalKmsKeys {
    #[serde(rename = "Symmetric", default)]
    symmetric: LocalKmsSymmetric,
    #[serde(rename = "Asymmetric", default)]
    asymmetric: LocalKmsAsymmetric,
}

#[derive(Deserialize, Default)]
struct LocalKmsSymmetric {
    #[serde(rename = "Aes", default)]
    aes: Vec<LocalKmsSymmetricKey>,
    #[serde(rename = "Hmac", default)]
    hmac: Vec<LocalKmsSymmetricKey>,
}

#[derive(Deserialize, Default)]
struct LocalKmsAsymmetric {
    #[serde(rename = "Rsa", default)]
    rsa: Vec<LocalKmsAsymmetricKey>,
    #[serde(rename = "Ecc", default)]
    ecc: Vec<LocalKmsAsymmetricKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LocalKmsMetadata {
    key_id: String,
    description: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    origin: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LocalKmsSymmetricKey {
    metadata: LocalKmsMetadata,
    #[serde(default)]
    backing_keys: Vec<String>,
    next_key_rotation: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LocalKmsAsymmetricKey {
    metadata: LocalKmsMetadata,
    private_key_pem: String,
}

impl LocalKmsLegacy {
    pub(super) fn into_seed(self) -> Result<Seed, SeedError> {
        LocalKms {
            keys: LocalKmsKeys {
                symmetric: LocalKmsSymmetric {
                    aes: self.keys,
                    hmac: Vec::new(),
                },
                asymmetric: LocalKmsAsymmetric::default(),
            },
            aliases: self.aliases,
        }
        .into_seed()
    }
}

impl LocalKms {
    pub(super) fn into_seed(self) -> Result<Seed, SeedError> {
        let LocalKmsKeys {
            symmetric,
            asymmetric,
        } = self.keys;
        let ids = symmetric
            .aes
            .iter()
            .chain(&symmetric.hmac)
            .map(|k| k.metadata.key_id.clone())
            .chain(
                asymmetric
                    .rsa
                    .iter()
                    .chain(&asymmetric.ecc)
                    .map(|k| k.metadata.key_id.clone()),
            );
        unique("Keys", ids)?;
        unique("Aliases", self.aliases.iter().map(|a| a.alias_name.clone()))?;
        let mut seed = Seed::default();
        for (section, list, hmac) in [
            ("Keys.Symmetric.Aes", symmetric.aes, false),
            ("Keys.Symmetric.Hmac", symmetric.hmac, true),
        ] {
            for (i, key) in list.into_iter().enumerate() {
                let name = key.metadata.key_id.clone();
                seed.keys
                    .push(entry(section, i, &name, key.into_seed_key(hmac))?);
            }
        }
        for (section, list, rsa) in [
            ("Keys.Asymmetric.Rsa", asymmetric.rsa, true),
            ("Keys.Asymmetric.Ecc", asymmetric.ecc, false),
        ] {
            for (i, key) in list.into_iter().enumerate() {
                let name = key.metadata.key_id.clone();
                seed.keys
                    .push(entry(section, i, &name, key.into_seed_key(rsa))?);
            }
        }
        seed.aliases = aliases(self.aliases)?;
        Ok(seed)
    }
}

impl LocalKmsMetadata {
    fn check_origin(&self) -> Result<(), String> {
        match self.origin.as_deref() {
            None | Some("AWS_KMS") => Ok(()),
            Some(other) => Err(format!(
                "Origin {other} is not seeded: vaultd seeds keys with the material given (origin \
                 AWS_KMS); for imported material use ImportKeyMaterial"
            )),
        }
    }
}

impl LocalKmsSymmetricKey {
    fn into_seed_key(self, hmac: bool) -> Result<SeedKey, String> {
        let meta = self.metadata;
        meta.check_origin()?;
        let id = key_id(&meta.key_id)?;
        if self.backing_keys.is_empty() {
            return Err("at least one backing key must be given (BackingKeys)".into());
        }
        let (key_spec, key_usage) = match hmac {
            false => (KeySpec::SymmetricDefault, KeyUsage::EncryptDecrypt),
            true => {
                let spec = match meta.key_spec.as_deref() {
                    None | Some("") => KeySpec::Hmac256,
                    Some(text) => parse_enum("KeySpec", text, KeySpec::parse, KeySpec::ALL)?,
                };
                (spec, KeyUsage::GenerateVerifyMac)
            }
        };
        let material = self
            .backing_keys
            .iter()
            .enumerate()
            .map(|(i, k)| hex_material(i, k))
            .collect::<Result<Vec<_>, _>>()?;
        if !hmac
            && let Some(short) = material
                .iter()
                .position(|m| matches!(m, SeedMaterial::Bytes(b) if b.len() != 32))
        {
            return Err(format!(
                "BackingKeys[{short}] must be 32 bytes (64 hex digits), as `openssl rand -hex 32` makes"
            ));
        }
        // local-kms turns rotation on by giving the next rotation's date; its period is a year.
        let rotation = self
            .next_key_rotation
            .as_deref()
            .map(|t| {
                Ok::<_, String>(SeedRotation {
                    period_days: crate::kms::DEFAULT_ROTATION_PERIOD_DAYS as u32,
                    next_rotation: Some(date("NextKeyRotation", t)?),
                })
            })
            .transpose()?;
        Ok(SeedKey {
            id,
            description: meta.description.unwrap_or_default(),
            key_spec,
            key_usage,
            enabled: true,
            material,
            rotation,
            tags: Vec::new(),
        })
    }
}

impl LocalKmsAsymmetricKey {
    fn into_seed_key(self, rsa: bool) -> Result<SeedKey, String> {
        let meta = self.metadata;
        meta.check_origin()?;
        let id = key_id(&meta.key_id)?;
        let material = pem_material(&self.private_key_pem)?;
        let SeedMaterial::Private(private) = &material else {
            unreachable!("a PEM key is a private key");
        };
        let key_spec = private.spec().key_spec();
        let is_rsa = key_spec != KeySpec::EccNistP256;
        if is_rsa != rsa {
            return Err(format!(
                "PrivateKeyPem holds a {key_spec} key, which does not belong here"
            ));
        }
        let key_usage = match meta.key_usage.as_deref() {
            Some(text) => parse_enum("KeyUsage", text, KeyUsage::parse, KeyUsage::ALL)?,
            None if rsa => {
                return Err(
                    "KeyUsage (SIGN_VERIFY or ENCRYPT_DECRYPT) is required for RSA keys".into(),
                );
            }
            None => KeyUsage::SignVerify,
        };
        Ok(SeedKey {
            id,
            description: meta.description.unwrap_or_default(),
            key_spec,
            key_usage,
            enabled: true,
            material: vec![material],
            rotation: None,
            tags: Vec::new(),
        })
    }
}
