//! Signing keys: stored in the database, parsed once and kept in memory, rotated without a
//! restart. Every key has a status: `next` (published in the JWKS ahead of use, so that
//! relying parties cache it before it signs anything), `active` (signs), `retired` (only
//! verifies what it signed). A retired key stops verifying only when it is removed.

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

/// The algorithm of every key we create.
pub const ALGORITHM: Algorithm = Algorithm::RS256;

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
    active: Arc<ActiveKey>,
    verifying: HashMap<String, DecodingKey>,
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

    /// The `kid` of the key that signs now.
    pub fn active_kid(&self) -> String {
        self.current().active.kid.clone()
    }

    /// Signs `claims` as a JWT of type `typ` with the active key.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String> {
        let active = self.current().active.clone();
        let mut header = Header::new(ALGORITHM);
        header.typ = Some(typ.to_owned());
        header.kid = Some(active.kid.clone());
        jsonwebtoken::encode(&header, claims, &active.encoding)
            .map_err(|e| anyhow::anyhow!("signing a {typ} token: {e}").into())
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
        if header.alg != ALGORITHM {
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
        let key = match self.current().verifying.get(&kid) {
            Some(key) => key.clone(),
            None => {
                // Another instance may have rotated: look once more in the database, but
                // not for every made-up key id.
                if !self.may_reload_for_unknown_kid() {
                    return Err(TokenError::UnknownKey);
                }
                self.reload().await.map_err(|_| TokenError::UnknownKey)?;
                self.current()
                    .verifying
                    .get(&kid)
                    .cloned()
                    .ok_or(TokenError::UnknownKey)?
            }
        };
        let mut validation = Validation::new(ALGORITHM);
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
        if header.alg != ALGORITHM
            || !header
                .typ
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(typ))
        {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self
            .current()
            .verifying
            .get(&kid)
            .cloned()
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["iss", "sub"]);
        jsonwebtoken::decode::<T>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| TokenError::Invalid(format!("{:?}", e.kind())))
    }

    /// Rotation: the next key starts signing, the active key retires (it keeps verifying),
    /// and a new next key is published. Returns the new active `kid`.
    pub async fn rotate(&self) -> Result<String> {
        let txn = crate::store::db::begin_write(&self.db).await?;
        let now = clock::now();
        let keys = signing_key::Entity::find().all(&txn).await?;
        let next = keys.iter().find(|k| k.status == KeyStatus::Next).cloned();
        for key in keys.iter().filter(|k| k.status == KeyStatus::Active) {
            let mut retired = key.clone().into_active_model();
            retired.status = Set(KeyStatus::Retired);
            retired.retired_at = Set(Some(now));
            retired.update(&txn).await?;
        }
        let new_active = match next {
            Some(next) => next,
            None => generate(KeyStatus::Next).await?.insert(&txn).await?,
        };
        let kid = new_active.kid.clone();
        let mut active = new_active.into_active_model();
        active.status = Set(KeyStatus::Active);
        active.activated_at = Set(Some(now));
        active.update(&txn).await?;
        generate(KeyStatus::Next).await?.insert(&txn).await?;
        let retired: Vec<&str> = keys
            .iter()
            .filter(|k| k.status == KeyStatus::Active)
            .map(|k| k.kid.as_str())
            .collect();
        crate::events::publish(
            &txn,
            crate::events::Event {
                kind: crate::events::kind::SIGNING_KEY_ROTATED,
                organization_id: None,
                subject: None,
                data: serde_json::json!({
                    "kid": kid,
                    "algorithm": "RS256",
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

/// Creates the active and next keys if they are missing.
async fn ensure_keys(db: &DatabaseConnection) -> Result<()> {
    let keys = signing_key::Entity::find().all(db).await?;
    let now = clock::now();
    if !keys.iter().any(|k| k.status == KeyStatus::Active) {
        let mut key = generate(KeyStatus::Active).await?;
        key.activated_at = Set(Some(now));
        key.insert(db).await?;
    }
    if !keys.iter().any(|k| k.status == KeyStatus::Next) {
        generate(KeyStatus::Next).await?.insert(db).await?;
    }
    Ok(())
}

/// A new RSA-2048 key (generated in a blocking task), `kid` = its RFC 7638 thumbprint.
async fn generate(status: KeyStatus) -> Result<signing_key::ActiveModel> {
    let (der, n, e) = tokio::task::spawn_blocking(ring_provider::generate_rsa)
        .await
        .map_err(anyhow::Error::from)??;
    let n = URL_SAFE_NO_PAD.encode(n);
    let e = URL_SAFE_NO_PAD.encode(e);
    // RFC 7638: members in lexicographic order, no whitespace.
    let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
    let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
    Ok(signing_key::ActiveModel {
        kid: Set(kid),
        algorithm: Set("RS256".to_owned()),
        private_key: Set(STANDARD.encode(der)),
        public_jwk: Set(jwk),
        status: Set(status),
        created_at: Set(clock::now()),
        activated_at: Set(None),
        retired_at: Set(None),
    })
}

async fn load(db: &DatabaseConnection) -> Result<Loaded> {
    let keys = signing_key::Entity::find()
        .order_by_desc(signing_key::Column::CreatedAt)
        .all(db)
        .await?;
    let mut active = None;
    let mut verifying = HashMap::new();
    let mut published = Vec::new();
    for key in &keys {
        let n = key.public_jwk["n"].as_str().unwrap_or_default();
        let e = key.public_jwk["e"].as_str().unwrap_or_default();
        let decoding = DecodingKey::from_rsa_components(n, e)
            .map_err(|err| anyhow::anyhow!("public key {}: {err}", key.kid))?;
        verifying.insert(key.kid.clone(), decoding);
        published.push(key.public_jwk.clone());
        if key.status == KeyStatus::Active && active.is_none() {
            let der = STANDARD
                .decode(&key.private_key)
                .map_err(|err| anyhow::anyhow!("private key {}: {err}", key.kid))?;
            ring_provider::remember(&der)?;
            active = Some(Arc::new(ActiveKey {
                kid: key.kid.clone(),
                encoding: EncodingKey::from_rsa_der(&der),
            }));
        }
    }
    let active = active.ok_or_else(|| anyhow::anyhow!("no active signing key"))?;
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
}
