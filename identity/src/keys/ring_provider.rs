//! A `jsonwebtoken` crypto provider on `ring` that keeps parsed private keys in memory.
//! jsonwebtoken hands the provider the key's bytes on every signature; parsing an RSA key
//! each time costs more than the signature itself, so parsed keys are cached by digest.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

static PARSED: LazyLock<RwLock<HashMap<[u8; 32], Arc<RsaKeyPair>>>> =
    LazyLock::new(Default::default);
static RANDOM: LazyLock<SystemRandom> = LazyLock::new(SystemRandom::new);

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes this the process's provider (idempotent).
pub fn install() {
    let _ = PROVIDER.install_default();
}

fn digest(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// Parses a PKCS#8 RSA private key once and keeps it for signing.
pub fn remember(der: &[u8]) -> anyhow::Result<()> {
    let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| anyhow::anyhow!("RSA key: {e}"))?;
    PARSED
        .write()
        .expect("parsed keys lock")
        .insert(digest(der), Arc::new(pair));
    Ok(())
}

/// A new RSA-2048 key: (PKCS#8 DER, modulus, exponent).
pub fn generate_rsa() -> anyhow::Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
    let der = key.to_pkcs8_der()?.as_bytes().to_vec();
    Ok((der, key.n().to_bytes_be(), key.e().to_bytes_be()))
}

struct RsaSigner(Arc<RsaKeyPair>);

impl Signer<Vec<u8>> for RsaSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut out = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &*RANDOM, message, &mut out)
            .map_err(|_| signature::Error::new())?;
        Ok(out)
    }
}

impl JwtSigner for RsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

struct RsaVerifier {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl Verifier<Vec<u8>> for RsaVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RsaVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

fn signer_factory(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *algorithm != Algorithm::RS256 {
        return Err(Error::from(ErrorKind::InvalidAlgorithm));
    }
    let id = digest(key.as_bytes());
    let cached = PARSED.read().expect("parsed keys lock").get(&id).cloned();
    let pair = match cached {
        Some(pair) => pair,
        None => {
            let pair = Arc::new(
                RsaKeyPair::from_pkcs8(key.as_bytes())
                    .map_err(|e| Error::from(ErrorKind::InvalidRsaKey(e.to_string())))?,
            );
            PARSED
                .write()
                .expect("parsed keys lock")
                .insert(id, pair.clone());
            pair
        }
    };
    Ok(Box::new(RsaSigner(pair)))
}

fn verifier_factory(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if *algorithm != Algorithm::RS256 {
        return Err(Error::from(ErrorKind::InvalidAlgorithm));
    }
    match key.kind() {
        DecodingKeyKind::RsaModulusExponent { n, e } => Ok(Box::new(RsaVerifier {
            n: n.clone(),
            e: e.clone(),
        })),
        DecodingKeyKind::SecretOrDer(_) => Err(Error::from(ErrorKind::InvalidKeyFormat)),
    }
}
