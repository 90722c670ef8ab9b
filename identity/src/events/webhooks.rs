//! Webhook subscriptions and the Standard Webhooks format (standardwebhooks.com): each
//! message carries `webhook-id` (the event's id, the same on every retry, for the
//! receiver's de-duplication), `webhook-timestamp` and `webhook-signature`, an
//! HMAC-SHA256 over `id.timestamp.body` with the subscription's secret (`whsec_…`,
//! shown once). After a rotation the previous secret signs beside the new one for a day.

use super::kind;
use crate::entities::{StringList, delivery, webhook};
use crate::{Result, clock};
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use std::net::IpAddr;
use uuid::Uuid;

/// At most this many subscriptions per organization.
pub const MAX_PER_ORGANIZATION: u64 = 50;
/// How long a rotated-out secret keeps signing beside the new one.
pub const PREVIOUS_SECRET_SECS: i64 = 24 * 3600;
const MAX_URL_CHARS: usize = 2000;
const MAX_DESCRIPTION_CHARS: usize = 200;
const SECRET_PREFIX: &str = "whsec_";

/// Where the server may send events (webhooks, Shared Signals pushes, back-channel
/// logout): `https` to public addresses, unless the operator allows more.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outbound {
    /// `http://127.0.0.1…`, `http://[::1]…` and `http://localhost…` too
    /// (`IDP_WEBHOOK_ALLOW_HTTP_LOOPBACK`, for tests and local receivers).
    pub allow_http_loopback: bool,
    /// Private, link-local and other non-public ranges too
    /// (`IDP_WEBHOOK_ALLOW_PRIVATE_NETWORKS`).
    pub allow_private_networks: bool,
}

impl Outbound {
    /// Whether `url` may be a receiver's address; the reason when not.
    pub fn check_url(&self, raw: &str) -> std::result::Result<url::Url, String> {
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(format!("A URL has at most {MAX_URL_CHARS} characters."));
        }
        let url = url::Url::parse(raw).map_err(|_| "Not an absolute URL.".to_owned())?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("A URL must not carry credentials.".to_owned());
        }
        if url.fragment().is_some() {
            return Err("A URL must not have a fragment.".to_owned());
        }
        let loopback_name =
            matches!(url.host(), Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost"));
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err("A URL needs a host.".to_owned()),
        };
        let loopback = loopback_name || ip.is_some_and(|ip| ip.is_loopback());
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http_loopback && loopback => {}
            "http" if loopback => {
                return Err("Only https URLs are accepted (http to loopback needs \
                     IDP_WEBHOOK_ALLOW_HTTP_LOOPBACK=true)."
                    .to_owned());
            }
            _ => return Err("Only https URLs are accepted.".to_owned()),
        }
        if loopback_name && !self.address_allowed(IpAddr::from([127, 0, 0, 1])) {
            return Err("The URL points to a non-public address.".to_owned());
        }
        if let Some(ip) = ip
            && !self.address_allowed(ip)
        {
            return Err("The URL points to a non-public address.".to_owned());
        }
        Ok(url)
    }

    /// Whether the server may connect to `ip` (checked again on every address a name
    /// resolves to, at each attempt: a name cannot be pointed inside later).
    pub fn address_allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            IpAddr::V4(_) => ip,
        };
        if ip.is_loopback() {
            return self.allow_http_loopback || self.allow_private_networks;
        }
        if ip.is_unspecified() || ip.is_multicast() {
            return false;
        }
        if public(ip) {
            return true;
        }
        self.allow_private_networks
    }
}

/// Whether `ip` is a public unicast address (not private, shared, link-local,
/// documentation, benchmarking or reserved).
fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // Anything that carries or tunnels an IPv4 address, or is not global unicast.
            let v4_inside = s[..6].iter().all(|x| *x == 0) // IPv4-compatible ::a.b.c.d
                || s[0] == 0x0064 && s[1] == 0xff9b // NAT64
                || s[0] == 0x2002 // 6to4
                || s[0] == 0x2001 && s[1] == 0; // Teredo
            !(v4_inside
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || s[0] == 0x0100 && s[1..4].iter().all(|x| *x == 0) // discard-only
                || s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        }
    }
}

/// What an administrator chooses for a subscription.
#[derive(Clone, Debug, Default)]
pub struct Subscription {
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
}

/// Problems with a subscription's settings, as (field, message).
pub type Problems = Vec<(&'static str, String)>;

fn problems(s: &Subscription, outbound: &Outbound, root: bool) -> Problems {
    let mut problems = Vec::new();
    if !root
        && s.event_types
            .iter()
            .any(|t| kind::SERVER_WIDE.contains(&t.as_str()))
    {
        problems.push((
            "eventTypes",
            "Server-wide events (signing-key.rotated) go to the root organization's webhooks."
                .to_owned(),
        ));
    }
    if let Err(why) = outbound.check_url(&s.url) {
        problems.push(("url", why));
    }
    if s.event_types.is_empty() {
        problems.push(("eventTypes", "Choose at least one event type.".to_owned()));
    }
    for t in &s.event_types {
        if !kind::SUBSCRIBABLE.contains(&t.as_str()) {
            let mut shown = t.clone();
            crate::text::bound(&mut shown, 64);
            problems.push(("eventTypes", format!("Unknown event type {shown}.")));
            break;
        }
    }
    if s.description.chars().count() > MAX_DESCRIPTION_CHARS {
        problems.push((
            "description",
            format!("At most {MAX_DESCRIPTION_CHARS} characters."),
        ));
    }
    problems
}

fn normalized(mut s: Subscription) -> Subscription {
    s.event_types.sort();
    s.event_types.dedup();
    s.url = s.url.trim().to_owned();
    s.description = s.description.trim().to_owned();
    s
}

/// A new signing secret: its stored form (base64 of 32 random bytes) and the one shown.
fn new_secret() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let stored = STANDARD.encode(bytes);
    let shown = format!("{SECRET_PREFIX}{stored}");
    (stored, shown)
}

/// Creates a subscription. Returns it with its secret, shown this once.
pub async fn create(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    wanted: Subscription,
    outbound: &Outbound,
) -> Result<std::result::Result<(webhook::Model, String), Problems>> {
    let wanted = normalized(wanted);
    let root = crate::seed::root_organization_id(db).await? == organization_id;
    let problems = problems(&wanted, outbound, root);
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let count = webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(organization_id))
        .count(db)
        .await?;
    if count >= MAX_PER_ORGANIZATION {
        return Ok(Err(vec![(
            "url",
            format!("An organization has at most {MAX_PER_ORGANIZATION} webhooks."),
        )]));
    }
    let (secret, shown) = new_secret();
    let now = clock::now();
    let model = webhook::ActiveModel {
        id: Set(Uuid::new_v4()),
        organization_id: Set(organization_id),
        url: Set(wanted.url),
        description: Set(wanted.description),
        event_types: Set(StringList(wanted.event_types)),
        enabled: Set(wanted.enabled),
        secret: Set(secret),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        reveal_secret_to: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(Ok((model, shown)))
}

/// The subscriptions of an organization, oldest first.
pub async fn list(db: &impl ConnectionTrait, organization_id: Uuid) -> Result<Vec<webhook::Model>> {
    Ok(webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(organization_id))
        .order_by_asc(webhook::Column::CreatedAt)
        .all(db)
        .await?)
}

/// A subscription of the organization (`None`: none, or another organization's).
pub async fn find(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    id: Uuid,
) -> Result<Option<webhook::Model>> {
    Ok(webhook::Entity::find_by_id(id)
        .filter(webhook::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?)
}

/// Replaces a subscription's settings.
pub async fn update(
    db: &impl ConnectionTrait,
    existing: webhook::Model,
    wanted: Subscription,
    outbound: &Outbound,
) -> Result<std::result::Result<webhook::Model, Problems>> {
    let wanted = normalized(wanted);
    let root = crate::seed::root_organization_id(db).await? == existing.organization_id;
    let problems = problems(&wanted, outbound, root);
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let mut model = existing.into_active_model();
    model.url = Set(wanted.url);
    model.description = Set(wanted.description);
    model.event_types = Set(StringList(wanted.event_types));
    model.enabled = Set(wanted.enabled);
    model.updated_at = Set(clock::now());
    Ok(Ok(model.update(db).await?))
}

/// The settings of an existing subscription.
pub fn settings_of(model: &webhook::Model) -> Subscription {
    Subscription {
        url: model.url.clone(),
        description: model.description.clone(),
        event_types: model.event_types.0.clone(),
        enabled: model.enabled,
    }
}

/// Deletes a subscription; what was still on its way to it is given up.
pub async fn delete(db: &impl ConnectionTrait, existing: &webhook::Model) -> Result<()> {
    super::outbox::give_up_pending(db, existing.id, "The webhook was deleted.").await?;
    webhook::Entity::delete_by_id(existing.id).exec(db).await?;
    Ok(())
}

/// A new secret; the current one keeps signing beside it for [`PREVIOUS_SECRET_SECS`].
/// Returns the new secret, shown this once.
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    existing: webhook::Model,
) -> Result<(webhook::Model, String)> {
    let (secret, shown) = new_secret();
    let now = clock::now();
    let previous = existing.secret.clone();
    let mut model = existing.into_active_model();
    model.previous_secret = Set(Some(previous));
    model.previous_secret_until = Set(Some(now + PREVIOUS_SECRET_SECS));
    model.secret = Set(secret);
    // A pending showing of the old secret on the Console is over.
    model.reveal_secret_to = Set(None);
    model.updated_at = Set(now);
    Ok((model.update(db).await?, shown))
}

/// Records a change to a subscription in the audit trail (`action` is one of the
/// `webhook-*` actions), on `db` (pass the change's transaction).
pub async fn record_change(
    db: &impl ConnectionTrait,
    action: &'static str,
    actor_id: Option<String>,
    hook: &webhook::Model,
) -> Result<()> {
    crate::audit::record(
        db,
        crate::audit::Event {
            action,
            success: true,
            actor_id,
            reason: format!("webhook {} to {}", hook.id, hook.url),
            ..crate::audit::Event::default()
        },
    )
    .await
}

/// Keeps the current secret for one showing on the Console's page, to `to` alone (the
/// administrator who made or rotated it; [`take_secret`]).
pub async fn reveal_once(db: &impl ConnectionTrait, hook: &webhook::Model, to: Uuid) -> Result<()> {
    webhook::Entity::update_many()
        .col_expr(
            webhook::Column::RevealSecretTo,
            sea_orm::sea_query::Expr::value(to),
        )
        .filter(webhook::Column::Id.eq(hook.id))
        .exec(db)
        .await?;
    Ok(())
}

/// The secret (`whsec_…`) if it is to be shown now to `viewer`; it is not shown again
/// (of two simultaneous looks, one gets it), nor to anyone else.
pub async fn take_secret(
    db: &impl ConnectionTrait,
    hook: &webhook::Model,
    viewer: Uuid,
) -> Result<Option<String>> {
    if hook.reveal_secret_to != Some(viewer) {
        return Ok(None);
    }
    let taken = webhook::Entity::update_many()
        .col_expr(
            webhook::Column::RevealSecretTo,
            sea_orm::sea_query::Expr::value(Option::<Uuid>::None),
        )
        .filter(webhook::Column::Id.eq(hook.id))
        .filter(webhook::Column::RevealSecretTo.eq(viewer))
        .exec(db)
        .await?;
    Ok((taken.rows_affected == 1).then(|| format!("{SECRET_PREFIX}{}", hook.secret)))
}

/// The secrets that sign now: the current one, and the previous one within its day.
pub fn signing_secrets(model: &webhook::Model, now: i64) -> Vec<Vec<u8>> {
    let previous = model
        .previous_secret
        .as_ref()
        .filter(|_| model.previous_secret_until.is_some_and(|until| until > now));
    std::iter::once(&model.secret)
        .chain(previous)
        .filter_map(|s| STANDARD.decode(s).ok())
        .collect()
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256>` per secret, space-separated.
pub fn signature(secrets: &[Vec<u8>], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|secret| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret)
                .expect("HMAC takes a key of any length");
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body.as_bytes());
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The body a subscription receives for an event: `{"type", "timestamp", "data"}`.
pub fn body(event: &crate::entities::event::Model) -> serde_json::Value {
    serde_json::json!({
        "type": event.event_type,
        "timestamp": clock::rfc3339(event.occurred_at),
        "data": event.data,
    })
}

/// The subscriptions that want an event of `event_type` in `organization_id`.
pub(super) async fn wanting(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    event_type: &str,
) -> Result<Vec<webhook::Model>> {
    Ok(webhook::Entity::find()
        .filter(webhook::Column::OrganizationId.eq(organization_id))
        .filter(webhook::Column::Enabled.eq(true))
        .all(db)
        .await?
        .into_iter()
        .filter(|w| w.event_types.0.iter().any(|t| t == event_type))
        .collect())
}

/// Deliveries of a subscription, newest first (its delivery log).
pub async fn deliveries(
    db: &impl ConnectionTrait,
    webhook_id: Uuid,
    limit: u64,
) -> Result<Vec<delivery::Model>> {
    use sea_orm::QuerySelect;
    Ok(delivery::Entity::find()
        .filter(delivery::Column::DestinationId.eq(webhook_id))
        .order_by_desc(delivery::Column::CreatedAt)
        .order_by_desc(delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_to_public_addresses_unless_allowed() {
        let strict = Outbound::default();
        assert!(strict.check_url("https://hooks.example.com/in").is_ok());
        for refused in [
            "http://hooks.example.com/in",
            "http://127.0.0.1:9000/in",
            "https://127.0.0.1/in",
            "https://10.0.0.5/in",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/in",
            "https://[fd00::1]/in",
            "https://[::ffff:192.168.0.1]/in",
            "https://[::127.0.0.1]/in",
            "https://[2002:7f00:1::]/in",
            "https://[2001:0:1234::1]/in",
            "https://[fec0::1]/in",
            "https://192.0.0.8/in",
            "https://2130706433/in",
            "https://0x7f.1/in",
            "https://user:pw@hooks.example.com/in",
            "https://localhost/in",
            "ftp://hooks.example.com/in",
            "not a url",
        ] {
            assert!(strict.check_url(refused).is_err(), "{refused}");
        }
        let loopback = Outbound {
            allow_http_loopback: true,
            allow_private_networks: false,
        };
        assert!(loopback.check_url("http://127.0.0.1:9000/in").is_ok());
        assert!(loopback.check_url("http://localhost:9000/in").is_ok());
        assert!(loopback.check_url("http://10.0.0.5/in").is_err());
        assert!(loopback.check_url("https://10.0.0.5/in").is_err());
        let private = Outbound {
            allow_http_loopback: false,
            allow_private_networks: true,
        };
        assert!(private.check_url("https://10.0.0.5/in").is_ok());
        assert!(private.check_url("http://10.0.0.5/in").is_err());
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_id_timestamp_body() {
        // The Standard Webhooks specification's own example.
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let header = signature(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
