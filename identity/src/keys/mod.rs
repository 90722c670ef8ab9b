//! Signing keys: stored in the database, parsed once and kept in memory, rotated without a
//! restart. Every key has a status: `next` (published in the JWKS ahead of use, so that
//! relying parties cache it before it signs anything), `active` (signs), `retired` (only
//! verifies what it signed). A retired key stops verifying only when it is removed.
//!
//! Every algorithm we offer (`SigningAlg`) has keys of its own, each with its active and
//! next key; a rotation rotates them all at once. RS256 signs unless an application asks
//! for another (its `id_token_signed_response_alg` and `access_token_signed_response_alg`).

mod ring_provider;

use crate::entities::signing_key::{self, KeyStatus};
use crate::{Result, clock};
use base64::{Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// An algorithm our keys sign with. RS256 is the default, as in WSO2; ES256 (P-256) and
/// EdDSA (Ed25519) sign ten to fifty times faster and make shorter tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningAlg {
    Rs256,
    Es256,
    EdDsa,
}

impl SigningAlg {
    /// Every algorithm we sign with, the default first (as discovery lists them).
    pub const ALL: [SigningAlg; 3] = [Self::Rs256, Self::Es256, Self::EdDsa];
    /// What signs when nobody asked for anything else.
    pub const DEFAULT: SigningAlg = Self::Rs256;

    /// Its JOSE name (RFC 7518, RFC 8037), as in a JWT header and in discovery.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm of a JOSE name, exactly as spelled there.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    fn jwt(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }

    fn of_jwt(algorithm: Algorithm) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.jwt() == algorithm)
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often, at most, a token signed by a `kid` we do not know makes us read the keys
/// again (another instance may have rotated). More often, and anyone could make every
/// request a database read by inventing key ids.
pub const UNKNOWN_KID_RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// A key that can sign, with its `kid`.
pub struct ActiveKey {
    pub kid: String,
    encoding: EncodingKey,
}

struct Loaded {
    /// The key that signs, for each algorithm.
    active: HashMap<SigningAlg, Arc<ActiveKey>>,
    /// Every published key by `kid`, with the one algorithm it verifies.
    verifying: HashMap<String, (SigningAlg, DecodingKey)>,
    jwks: Value,
}

/// The keys of this server, in memory, backed by the `signing_keys` table.
pub struct KeyStore {
    db: DatabaseConnection,
    loaded: RwLock<Arc<Loaded>>,
    /// When an unknown `kid` last made us read the keys again.
    last_unknown_kid_reload: Mutex<Option<Instant>>,
    /// How many times the keys were read again, for whatever reason.
    reloads: AtomicU64,
}

/// Why a token did not verify. Deliberately coarse: callers map it to one protocol error.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is of another type")]
    WrongType,
    #[error("the token was not signed by a key of this server")]
    UnknownKey,
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the token has expired")]
    Expired,
}

impl KeyStore {
    /// Loads the keys, creating an active and a next key when there are none.
    pub async fn open(db: DatabaseConnection) -> Result<Self> {
        ring_provider::install();
        ensure_keys(&db).await?;
        let loaded = load(&db).await?;
        Ok(Self {
            db,
            loaded: RwLock::new(Arc::new(loaded)),
            last_unknown_kid_reload: Mutex::new(None),
            reloads: AtomicU64::new(0),
        })
    }

    /// How many times the keys were read again from the database since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Whether an unknown `kid` may make us read the keys now (at most once an interval).
    fn may_reload_for_unknown_kid(&self) -> bool {
        let mut last = self.last_unknown_kid_reload.lock().expect("key store lock");
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_RELOAD_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }

    fn current(&self) -> Arc<Loaded> {
        self.loaded.read().expect("key store lock").clone()
    }

    /// Re-reads the keys from the database (after a rotation here or on another instance).
    pub async fn reload(&self) -> Result<()> {
        let loaded = load(&self.db).await?;
        *self.loaded.write().expect("key store lock") = Arc::new(loaded);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The JSON Web Key Set: public parts of the next, active and retired keys.
    pub fn jwks(&self) -> Value {
        self.current().jwks.clone()
    }

    /// The `kid` of the key that signs now with the default algorithm.
    pub fn active_kid(&self) -> String {
        self.active_kid_of(SigningAlg::DEFAULT)
    }

    /// The `kid` of the key that signs now with `alg`.
    pub fn active_kid_of(&self, alg: SigningAlg) -> String {
        self.active_key(alg).kid.clone()
    }

    fn active_key(&self, alg: SigningAlg) -> Arc<ActiveKey> {
        self.current()
            .active
            .get(&alg)
            .cloned()
            .expect("every algorithm has an active key (checked on load)")
    }

    /// Signs `claims` as a JWT of type `typ` with the active key of the default algorithm.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String> {
        self.sign_with(SigningAlg::DEFAULT, typ, claims)
    }

    /// Signs `claims` as a JWT of type `typ` with the active key of `alg`.
    pub fn sign_with<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        claims: &T,
    ) -> Result<String> {
        let active = self.active_key(alg);
        let mut header = Header::new(alg.jwt());
        header.typ = Some(typ.to_owned());
        header.kid = Some(active.kid.clone());
        jsonwebtoken::encode(&header, claims, &active.encoding)
            .map_err(|e| anyhow::anyhow!("signing a {typ} token with {alg}: {e}").into())
    }

    /// The key of `kid` for a token whose header says `alg`: one of ours, and of that
    /// algorithm (a key verifies only what its own algorithm signed: no confusion between
    /// an RSA key and a curve).
    fn verifying_key(&self, kid: &str, alg: Algorithm) -> Option<DecodingKey> {
        self.current()
            .verifying
            .get(kid)
            .filter(|(key_alg, _)| key_alg.jwt() == alg)
            .map(|(_, key)| key.clone())
    }

    /// Verifies a JWT of type `typ` issued by `issuer`: signature by one of our keys with
    /// the expected algorithm, type, issuer, expiry. `audience`, when given, must be in `aud`.
    pub async fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
        audience: Option<&str>,
    ) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if SigningAlg::of_jwt(header.alg).is_none() {
            return Err(TokenError::Invalid("unexpected algorithm".into()));
        }
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = match self.verifying_key(&kid, header.alg) {
            Some(key) => key,
            // A key we have, of another algorithm than the header says: no reload helps.
            None if self.current().verifying.contains_key(&kid) => {
                return Err(TokenError::Invalid("unexpected algorithm".into()));
            }
            None => {
                // Another instance may have rotated: look once more in the database, but
                // not for every made-up key id.
                if !self.may_reload_for_unknown_kid() {
                    return Err(TokenError::UnknownKey);
                }
                self.reload().await.map_err(|_| TokenError::UnknownKey)?;
                self.verifying_key(&kid, header.alg)
                    .ok_or(TokenError::UnknownKey)?
            }
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = 5;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<T>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    TokenError::Invalid("bad signature".into())
                }
                other => TokenError::Invalid(format!("{other:?}")),
            })
    }

    /// Verifies a token's signature, type and issuer but not its expiry: an expired ID
    /// token is still a good `id_token_hint` at logout.
    pub async fn verify_hint<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        issuer: &str,
    ) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if SigningAlg::of_jwt(header.alg).is_none()
            || !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self
            .verifying_key(&kid, header.alg)
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["iss", "sub"]);
        jsonwebtoken::decode::<T>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| TokenError::Invalid(format!("{:?}", e.kind())))
    }

    /// Rotation, of every algorithm at once: its next key starts signing, its active key
    /// retires (it keeps verifying), and a new next key is published. Returns the new
    /// active `kid` of the default algorithm.
    pub async fn rotate(&self) -> Result<String> {
        let txn = crate::store::db::begin_write(&self.db).await?;
        let now = clock::now();
        let keys = signing_key::Entity::find().all(&txn).await?;
        let mut active_kids = serde_json::Map::new();
        let mut retired = Vec::new();
        for alg in SigningAlg::ALL {
            let of_alg = keys.iter().filter(|k| k.algorithm == alg.as_str());
            let next = of_alg
                .clone()
                .find(|k| k.status == KeyStatus::Next)
                .cloned();
            for key in of_alg.filter(|k| k.status == KeyStatus::Active) {
                let mut old = key.clone().into_active_model();
                old.status = Set(KeyStatus::Retired);
                old.retired_at = Set(Some(now));
                old.update(&txn).await?;
                retired.push(key.kid.clone());
            }
            let new_active = match next {
                Some(next) => next,
                None => generate(alg, KeyStatus::Next).await?.insert(&txn).await?,
            };
            active_kids.insert(alg.as_str().to_owned(), json!(new_active.kid));
            let mut active = new_active.into_active_model();
            active.status = Set(KeyStatus::Active);
            active.activated_at = Set(Some(now));
            active.update(&txn).await?;
            generate(alg, KeyStatus::Next).await?.insert(&txn).await?;
        }
        let kid = active_kids[SigningAlg::DEFAULT.as_str()]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        crate::events::publish(
            &txn,
            crate::events::Event {
                kind: crate::events::kind::SIGNING_KEY_ROTATED,
                organization_id: None,
                subject: None,
                data: serde_json::json!({
                    "kid": kid,
                    "algorithm": SigningAlg::DEFAULT.as_str(),
                    "activeKids": active_kids,
                    "retiredKids": retired,
                }),
            },
        )
        .await?;
        txn.commit().await?;
        self.reload().await?;
        tracing::info!(%kid, "signing keys rotated");
        Ok(kid)
    }

    /// Removes a retired key: tokens it signed stop verifying. Active and next keys cannot
    /// be removed. Returns whether a key was removed.
    pub async fn remove_retired(&self, kid: &str) -> Result<bool> {
        let result = signing_key::Entity::delete_many()
            .filter(signing_key::Column::Kid.eq(kid))
            .filter(signing_key::Column::Status.eq(KeyStatus::Retired))
            .exec(&self.db)
            .await?;
        self.reload().await?;
        Ok(result.rows_affected == 1)
    }

    /// Every key with its status, newest first (for the management API).
    pub async fn list(&self) -> Result<Vec<signing_key::Model>> {
        Ok(signing_key::Entity::find()
            .order_by_desc(signing_key::Column::CreatedAt)
            .all(&self.db)
            .await?)
    }
}

/// Creates the active and next keys of every algorithm if they are missing (a database
/// from before ES256 and EdDSA gets theirs at its first start).
async fn ensure_keys(db: &DatabaseConnection) -> Result<()> {
    let keys = signing_key::Entity::find().all(db).await?;
    let now = clock::now();
    for alg in SigningAlg::ALL {
        let has = |status| {
            keys.iter()
                .any(|k| k.algorithm == alg.as_str() && k.status == status)
        };
        if !has(KeyStatus::Active) {
            let mut key = generate(alg, KeyStatus::Active).await?;
            key.activated_at = Set(Some(now));
            key.insert(db).await?;
        }
        if !has(KeyStatus::Next) {
            generate(alg, KeyStatus::Next).await?.insert(db).await?;
        }
    }
    Ok(())
}

/// A new key of `alg` (generated in a blocking task: RSA takes a while), its `kid` the
/// RFC 7638 thumbprint of its public key.
async fn generate(alg: SigningAlg, status: KeyStatus) -> Result<signing_key::ActiveModel> {
    let (der, public) = tokio::task::spawn_blocking(move || new_key_pair(alg))
        .await
        .map_err(anyhow::Error::from)??;
    // RFC 7638: the required members in lexicographic order, no whitespace.
    let thumbprint_input = match &public {
        PublicKey::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        PublicKey::Ec { x, y } => {
            format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
        }
        PublicKey::Okp { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
    };
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
    let mut jwk = match &public {
        PublicKey::Rsa { n, e } => json!({ "kty": "RSA", "n": n, "e": e }),
        PublicKey::Ec { x, y } => json!({ "kty": "EC", "crv": "P-256", "x": x, "y": y }),
        PublicKey::Okp { x } => json!({ "kty": "OKP", "crv": "Ed25519", "x": x }),
    };
    jwk["use"] = json!("sig");
    jwk["alg"] = json!(alg.as_str());
    jwk["kid"] = json!(kid);
    Ok(signing_key::ActiveModel {
        kid: Set(kid),
        algorithm: Set(alg.as_str().to_owned()),
        private_key: Set(STANDARD.encode(der)),
        public_jwk: Set(jwk),
        status: Set(status),
        created_at: Set(clock::now()),
        activated_at: Set(None),
        retired_at: Set(None),
    })
}

/// The public half of a key, base64url, as its JWK carries it.
enum PublicKey {
    Rsa { n: String, e: String },
    Ec { x: String, y: String },
    Okp { x: String },
}

/// A new private key of `alg` (PKCS#8 DER) and its public half.
fn new_key_pair(alg: SigningAlg) -> anyhow::Result<(Vec<u8>, PublicKey)> {
    let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
    Ok(match alg {
        SigningAlg::Rs256 => {
            let (der, n, e) = ring_provider::generate_rsa()?;
            (
                der,
                PublicKey::Rsa {
                    n: b64(n),
                    e: b64(e),
                },
            )
        }
        SigningAlg::Es256 => {
            let (der, x, y) = ring_provider::generate_p256()?;
            (
                der,
                PublicKey::Ec {
                    x: b64(x),
                    y: b64(y),
                },
            )
        }
        SigningAlg::EdDsa => {
            let (der, x) = ring_provider::generate_ed25519()?;
            (der, PublicKey::Okp { x: b64(x) })
        }
    })
}

/// The key that verifies what a key of `alg` signed, from its published JWK.
fn decoding_key(alg: SigningAlg, jwk: &Value) -> std::result::Result<DecodingKey, String> {
    let member = |name: &str| jwk[name].as_str().unwrap_or_default().to_owned();
    let key = match alg {
        SigningAlg::Rs256 => DecodingKey::from_rsa_components(&member("n"), &member("e")),
        SigningAlg::Es256 => DecodingKey::from_ec_components(&member("x"), &member("y")),
        SigningAlg::EdDsa => DecodingKey::from_ed_components(&member("x")),
    };
    key.map_err(|e| e.to_string())
}

fn encoding_key(alg: SigningAlg, der: &[u8]) -> EncodingKey {
    match alg {
        SigningAlg::Rs256 => EncodingKey::from_rsa_der(der),
        SigningAlg::Es256 => EncodingKey::from_ec_der(der),
        SigningAlg::EdDsa => EncodingKey::from_ed_der(der),
    }
}

async fn load(db: &DatabaseConnection) -> Result<Loaded> {
    let keys = signing_key::Entity::find()
        .order_by_desc(signing_key::Column::CreatedAt)
        .all(db)
        .await?;
    let mut active = HashMap::new();
    let mut verifying = HashMap::new();
    let mut published = Vec::new();
    for key in &keys {
        // A key of an algorithm this build does not know is left alone, unpublished.
        let Some(alg) = SigningAlg::parse(&key.algorithm) else {
            tracing::warn!(kid = %key.kid, algorithm = %key.algorithm, "a signing key of an unknown algorithm is ignored");
            continue;
        };
        let decoding = decoding_key(alg, &key.public_jwk)
            .map_err(|err| anyhow::anyhow!("public key {}: {err}", key.kid))?;
        verifying.insert(key.kid.clone(), (alg, decoding));
        published.push(key.public_jwk.clone());
        if key.status == KeyStatus::Active && !active.contains_key(&alg) {
            let der = STANDARD
                .decode(&key.private_key)
                .map_err(|err| anyhow::anyhow!("private key {}: {err}", key.kid))?;
            ring_provider::remember(alg.jwt(), &der)?;
            active.insert(
                alg,
                Arc::new(ActiveKey {
                    kid: key.kid.clone(),
                    encoding: encoding_key(alg, &der),
                }),
            );
        }
    }
    if let Some(missing) = SigningAlg::ALL.iter().find(|a| !active.contains_key(a)) {
        return Err(anyhow::anyhow!("no active {missing} signing key").into());
    }
    Ok(Loaded {
        active,
        verifying,
        jwks: json!({ "keys": published }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JWT whose header names `kid` (its signature is never reached).
    fn signed_by(kid: &str) -> String {
        let header = json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid });
        format!("{}.e30.c2ln", URL_SAFE_NO_PAD.encode(header.to_string()))
    }

    #[tokio::test]
    async fn made_up_key_ids_read_the_keys_again_at_most_once_an_interval() {
        let (_dir, db) = crate::store::db::test_database().await;
        let keys = KeyStore::open(db).await.unwrap();
        for n in 0..200 {
            let refused = keys
                .verify::<Value>(&signed_by(&format!("made-up-{n}")), "at+jwt", "iss", None)
                .await;
            assert!(
                matches!(refused, Err(TokenError::UnknownKey)),
                "{refused:?}"
            );
        }
        assert_eq!(
            keys.reloads(),
            1,
            "one read of the keys for 200 unknown key ids"
        );
        // A key that really exists is found without reading again.
        let token = keys
            .sign(
                "at+jwt",
                &json!({ "sub": "s", "iss": "iss", "exp": 4_000_000_000u64 }),
            )
            .unwrap();
        assert!(
            keys.verify::<Value>(&token, "at+jwt", "iss", None)
                .await
                .is_ok()
        );
        assert_eq!(keys.reloads(), 1);
    }

    /// A database from before ES256 and EdDSA (RSA keys only) gets an active and a next
    /// key of each at its next start; its RSA keys stay as they were.
    #[tokio::test]
    async fn a_database_with_rsa_keys_only_gets_the_other_algorithms_at_start() {
        let (_dir, db) = crate::store::db::test_database().await;
        let rsa_kid = KeyStore::open(db.clone()).await.unwrap().active_kid();
        signing_key::Entity::delete_many()
            .filter(signing_key::Column::Algorithm.ne("RS256"))
            .exec(&db)
            .await
            .unwrap();
        let keys = KeyStore::open(db.clone()).await.unwrap();
        assert_eq!(keys.active_kid(), rsa_kid);
        let stored = signing_key::Entity::find().all(&db).await.unwrap();
        for alg in SigningAlg::ALL {
            for status in [KeyStatus::Active, KeyStatus::Next] {
                let of = stored
                    .iter()
                    .filter(|k| k.algorithm == alg.as_str() && k.status == status)
                    .count();
                assert_eq!(of, 1, "{alg} {status:?}");
            }
            let token = keys
                .sign_with(
                    alg,
                    "at+jwt",
                    &json!({ "sub": "s", "iss": "iss", "exp": 4_000_000_000u64 }),
                )
                .unwrap();
            let verified = keys.verify::<Value>(&token, "at+jwt", "iss", None).await;
            assert!(verified.is_ok(), "{alg}: {verified:?}");
        }
    }
}
