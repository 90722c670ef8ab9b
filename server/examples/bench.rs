//! Benchmark of the impersonation token exchange: the raw cost of its cryptography (two
//! RS256 verifications and one signature, in-process) against the throughput of
//! `POST /oauth2/token` exchanges over HTTP at several concurrency levels, with
//! everything in place (single-use check, impersonation session, audit records, outbox).
//! Then the same for `client_credentials` (one signature) at concurrency 16 and 64, for
//! the authorization code redemption and the refresh token grant (an access token and an
//! ID token: two signatures), and introspection at 16 connections against 10,000/s.
//! Prints figures and the ratio. Run: `scripts/bench` (or `cargo run --release -p server
//! --example bench -- [exchanges per level] [concurrency levels, default 1,4,16,64]`;
//! one level alone is handy under a profiler).

use identity::impersonation::claims::SubjectClaims;
use identity::oauth::claims::{AccessClaims, Actor, IdClaims};
use identity::oauth::token_type;
use server::{Application, Config, config::Secret};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

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
    let config = Config {
        data_dir: data.path().to_owned(),
        addr: "127.0.0.1:0".parse()?,
        admin_password: Some(Secret::new("bench-Admin-1")),
        site_dir: data.path().join("site"),
        ..Config::default()
    };
    let application = Application::build(config).await?;
    let url = format!("http://{}", application.addr());
    let state = application.state().clone();
    tokio::spawn(application.run_until_stopped(std::future::pending()));
    let db = &state.db;

    // The WSO2 setup, through the domain services.
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
    let settings = identity::applications::Settings {
        name: "Bench".into(),
        grant_types: vec![identity::oauth::grant_type::TOKEN_EXCHANGE.into()],
        subject_token_enabled: true,
        ..Default::default()
    };
    let app = identity::applications::create(db, org, settings)
        .await?
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .application;
    let secret = identity::applications::reveal_secret(db, &app)
        .await?
        .expect("a secret");
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

    let provider = &state.provider;
    let keys = provider.keys.clone();
    let now = identity::clock::now();
    let actor_token = identity::oauth::grants::id_token(
        provider,
        &app,
        &impersonator,
        &[],
        now,
        None,
        Some(session.id),
    )?;
    // One impersonation per sign-in: each subject token names a sign-in of its own.
    let subject = |jti: String, sign_in: &identity::entities::idp_session::Model| SubjectClaims {
        iss: provider.issuer.clone(),
        sub: target.id.to_string(),
        aud: app.client_id.clone(),
        azp: app.client_id.clone(),
        client_id: app.client_id.clone(),
        scope: String::new(),
        may_act: Actor {
            sub: impersonator.id.to_string(),
        },
        iat: now,
        nbf: now,
        exp: now + 3600,
        jti,
        sid: sign_in.id.to_string(),
        sid_exp: Some(sign_in.expires_at),
        reason: String::new(),
        ticket: String::new(),
        mode: identity::settings::Mode::Full,
        request: None,
        duration_minutes: None,
        code_challenge: None,
    };

    // 1. The cryptographic ceiling: verify both tokens, sign the access token.
    let sample = keys.sign(
        token_type::SUBJECT,
        &subject(Uuid::new_v4().to_string(), &session),
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
    let ceiling = per_second(cores, crypto_window, || {
        let verify = async {
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
        };
        futures::executor::block_on(verify);
        keys.sign(token_type::ACCESS, &access).unwrap();
    });
    println!(
        "cryptography of one exchange (2 verifications + 1 signature, RS256, {cores} threads): {ceiling:.0}/s"
    );

    // 2. Exchanges over HTTP.
    let client = reqwest::Client::new();
    let token_url = format!("{url}/oauth2/token");
    println!(
        "\nconcurrency  exchanges   throughput      p50       p99   of ceiling   CPU/exchange   switches/exchange"
    );
    let mut best: f64 = 0.0;
    for &concurrency in &levels {
        // Issued as `/oauth2/authorize` issues them, and used in the order issued.
        let mut tokens: Vec<String> = Vec::with_capacity(per_level);
        for _ in 0..per_level {
            let sign_in = identity::sessions::start(db, impersonator.id, 3600).await?;
            let jti = identity::store::db::new_record_id().to_string();
            tokens.push(keys.sign(token_type::SUBJECT, &subject(jti, &sign_in.session))?);
        }
        let tokens = Arc::new(tokens);
        let (client, token_url, actor_token, client_id, secret) = (
            client.clone(),
            token_url.clone(),
            actor_token.clone(),
            app.client_id.clone(),
            secret.clone(),
        );
        let measured = drive(per_level, concurrency, move |n| {
            client
                .post(&token_url)
                .basic_auth(&client_id, Some(&secret))
                .form(&[
                    ("grant_type", identity::oauth::grant_type::TOKEN_EXCHANGE),
                    ("subject_token", tokens[n].as_str()),
                    ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
                    ("actor_token", actor_token.as_str()),
                    (
                        "actor_token_type",
                        "urn:ietf:params:oauth:token-type:id_token",
                    ),
                ])
        })
        .await;
        best = best.max(measured.throughput());
        println!("{}", measured.row(concurrency, ceiling));
    }
    println!(
        "\nbest exchange throughput / cryptographic ceiling: {:.2} (target: at least 0.85)",
        best / ceiling
    );

    // 3. client_credentials, as a WSO2-style confidential client calls it: one signature
    // per token, against the same ceiling measured for that signature alone.
    let service = identity::applications::create(
        db,
        org,
        identity::applications::Settings {
            name: "Bench service".into(),
            grant_types: vec![identity::oauth::grant_type::CLIENT_CREDENTIALS.into()],
            ..Default::default()
        },
    )
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .application;
    let service_secret = identity::applications::reveal_secret(db, &service)
        .await?
        .expect("a secret");
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
    let signing_ceiling = per_second(cores, crypto_window, || {
        keys.sign(token_type::ACCESS, &service_token).unwrap();
    });
    println!(
        "\ncryptography of one client_credentials token (1 signature, RS256, {cores} threads): {signing_ceiling:.0}/s"
    );
    println!(
        "\nconcurrency     tokens   throughput      p50       p99   of ceiling     CPU/token      switches/token"
    );
    let mut best_service: f64 = 0.0;
    for concurrency in [16, 64] {
        let (client, token_url, client_id, secret) = (
            client.clone(),
            token_url.clone(),
            service.client_id.clone(),
            service_secret.clone(),
        );
        let measured = drive(per_level, concurrency, move |_| {
            client
                .post(&token_url)
                .basic_auth(&client_id, Some(&secret))
                .form(&[(
                    "grant_type",
                    identity::oauth::grant_type::CLIENT_CREDENTIALS,
                )])
        })
        .await;
        best_service = best_service.max(measured.throughput());
        println!("{}", measured.row(concurrency, signing_ceiling));
    }
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
            grant_types: vec![
                identity::oauth::grant_type::AUTHORIZATION_CODE.into(),
                identity::oauth::grant_type::REFRESH_TOKEN.into(),
            ],
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
    let two_signatures = per_second(cores, crypto_window, || {
        keys.sign(token_type::ACCESS, &user_token).unwrap();
        keys.sign(token_type::ID, &id_token_claims).unwrap();
    });
    println!(
        "\ncryptography of one code redemption or refresh (2 signatures, RS256, {cores} threads): {two_signatures:.0}/s"
    );
    println!(
        "\ngrant   concurrency   requests   throughput      p50       p99   of ceiling   CPU/request   switches/request"
    );
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
        let measured = drive(per_level, concurrency, {
            let (client, token_url, client_id, secret) = (
                client.clone(),
                token_url.clone(),
                web.client_id.clone(),
                web_secret.clone(),
            );
            move |n| {
                client
                    .post(&token_url)
                    .basic_auth(&client_id, Some(&secret))
                    .form(&[
                        (
                            "grant_type",
                            identity::oauth::grant_type::AUTHORIZATION_CODE,
                        ),
                        ("code", codes[n].as_str()),
                        ("redirect_uri", REDIRECT),
                    ])
            }
        })
        .await;
        best_code = best_code.max(measured.throughput());
        println!("{:<8}{}", "code", measured.row(concurrency, two_signatures));

        // Refresh tokens of as many grants, each used once.
        let txn = identity::store::db::begin_write(db).await?;
        let mut refresh_tokens = Vec::with_capacity(per_level);
        for _ in 0..per_level {
            let minted = identity::oauth::grants::mint(
                provider,
                &txn,
                identity::oauth::grants::Mint {
                    app: &web,
                    user: Some(&target),
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
        let measured = drive(per_level, concurrency, {
            let (client, token_url, client_id, secret) = (
                client.clone(),
                token_url.clone(),
                web.client_id.clone(),
                web_secret.clone(),
            );
            move |n| {
                client
                    .post(&token_url)
                    .basic_auth(&client_id, Some(&secret))
                    .form(&[
                        ("grant_type", identity::oauth::grant_type::REFRESH_TOKEN),
                        ("refresh_token", refresh_tokens[n].as_str()),
                    ])
            }
        })
        .await;
        best_refresh = best_refresh.max(measured.throughput());
        println!(
            "{:<8}{}",
            "refresh",
            measured.row(concurrency, two_signatures)
        );
    }
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
    let service_access = {
        let response = client
            .post(&token_url)
            .basic_auth(&service.client_id, Some(&service_secret))
            .form(&[(
                "grant_type",
                identity::oauth::grant_type::CLIENT_CREDENTIALS,
            )])
            .send()
            .await?;
        response.json::<serde_json::Value>().await?["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let user_access = {
        let sign_in = identity::sessions::start(db, impersonator.id, 3600).await?;
        let jti = identity::store::db::new_record_id().to_string();
        let subject_token = keys.sign(token_type::SUBJECT, &subject(jti, &sign_in.session))?;
        let response = client
            .post(&token_url)
            .basic_auth(&app.client_id, Some(&secret))
            .form(&[
                ("grant_type", identity::oauth::grant_type::TOKEN_EXCHANGE),
                ("subject_token", subject_token.as_str()),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
                ("actor_token", actor_token.as_str()),
                (
                    "actor_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
            ])
            .send()
            .await?;
        response.json::<serde_json::Value>().await?["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    println!(
        "
introspection, 16 connections    requests   throughput      p50       p99   of 10,000/s     CPU/request  switches/request"
    );
    let introspected = |token: &str, client_id: &str, secret: &str| {
        let (client, url, token, client_id, secret) = (
            client.clone(),
            introspect_url.clone(),
            token.to_owned(),
            client_id.to_owned(),
            secret.to_owned(),
        );
        move |_| {
            client
                .post(&url)
                .basic_auth(&client_id, Some(&secret))
                .form(&[("token", token.as_str())])
        }
    };
    for (what, request) in [
        (
            "an application's token",
            introspected(&service_access, &service.client_id, &service_secret),
        ),
        (
            "an impersonated user's token",
            introspected(&user_access, &app.client_id, &secret),
        ),
    ] {
        let measured = drive(per_level * 2, 16, request).await;
        println!("  {what:<29}{}", &measured.row(16, 10_000.0)[11..]);
    }
    let active = |token: String| {
        let (client, url, client_id, secret) = (
            client.clone(),
            introspect_url.clone(),
            service.client_id.clone(),
            service_secret.clone(),
        );
        async move {
            let body: serde_json::Value = client
                .post(&url)
                .basic_auth(&client_id, Some(&secret))
                .form(&[("token", token.as_str())])
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok(body["active"] == true)
        }
    };
    let before = active(service_access.clone()).await?;
    client
        .post(format!("{url}/oauth2/revoke"))
        .basic_auth(&service.client_id, Some(&service_secret))
        .form(&[("token", service_access.as_str())])
        .send()
        .await?
        .error_for_status()?;
    let after = active(service_access.clone()).await?;
    println!(
        "  the application's token: active {before} before its revocation, {after} right after (must be true, false)"
    );

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
