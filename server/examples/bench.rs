//! Benchmark of the impersonation token exchange: the raw cost of its cryptography (two
//! RS256 verifications and one signature, in-process) against the throughput of
//! `POST /oauth2/token` exchanges over HTTP at several concurrency levels, with
//! everything in place (single-use check, impersonation session, audit records, outbox).
//! Then the same for `client_credentials` (one signature) at concurrency 16 and 64, for
//! the authorization code redemption and the refresh token grant (an access token and an
//! ID token: two signatures), and introspection at 16 connections against 10,000/s; the
//! exchange and `client_credentials` again for each signing algorithm (RS256, ES256,
//! EdDSA), each against its own ceiling. Each ceiling is measured before its section and
//! again after it, and the higher is kept: the machine's speed drifts within a run.
//! Prints figures and the ratio. Run: `scripts/bench` (or `cargo run --release -p server
//! --example bench -- [exchanges per level] [concurrency levels, default 1,4,16,64]`;
//! one level alone is handy under a profiler).

use identity::impersonation::claims::SubjectClaims;
use identity::oauth::claims::{AccessClaims, Actor, IdClaims};
use identity::oauth::grant_type::{
    AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN, TOKEN_EXCHANGE,
};
use identity::oauth::token_type;
use server::{Application, Config, config::Secret};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Token types of the exchange's form (RFC 8693 §3).
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

/// The web application's registered redirect URI.
const REDIRECT: &str = "https://bench.example/callback";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let per_level: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let levels: Vec<usize> = std::env::args()
        .nth(2)
        .map(|list| list.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 4, 16, 64]);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let data = tempfile::TempDir::new()?;
    let (url, state) = serve(data.path(), None).await?;
    let db = &state.db;
    let provider = &state.provider;
    let keys = provider.keys.clone();
    let w = Wso2::set_up(&state).await?;
    let (org, impersonator, target, app, secret, session, actor_token, now) = (
        w.org,
        &w.impersonator,
        &w.target,
        &w.app,
        &w.secret,
        &w.session,
        &w.actor_token,
        w.now,
    );
    let (service, service_secret) = (&w.service, &w.service_secret);
    let subject = |jti: String, sign_in: &identity::entities::idp_session::Model| {
        w.subject(provider, jti, sign_in)
    };

    // 1. The cryptographic ceiling: verify both tokens, sign the access token.
    let sample = keys.sign(
        token_type::SUBJECT,
        &subject(Uuid::new_v4().to_string(), session),
    )?;
    let access = AccessClaims {
        iss: provider.issuer.clone(),
        sub: target.id.to_string(),
        aud: app.client_id.clone(),
        client_id: app.client_id.clone(),
        azp: app.client_id.clone(),
        scope: String::new(),
        iat: now,
        nbf: now,
        exp: now + 3600,
        jti: Uuid::new_v4().to_string(),
        auth_time: Some(now),
        aut: "APPLICATION_USER".into(),
        org_id: org.to_string(),
        org_name: "Root".into(),
        act: Some(Actor {
            sub: impersonator.id.to_string(),
        }),
        impersonation_session_id: Some(Uuid::new_v4().to_string()),
        impersonation_mode: None,
    };
    let crypto_window = Duration::from_secs(3);
    let exchange_crypto = || {
        let verify = async {
            let _: SubjectClaims = keys
                .verify(&sample, token_type::SUBJECT, &provider.issuer, None)
                .await
                .unwrap();
            let _: IdClaims = keys
                .verify(
                    actor_token,
                    token_type::ID,
                    &provider.issuer,
                    Some(&app.client_id),
                )
                .await
                .unwrap();
        };
        futures::executor::block_on(verify);
        keys.sign(token_type::ACCESS, &access).unwrap();
    };
    let ceiling = per_second(cores, crypto_window, exchange_crypto);

    // 2. Exchanges over HTTP.
    let client = reqwest::Client::new();
    let token_url = format!("{url}/oauth2/token");
    let mut best: f64 = 0.0;
    let mut rows = Vec::new();
    for &concurrency in &levels {
        // Issued as `/oauth2/authorize` issues them, and used in the order issued.
        let mut tokens: Vec<String> = Vec::with_capacity(per_level);
        for _ in 0..per_level {
            let sign_in = identity::sessions::start(db, impersonator.id, 3600).await?;
            let jti = identity::store::db::new_record_id().to_string();
            tokens.push(keys.sign(token_type::SUBJECT, &subject(jti, &sign_in.session))?);
        }
        let tokens = Arc::new(tokens);
        let actor_token = actor_token.clone();
        let exchange = posting(&client, &token_url, (&app.client_id, secret), move |n| {
            exchange_form(&tokens[n], &actor_token)
        });
        let measured = drive(per_level, concurrency, exchange).await;
        best = best.max(measured.throughput());
        rows.push((concurrency, measured));
    }
    let ceiling = again(ceiling, cores, crypto_window, exchange_crypto);
    report(
        &format!(
            "cryptography of one exchange (2 verifications + 1 signature, RS256, {cores} threads)"
        ),
        ceiling,
        "concurrency  exchanges   throughput      p50       p99   of ceiling   CPU/exchange   switches/exchange",
        rows.iter().map(|(c, m)| ("", *c, m)),
    );
    println!(
        "\nbest exchange throughput / cryptographic ceiling: {:.2} (target: at least 0.85)",
        best / ceiling
    );

    // 3. client_credentials, as a WSO2-style confidential client calls it: one signature
    // per token, against the same ceiling measured for that signature alone.
    let service_token = AccessClaims {
        sub: service.client_id.clone(),
        aud: service.client_id.clone(),
        client_id: service.client_id.clone(),
        azp: service.client_id.clone(),
        auth_time: None,
        aut: "APPLICATION".into(),
        act: None,
        impersonation_session_id: None,
        ..access.clone()
    };
    let one_signature = || {
        keys.sign(token_type::ACCESS, &service_token).unwrap();
    };
    let signing_ceiling = per_second(cores, crypto_window, one_signature);
    let mut best_service: f64 = 0.0;
    let mut rows = Vec::new();
    for concurrency in [16, 64] {
        let own_token = posting(
            &client,
            &token_url,
            (&service.client_id, service_secret),
            |_| vec![("grant_type", CLIENT_CREDENTIALS.into())],
        );
        let measured = drive(per_level, concurrency, own_token).await;
        best_service = best_service.max(measured.throughput());
        rows.push((concurrency, measured));
    }
    let signing_ceiling = again(signing_ceiling, cores, crypto_window, one_signature);
    report(
        &format!(
            "\ncryptography of one client_credentials token (1 signature, RS256, {cores} threads)"
        ),
        signing_ceiling,
        "concurrency     tokens   throughput      p50       p99   of ceiling     CPU/token      switches/token",
        rows.iter().map(|(c, m)| ("", *c, m)),
    );
    println!(
        "\nbest client_credentials throughput / its cryptographic ceiling: {:.2} (target: at least 0.80)",
        best_service / signing_ceiling
    );

    // 4. The authorization code redemption and the refresh token grant of a web
    // application (a WSO2-style confidential client, scope `openid`): each answer carries
    // an access token and an ID token, two signatures, against the ceiling of those two.
    let web = identity::applications::create(
        db,
        org,
        identity::applications::Settings {
            name: "Bench web".into(),
            grant_types: vec![AUTHORIZATION_CODE.into(), REFRESH_TOKEN.into()],
            redirect_uris: vec![REDIRECT.into()],
            ..Default::default()
        },
    )
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .application;
    let web_secret = identity::applications::reveal_secret(db, &web)
        .await?
        .expect("a secret");
    let user_token = AccessClaims {
        sub: target.id.to_string(),
        aud: web.client_id.clone(),
        client_id: web.client_id.clone(),
        azp: web.client_id.clone(),
        act: None,
        impersonation_session_id: None,
        scope: "openid".into(),
        ..access.clone()
    };
    let id_token_claims = IdClaims {
        iss: provider.issuer.clone(),
        sub: target.id.to_string(),
        aud: web.client_id.clone(),
        azp: web.client_id.clone(),
        iat: now,
        exp: now + 3600,
        auth_time: now,
        jti: Uuid::new_v4().to_string(),
        nonce: None,
        at_hash: Some("x".repeat(22)),
        c_hash: None,
        sid: Some(session.id.to_string()),
        act: None,
        impersonation_mode: None,
        profile: Default::default(),
    };
    let two_signatures_crypto = || {
        keys.sign(token_type::ACCESS, &user_token).unwrap();
        keys.sign(token_type::ID, &id_token_claims).unwrap();
    };
    let two_signatures = per_second(cores, crypto_window, two_signatures_crypto);
    let mut rows = Vec::new();
    let mut best_code: f64 = 0.0;
    let mut best_refresh: f64 = 0.0;
    for concurrency in [16, 64] {
        // Codes as `/oauth2/authorize` issues them (they live 60 seconds), in one
        // transaction to be quick.
        let txn = identity::store::db::begin_write(db).await?;
        let mut codes = Vec::with_capacity(per_level);
        for _ in 0..per_level {
            codes.push(
                identity::oauth::codes::issue(
                    &txn,
                    identity::oauth::codes::NewCode {
                        application_id: web.id,
                        user_id: target.id,
                        idp_session_id: Some(session.id),
                        redirect_uri: REDIRECT.into(),
                        scope: "openid".into(),
                        nonce: None,
                        code_challenge: None,
                        auth_time: now,
                        impersonation_session_id: None,
                    },
                )
                .await?,
            );
        }
        txn.commit().await?;
        let codes = Arc::new(codes);
        let redeem = posting(
            &client,
            &token_url,
            (&web.client_id, &web_secret),
            move |n| {
                vec![
                    ("grant_type", AUTHORIZATION_CODE.into()),
                    ("code", codes[n].clone()),
                    ("redirect_uri", REDIRECT.into()),
                ]
            },
        );
        let measured = drive(per_level, concurrency, redeem).await;
        best_code = best_code.max(measured.throughput());
        rows.push(("code", concurrency, measured));

        // Refresh tokens of as many grants, each used once.
        let txn = identity::store::db::begin_write(db).await?;
        let mut refresh_tokens = Vec::with_capacity(per_level);
        for _ in 0..per_level {
            let minted = identity::oauth::grants::mint(
                provider,
                &txn,
                identity::oauth::grants::Mint {
                    app: &web,
                    user: Some(target),
                    scopes: vec!["openid".into()],
                    grant_scopes: None,
                    auth_time: Some(identity::clock::now()),
                    nonce: None,
                    idp_session_id: Some(session.id),
                    code_id: None,
                    impersonation: None,
                    organization_id: None,
                    id_token: false,
                    refresh: identity::oauth::grants::RefreshPlan::NewFamily,
                },
            )
            .await?;
            refresh_tokens.push(minted.refresh_token.expect("a refresh token"));
        }
        txn.commit().await?;
        let refresh_tokens = Arc::new(refresh_tokens);
        let rotate = posting(
            &client,
            &token_url,
            (&web.client_id, &web_secret),
            move |n| {
                vec![
                    ("grant_type", REFRESH_TOKEN.into()),
                    ("refresh_token", refresh_tokens[n].clone()),
                ]
            },
        );
        let measured = drive(per_level, concurrency, rotate).await;
        best_refresh = best_refresh.max(measured.throughput());
        rows.push(("refresh", concurrency, measured));
    }
    let two_signatures = again(two_signatures, cores, crypto_window, two_signatures_crypto);
    report(
        &format!(
            "\ncryptography of one code redemption or refresh (2 signatures, RS256, {cores} threads)"
        ),
        two_signatures,
        "grant   concurrency   requests   throughput      p50       p99   of ceiling   CPU/request   switches/request",
        rows.iter().map(|(g, c, m)| (*g, *c, m)),
    );
    println!(
        "\nbest code redemption / its cryptographic ceiling: {:.2}; best refresh: {:.2} (target: at least 0.80 each)",
        best_code / two_signatures,
        best_refresh / two_signatures
    );

    // 5. Introspection (RFC 7662) at 16 connections, by the token's own client: a token
    // the service got for itself (issued without a record) and an impersonated user's
    // token (recorded, with its session and user checked). Then the application token is
    // revoked, and must be inactive at the next introspection.
    let introspect_url = format!("{url}/oauth2/introspect");
    let access_token_of = |request: reqwest::RequestBuilder| async move {
        let body: serde_json::Value = request.send().await?.json().await?;
        anyhow::Ok(body["access_token"].as_str().unwrap_or_default().to_owned())
    };
    let service_access = access_token_of(posting(
        &client,
        &token_url,
        (&service.client_id, service_secret),
        |_| vec![("grant_type", CLIENT_CREDENTIALS.into())],
    )(0))
    .await?;
    let user_access = {
        let sign_in = identity::sessions::start(db, impersonator.id, 3600).await?;
        let jti = identity::store::db::new_record_id().to_string();
        let subject_token = keys.sign(token_type::SUBJECT, &subject(jti, &sign_in.session))?;
        let actor_token = actor_token.clone();
        access_token_of(posting(
            &client,
            &token_url,
            (&app.client_id, secret),
            move |_| exchange_form(&subject_token, &actor_token),
        )(0))
        .await?
    };
    println!(
        "\nintrospection, 16 connections    requests   throughput      p50       p99   of 10,000/s     CPU/request  switches/request"
    );
    let by_service = (service.client_id.as_str(), service_secret.as_str());
    let introspected = |token: &str, by: (&str, &str)| {
        let token = token.to_owned();
        posting(&client, &introspect_url, by, move |_| {
            vec![("token", token.clone())]
        })
    };
    for (what, request) in [
        (
            "an application's token",
            introspected(&service_access, by_service),
        ),
        (
            "an impersonated user's token",
            introspected(&user_access, (&app.client_id, secret)),
        ),
    ] {
        let measured = drive(per_level * 2, 16, request).await;
        println!("  {what:<29}{}", &measured.row(16, 10_000.0)[11..]);
    }
    let active = |request: reqwest::RequestBuilder| async move {
        let body: serde_json::Value = request.send().await?.json().await?;
        anyhow::Ok(body["active"] == true)
    };
    let before = active(introspected(&service_access, by_service)(0)).await?;
    let revoke_url = format!("{url}/oauth2/revoke");
    let token = service_access.clone();
    posting(&client, &revoke_url, by_service, move |_| {
        vec![("token", token.clone())]
    })(0)
    .send()
    .await?
    .error_for_status()?;
    let after = active(introspected(&service_access, by_service)(0)).await?;
    println!(
        "  the application's token: active {before} before its revocation, {after} right after (must be true, false)"
    );

    // 6. Each signing algorithm: the exchange and client_credentials again with the
    // applications set to sign with it, each against its own ceiling.
    per_algorithm(&state, &w, &url, per_level, &access, &service_token).await?;

    // 7. Scale-out: the exchange and client_credentials on PostgreSQL, two instances on
    // one database, against the same ceilings (`scripts/bench` starts a throwaway
    // PostgreSQL and sets IDP_BENCH_POSTGRES_URL).
    match std::env::var("IDP_BENCH_POSTGRES_URL") {
        Ok(admin_url) => scale_out(&admin_url, per_level, ceiling, signing_ceiling).await?,
        Err(_) => println!(
            "\n(PostgreSQL with two instances: set IDP_BENCH_POSTGRES_URL, as scripts/bench does)"
        ),
    }

    // What the exchange pays besides its own work: the same client and server answering a
    // request that does nothing (`/health/live`), and one that makes one database round
    // trip (`/health/ready`).
    println!("\nfloors, same client, concurrency 4:");
    for (what, path) in [
        ("an HTTP request that does nothing", "/health/live"),
        (
            "an HTTP request with one database round trip",
            "/health/ready",
        ),
    ] {
        let (client, url) = (client.clone(), format!("{url}{path}"));
        let measured = drive(per_level, 4, move |_| client.get(&url)).await;
        println!(
            "  {what:<46} {:>7.0}/s  {:>6.3}ms CPU  {:>5.1} switches",
            measured.throughput(),
            measured.used.cpu_secs * 1000.0 / per_level as f64,
            measured.used.switches as f64 / per_level as f64
        );
    }
    println!(
        "\nCPU/exchange: this process's CPU time (server and client, every thread) per exchange; \
         the cryptography alone takes {:.2}ms of it. switches/exchange: context switches of \
         all threads per exchange.",
        cores as f64 * 1000.0 / ceiling
    );
    Ok(())
}

/// What [`drive`] measured.
struct Measured {
    /// Every request's latency, shortest first.
    latencies: Vec<Duration>,
    elapsed: Duration,
    used: Usage,
}

impl Measured {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let last = self.latencies.len() - 1;
        self.latencies[((self.latencies.len() as f64 * p) as usize).min(last)]
    }

    /// A row of the tables: concurrency, requests, throughput, p50, p99, share of the
    /// ceiling, CPU and context switches per request.
    fn row(&self, concurrency: usize, ceiling: f64) -> String {
        let n = self.latencies.len() as f64;
        format!(
            "{concurrency:>11}  {:>9}  {:>8.0}/s  {:>7.1}ms  {:>7.1}ms  {:>9.0}%  {:>10.2}ms  {:>18.0}",
            self.latencies.len(),
            self.throughput(),
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
            100.0 * self.throughput() / ceiling,
            self.used.cpu_secs * 1000.0 / n,
            self.used.switches as f64 / n,
        )
    }
}

/// Sends `count` requests from `concurrency` tasks; `request(n)` builds the `n`th (in the
/// order they are sent). Every answer must be `200`.
async fn drive<F>(count: usize, concurrency: usize, request: F) -> Measured
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let before = Usage::now();
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (request, next) = (request.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= count {
                        break latencies;
                    }
                    let sent = Instant::now();
                    let response = request(n).send().await.unwrap();
                    let status = response.status();
                    let body = response.text().await.unwrap();
                    assert_eq!(status, 200, "{body}");
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Measured {
        latencies,
        elapsed,
        used: Usage::now().since(&before),
    }
}

/// For [`drive`]: the `n`th request is a form `form(n)` posted to `url` by the
/// confidential client `client_id` (Basic authentication, as WSO2 clients send it).
fn posting<F>(
    client: &reqwest::Client,
    url: &str,
    (client_id, secret): (&str, &str),
    form: F,
) -> impl Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static + use<F>
where
    F: Fn(usize) -> Vec<(&'static str, String)> + Send + Sync + 'static,
{
    let (client, url, client_id, secret) = (
        client.clone(),
        url.to_owned(),
        client_id.to_owned(),
        secret.to_owned(),
    );
    move |n| {
        client
            .post(&url)
            .basic_auth(&client_id, Some(&secret))
            .form(&form(n))
    }
}

/// The form of a token exchange (RFC 8693 §2.1) of `subject_token`, acted by the
/// impersonator whose ID token is `actor_token`.
fn exchange_form(subject_token: &str, actor_token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", TOKEN_EXCHANGE.into()),
        ("subject_token", subject_token.into()),
        ("subject_token_type", JWT.into()),
        ("actor_token", actor_token.into()),
        ("actor_token_type", ID_TOKEN.into()),
    ]
}

/// For [`drive`]: the even requests through `a`, the odd ones through `b` (two instances).
fn alternating<A, B>(a: A, b: B) -> impl Fn(usize) -> reqwest::RequestBuilder + Send + Sync
where
    A: Fn(usize) -> reqwest::RequestBuilder + Send + Sync,
    B: Fn(usize) -> reqwest::RequestBuilder + Send + Sync,
{
    move |n| if n % 2 == 0 { a(n) } else { b(n) }
}

/// The exchange and `client_credentials` at 16 and 64 connections for each signing
/// algorithm (the exchange's and the service's applications set to sign with it), each
/// against the ceiling of its own cryptography with that algorithm.
async fn per_algorithm(
    state: &server::state::AppState,
    w: &Wso2,
    url: &str,
    per_level: usize,
    access: &AccessClaims,
    service_token: &AccessClaims,
) -> anyhow::Result<()> {
    use identity::keys::SigningAlg;
    let (db, provider) = (&state.db, &state.provider);
    let keys = &provider.keys;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let client = reqwest::Client::new();
    let token_url = format!("{url}/oauth2/token");
    let operator = identity::delegation::Authority::operator();
    // Past a few thousand a second HTTP itself limits, not the signature: the same client
    // and server answering a request that does nothing, at the same concurrency.
    let mut floors = std::collections::HashMap::new();
    for concurrency in [16, 64] {
        let (client, url) = (client.clone(), format!("{url}/health/live"));
        let measured = drive(per_level, concurrency, move |_| client.get(&url)).await;
        floors.insert(concurrency, measured.throughput());
    }
    println!(
        "\nper signing algorithm (the applications set to sign with it); of floor: of a request \
         that does nothing at that concurrency ({:.0}/s at 16, {:.0}/s at 64):\n\
         alg    grant          ceiling  concurrency   requests   throughput      p50       p99   of ceiling   CPU/request   switches/request   of floor",
        floors[&16], floors[&64]
    );
    let mut rs256_exchange_ceiling = 0.0;
    for alg in SigningAlg::ALL {
        let mut apps = Vec::new();
        for app in [&w.app, &w.service] {
            let mut settings = identity::applications::Settings::of(app);
            settings.id_token_signed_response_alg = alg.as_str().into();
            settings.access_token_signed_response_alg = alg.as_str().into();
            apps.push(
                identity::applications::update(db, &operator, app.clone(), settings)
                    .await?
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            );
        }
        let app = &apps[0];
        let actor_token = identity::oauth::grants::id_token(
            provider,
            app,
            &w.impersonator,
            &[],
            w.now,
            None,
            Some(w.session.id),
        )?;
        let sample = keys.sign_with(
            alg,
            token_type::SUBJECT,
            &w.subject(provider, Uuid::new_v4().to_string(), &w.session),
        )?;
        let window = Duration::from_secs(2);
        let exchange_crypto = || {
            futures::executor::block_on(async {
                let _: SubjectClaims = keys
                    .verify(&sample, token_type::SUBJECT, &provider.issuer, None)
                    .await
                    .unwrap();
                let _: IdClaims = keys
                    .verify(
                        &actor_token,
                        token_type::ID,
                        &provider.issuer,
                        Some(&app.client_id),
                    )
                    .await
                    .unwrap();
            });
            keys.sign_with(alg, token_type::ACCESS, access).unwrap();
        };
        let one_signature = || {
            keys.sign_with(alg, token_type::ACCESS, service_token)
                .unwrap();
        };
        let exchange_ceiling = per_second(cores, window, exchange_crypto);
        let signing_ceiling = per_second(cores, window, one_signature);
        let mut rows = Vec::new();
        for concurrency in [16, 64] {
            let txn = identity::store::db::begin_write(db).await?;
            let mut tokens = Vec::with_capacity(per_level);
            for _ in 0..per_level {
                let sign_in = identity::sessions::start(&txn, w.impersonator.id, 3600).await?;
                let jti = identity::store::db::new_record_id().to_string();
                let claims = w.subject(provider, jti, &sign_in.session);
                tokens.push(keys.sign_with(alg, token_type::SUBJECT, &claims)?);
            }
            txn.commit().await?;
            let (tokens, actor_token) = (Arc::new(tokens), actor_token.clone());
            let exchange = posting(&client, &token_url, (&app.client_id, &w.secret), move |n| {
                exchange_form(&tokens[n], &actor_token)
            });
            let measured = drive(per_level, concurrency, exchange).await;
            rows.push(("exchange", concurrency, measured));
            let own_token = posting(
                &client,
                &token_url,
                (&w.service.client_id, &w.service_secret),
                |_| vec![("grant_type", CLIENT_CREDENTIALS.into())],
            );
            let measured = drive(per_level, concurrency, own_token).await;
            rows.push(("client_cred.", concurrency, measured));
        }
        let exchange_ceiling = again(exchange_ceiling, cores, window, exchange_crypto);
        let signing_ceiling = again(signing_ceiling, cores, window, one_signature);
        if alg == SigningAlg::Rs256 {
            rs256_exchange_ceiling = exchange_ceiling;
        }
        for (grant, concurrency, measured) in &rows {
            let ceiling = if *grant == "exchange" {
                exchange_ceiling
            } else {
                signing_ceiling
            };
            println!(
                "{:<7}{grant:<13}{ceiling:>9.0}/s{}  {:>8.0}%",
                alg.as_str(),
                measured.row(*concurrency, ceiling),
                100.0 * measured.throughput() / floors[concurrency]
            );
        }
    }
    println!(
        "(with ES256 and EdDSA the signature is no longer what limits a grant: see \"of floor\")"
    );
    // Little's law: with 64 requests always in flight, the mean latency is 64 divided by
    // the throughput, so no p99 is below 64 / ceiling.
    println!(
        "at 64 connections the mean latency is at least 64 / throughput: for RS256's exchange, \
         even at its ceiling, {:.1} ms (the p99 target is 25 ms)",
        64_000.0 / rs256_exchange_ceiling
    );
    Ok(())
}

/// The exchange and `client_credentials` at 16 and 64 connections on two instances
/// sharing a fresh PostgreSQL database (created through `admin_url`), requests alternating
/// between them, as a ratio of the same ceilings as on SQLite.
async fn scale_out(
    admin_url: &str,
    per_level: usize,
    exchange_ceiling: f64,
    signing_ceiling: f64,
) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let name = format!("bench_{}", Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    let database_url = format!("{base}/{name}");
    let (first_data, second_data) = (tempfile::TempDir::new()?, tempfile::TempDir::new()?);
    let (first_url, first) = serve(first_data.path(), Some(database_url.clone())).await?;
    let (second_url, _second) = serve(second_data.path(), Some(database_url)).await?;
    let w = Wso2::set_up(&first).await?;
    let provider = &first.provider;
    let client = reqwest::Client::new();
    let urls = [first_url, second_url].map(|u| format!("{u}/oauth2/token"));
    println!(
        "\nPostgreSQL, two instances on one database, requests alternating between them:\n\
         grant           concurrency   requests   throughput      p50       p99   of ceiling   CPU/request   switches/request"
    );
    for concurrency in [16, 64] {
        let txn = identity::store::db::begin_write(&first.db).await?;
        let mut tokens = Vec::with_capacity(per_level);
        for _ in 0..per_level {
            let sign_in = identity::sessions::start(&txn, w.impersonator.id, 3600).await?;
            let jti = identity::store::db::new_record_id().to_string();
            let claims = w.subject(provider, jti, &sign_in.session);
            tokens.push(provider.keys.sign(token_type::SUBJECT, &claims)?);
        }
        txn.commit().await?;
        let tokens = Arc::new(tokens);
        let exchange = |url: &str| {
            let (tokens, actor_token) = (tokens.clone(), w.actor_token.clone());
            posting(&client, url, (&w.app.client_id, &w.secret), move |n| {
                exchange_form(&tokens[n], &actor_token)
            })
        };
        let both = alternating(exchange(&urls[0]), exchange(&urls[1]));
        let measured = drive(per_level, concurrency, both).await;
        println!(
            "{:<16}{}",
            "exchange",
            measured.row(concurrency, exchange_ceiling)
        );
        let own_token = |url: &str| {
            posting(
                &client,
                url,
                (&w.service.client_id, &w.service_secret),
                |_| vec![("grant_type", CLIENT_CREDENTIALS.into())],
            )
        };
        let both = alternating(own_token(&urls[0]), own_token(&urls[1]));
        let measured = drive(per_level, concurrency, both).await;
        println!(
            "{:<16}{}",
            "client_cred.",
            measured.row(concurrency, signing_ceiling)
        );
    }
    Ok(())
}

/// Prints a section's ceiling (`what: N/s`), then its table: `header`, and a row per
/// (label, concurrency, measurement), each against the ceiling. A label is printed in 8
/// columns when a table has one.
fn report<'a>(
    what: &str,
    ceiling: f64,
    header: &str,
    rows: impl Iterator<Item = (&'a str, usize, &'a Measured)>,
) {
    println!("{what}: {ceiling:.0}/s");
    println!("\n{header}");
    for (label, concurrency, measured) in rows {
        let label = if label.is_empty() {
            String::new()
        } else {
            format!("{label:<8}")
        };
        println!("{label}{}", measured.row(concurrency, ceiling));
    }
}

/// A ceiling measured before a section, measured again after it, the higher kept: the
/// machine's speed drifts during a run (a ceiling measured between two sections has come
/// out below the throughput over HTTP beside it), and the higher ceiling gives the lower
/// ratio.
fn again(before: f64, threads: usize, window: Duration, work: impl Fn() + Sync) -> f64 {
    before.max(per_second(threads, window, work))
}

/// How many times per second `threads` threads together do `work`, measured over `window`.
fn per_second(threads: usize, window: Duration, work: impl Fn() + Sync) -> f64 {
    let done = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let started = Instant::now();
                while started.elapsed() < window {
                    work();
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    done.into_inner() as f64 / window.as_secs_f64()
}

/// CPU time and context switches of this process, every thread, from `/proc` (Linux).
#[derive(Default)]
struct Usage {
    cpu_secs: f64,
    switches: u64,
}

impl Usage {
    fn now() -> Self {
        let mut usage = Usage::default();
        // Fields 14 and 15 of /proc/self/stat: user and system time of every thread, in
        // clock ticks (100 per second on Linux).
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some((_, after_name)) = stat.rsplit_once(')')
        {
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            usage.cpu_secs = (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0;
        }
        let tasks = std::fs::read_dir("/proc/self/task").into_iter().flatten();
        for task in tasks.flatten() {
            let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
                continue;
            };
            usage.switches += status
                .lines()
                .filter(|l| l.contains("ctxt_switches"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
        usage
    }

    fn since(&self, before: &Usage) -> Usage {
        Usage {
            cpu_secs: self.cpu_secs - before.cpu_secs,
            switches: self.switches.saturating_sub(before.switches),
        }
    }
}

/// Starts a server on a free port with its data in `data` (and its database at
/// `database_url`, SQLite in `data` otherwise): its URL and state.
async fn serve(
    data: &std::path::Path,
    database_url: Option<String>,
) -> anyhow::Result<(String, server::state::AppState)> {
    let config = Config {
        data_dir: data.to_owned(),
        addr: "127.0.0.1:0".parse()?,
        admin_password: Some(Secret::new("bench-Admin-1")),
        site_dir: data.join("site"),
        database_url: database_url.map(Secret::new),
        public_url: Some("http://idp.bench.test".into()),
        ..Config::default()
    };
    let application = Application::build(config).await?;
    let url = format!("http://{}", application.addr());
    let state = application.state().clone();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    Ok((url, state))
}

/// The WSO2 set-up, through the domain services: an impersonator allowed to impersonate
/// through the application `app` (token exchange), signed in (`session`, `actor_token`);
/// the user `target`; and `service`, a confidential client of `client_credentials`.
struct Wso2 {
    org: Uuid,
    impersonator: identity::entities::user::Model,
    target: identity::entities::user::Model,
    app: identity::entities::application::Model,
    secret: String,
    service: identity::entities::application::Model,
    service_secret: String,
    session: identity::entities::idp_session::Model,
    actor_token: String,
    now: i64,
}

impl Wso2 {
    async fn set_up(state: &server::state::AppState) -> anyhow::Result<Self> {
        let db = &state.db;
        let org = identity::seed::root_organization_id(db).await?;
        let new_user = |name: &'static str| identity::users::NewUser {
            organization_id: org,
            username: name,
            email: "",
            given_name: "",
            family_name: "",
            password: "bench-password-1",
        };
        let impersonator = identity::users::create(db, new_user("impersonator")).await?;
        let target = identity::users::create(db, new_user("target")).await?;
        let application = |name: &str, grant_type: &str, subject_token_enabled: bool| {
            let settings = identity::applications::Settings {
                name: name.into(),
                grant_types: vec![grant_type.into()],
                subject_token_enabled,
                ..Default::default()
            };
            async move {
                let app = identity::applications::create(db, org, settings)
                    .await?
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .application;
                let secret = identity::applications::reveal_secret(db, &app)
                    .await?
                    .expect("a secret");
                anyhow::Ok((app, secret))
            }
        };
        let (app, secret) = application("Bench", TOKEN_EXCHANGE, true).await?;
        let (service, service_secret) =
            application("Bench service", CLIENT_CREDENTIALS, false).await?;
        let api =
            identity::api_resources::find_by_identifier(db, identity::api_resources::IMPERSONATION)
                .await?
                .expect("the impersonation API");
        let operator = identity::delegation::Authority::operator();
        identity::api_resources::authorize(
            db,
            &operator,
            &app,
            &api,
            &[identity::scopes::USER_IMPERSONATE.into()],
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        identity::roles::create(
            db,
            &operator,
            org,
            "Bench impersonator",
            (identity::entities::role::AudienceType::Application, app.id),
            &[identity::scopes::USER_IMPERSONATE.into()],
            &[impersonator.id],
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let session = identity::sessions::start(db, impersonator.id, 3600)
            .await?
            .session;
        let now = identity::clock::now();
        let actor_token = identity::oauth::grants::id_token(
            &state.provider,
            &app,
            &impersonator,
            &[],
            now,
            None,
            Some(session.id),
        )?;
        Ok(Self {
            org,
            impersonator,
            target,
            app,
            secret,
            service,
            service_secret,
            session,
            actor_token,
            now,
        })
    }

    /// The claims of a subject token for `sign_in` (one impersonation per sign-in: each
    /// subject token names a sign-in of its own).
    fn subject(
        &self,
        provider: &identity::oauth::Provider,
        jti: String,
        sign_in: &identity::entities::idp_session::Model,
    ) -> SubjectClaims {
        SubjectClaims {
            iss: provider.issuer.clone(),
            sub: self.target.id.to_string(),
            aud: self.app.client_id.clone(),
            azp: self.app.client_id.clone(),
            client_id: self.app.client_id.clone(),
            scope: String::new(),
            may_act: Actor {
                sub: self.impersonator.id.to_string(),
            },
            iat: self.now,
            nbf: self.now,
            exp: self.now + 3600,
            jti,
            sid: sign_in.id.to_string(),
            sid_exp: Some(sign_in.expires_at),
            reason: String::new(),
            ticket: String::new(),
            mode: identity::settings::Mode::Full,
            request: None,
            duration_minutes: None,
            code_challenge: None,
        }
    }
}
