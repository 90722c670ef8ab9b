//! A `jsonwebtoken` crypto provider on `ring` that keeps parsed private keys in memory.
//! jsonwebtoken hands the provider the key's bytes on every signature; parsing a key each
//! time costs more than an RSA signature itself, so parsed keys are cached by digest.
//! It signs and verifies the three algorithms we offer (`super::SigningAlg`) and nothing
//! else.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, ED25519, EcdsaKeyPair,
    Ed25519KeyPair, KeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

/// A parsed private key of one of our algorithms.
#[derive(Clone)]
enum Parsed {
    Rsa(Arc<RsaKeyPair>),
    Ecdsa(Arc<EcdsaKeyPair>),
    Ed25519(Arc<Ed25519KeyPair>),
}

static PARSED: LazyLock<RwLock<HashMap<[u8; 32], Parsed>>> = LazyLock::new(Default::default);
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

fn parse(algorithm: Algorithm, der: &[u8]) -> Result<Parsed, String> {
    match algorithm {
        Algorithm::RS256 => RsaKeyPair::from_pkcs8(der)
            .map(|k| Parsed::Rsa(Arc::new(k)))
            .map_err(|e| e.to_string()),
        Algorithm::ES256 => {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &*RANDOM)
                .map(|k| Parsed::Ecdsa(Arc::new(k)))
                .map_err(|e| e.to_string())
        }
        Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8(der)
            .map(|k| Parsed::Ed25519(Arc::new(k)))
            .map_err(|e| e.to_string()),
        other => Err(format!("{other:?} is not an algorithm we sign with")),
    }
}

/// The parsed key of `der`, parsed once and kept for signing.
fn parsed(algorithm: Algorithm, der: &[u8]) -> Result<Parsed, String> {
    let id = digest(der);
    if let Some(parsed) = PARSED.read().expect("parsed keys lock").get(&id) {
        return Ok(parsed.clone());
    }
    let parsed = parse(algorithm, der)?;
    PARSED
        .write()
        .expect("parsed keys lock")
        .insert(id, parsed.clone());
    Ok(parsed)
}

/// Parses a PKCS#8 private key of `algorithm` once and keeps it for signing.
pub fn remember(algorithm: Algorithm, der: &[u8]) -> anyhow::Result<()> {
    parsed(algorithm, der)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("{algorithm:?} key: {e}"))
}

/// A new RSA-2048 key: (PKCS#8 DER, modulus, exponent).
pub fn generate_rsa() -> anyhow::Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
    let der = key.to_pkcs8_der()?.as_bytes().to_vec();
    Ok((der, key.n().to_bytes_be(), key.e().to_bytes_be()))
}

/// A new P-256 key: (PKCS#8 DER, x, y).
pub fn generate_p256() -> anyhow::Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &*RANDOM)
        .map_err(|e| anyhow::anyhow!("P-256 key: {e}"))?;
    let der = document.as_ref().to_vec();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &*RANDOM)
        .map_err(|e| anyhow::anyhow!("P-256 key: {e}"))?;
    // The uncompressed point: 0x04, x, y.
    let point = pair.public_key().as_ref();
    Ok((der, point[1..33].to_vec(), point[33..65].to_vec()))
}

/// A new Ed25519 key: (PKCS#8 DER, public key).
pub fn generate_ed25519() -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
    let document = Ed25519KeyPair::generate_pkcs8(&*RANDOM)
        .map_err(|e| anyhow::anyhow!("Ed25519 key: {e}"))?;
    let der = document.as_ref().to_vec();
    let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|e| anyhow::anyhow!("Ed25519 key: {e}"))?;
    Ok((der, pair.public_key().as_ref().to_vec()))
}

struct RingSigner(Parsed, Algorithm);

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        match &self.0 {
            Parsed::Rsa(pair) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &*RANDOM, message, &mut out)
                    .map_err(|_| signature::Error::new())?;
                Ok(out)
            }
            Parsed::Ecdsa(pair) => pair
                .sign(&*RANDOM, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| signature::Error::new()),
            Parsed::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.1
    }
}

enum RingVerifier {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// ES256 (the uncompressed point) or EdDSA (the 32-byte key).
    Unparsed(Algorithm, Vec<u8>),
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let verified = match self {
            Self::Rsa { n, e } => RsaPublicKeyComponents { n, e }.verify(
                &RSA_PKCS1_2048_8192_SHA256,
                message,
                signature,
            ),
            Self::Unparsed(Algorithm::ES256, key) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key).verify(message, signature)
            }
            Self::Unparsed(_, key) => {
                UnparsedPublicKey::new(&ED25519, key).verify(message, signature)
            }
        };
        verified.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rsa { .. } => Algorithm::RS256,
            Self::Unparsed(algorithm, _) => *algorithm,
        }
    }
}

fn signer_factory(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if !matches!(
        algorithm,
        Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(Error::from(ErrorKind::InvalidAlgorithm));
    }
    let parsed = parsed(*algorithm, key.as_bytes()).map_err(|e| {
        tracing::error!(?algorithm, "a signing key does not parse: {e}");
        Error::from(ErrorKind::InvalidKeyFormat)
    })?;
    Ok(Box::new(RingSigner(parsed, *algorithm)))
}

fn verifier_factory(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    match (algorithm, key.kind()) {
        (Algorithm::RS256, DecodingKeyKind::RsaModulusExponent { n, e }) => {
            Ok(Box::new(RingVerifier::Rsa {
                n: n.clone(),
                e: e.clone(),
            }))
        }
        (Algorithm::ES256 | Algorithm::EdDSA, DecodingKeyKind::SecretOrDer(bytes)) => {
            Ok(Box::new(RingVerifier::Unparsed(*algorithm, bytes.clone())))
        }
        (Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA, _) => {
            Err(Error::from(ErrorKind::InvalidKeyFormat))
        }
        _ => Err(Error::from(ErrorKind::InvalidAlgorithm)),
    }
}
