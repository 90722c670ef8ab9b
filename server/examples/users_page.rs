//! Benchmark of the Console's Users page: the server-rendered page (session check,
//! permission check, search or paging in the database, HTML) over HTTP, with 1,000 and
//! with 100,000 users in one run, for the first page, a search, and a deep page. Prints
//! the median and p99 of each and the ratio of the large to the small directory (target:
//! within 2x). Run: `scripts/bench`, or `cargo run --release -p server --example
//! users_page -- [requests per case, default 50]`.

use sea_orm::{ActiveValue::Set, EntityTrait};
use server::{Application, Config, config::Secret};
use std::time::{Duration, Instant};

const ADMIN_PASSWORD: &str = "bench-Admin-password-1";

/// A running server with `users` users, and a signed-in administrator's client.
async fn directory(users: usize) -> anyhow::Result<(tempfile::TempDir, String, reqwest::Client)> {
    let data = tempfile::TempDir::new()?;
    let config = Config {
        data_dir: data.path().to_owned(),
        addr: "127.0.0.1:0".parse()?,
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        site_dir: data.path().join("site"),
        ..Config::default()
    };
    let application = Application::build(config).await?;
    let url = format!("http://{}", application.addr());
    let public = application.public_url().to_owned();
    let db = application.state().db.clone();
    tokio::spawn(application.run_until_stopped(std::future::pending()));

    // Users straight into the table, sharing one password hash: hashing 100,000 passwords
    // would measure argon2, not the page.
    let org = identity::seed::root_organization_id(&db).await?;
    let hash = identity::password::hash("bench-password-1".to_owned()).await?;
    let now = identity::clock::now();
    let given = [
        "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
    ];
    let family = [
        "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
    ];
    for chunk in (0..users).collect::<Vec<_>>().chunks(1000) {
        let rows = chunk.iter().map(|i| identity::entities::user::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            organization_id: Set(org),
            username: Set(format!("user{i:06}")),
            email: Set(format!("user{i:06}@example.test")),
            given_name: Set(given[i % given.len()].to_owned()),
            family_name: Set(format!(
                "{}{}",
                family[i / given.len() % family.len()],
                i % 97
            )),
            password_hash: Set(hash.clone()),
            status: Set(identity::entities::user::UserStatus::Active),
            failed_logins: Set(0),
            locked_until: Set(None),
            lock_count: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        });
        identity::entities::user::Entity::insert_many(rows)
            .exec_without_returning(&db)
            .await?;
    }
    // SQLite plans with statistics; a real directory has them after `PRAGMA optimize`.
    use sea_orm::ConnectionTrait;
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("ANALYZE").await?;
    }

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let signed_in = client
        .post(format!("{url}/login"))
        .header("Origin", public)
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("return_to", "/console"),
        ])
        .send()
        .await?;
    anyhow::ensure!(signed_in.status() == 303, "sign-in failed");
    Ok((data, url, client))
}

/// (median, p99) of `requests` GETs of `path`, each checked to list `expect`.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    path: &str,
    expect: &str,
    requests: usize,
) -> anyhow::Result<(Duration, Duration)> {
    let mut times = Vec::with_capacity(requests);
    for _ in 0..requests + 3 {
        let started = Instant::now();
        let response = client.get(format!("{url}{path}")).send().await?;
        let status = response.status();
        let body = response.text().await?;
        times.push(started.elapsed());
        anyhow::ensure!(status == 200, "{path}: {status}");
        anyhow::ensure!(body.contains(expect), "{path} does not list {expect}");
    }
    let mut times = times.split_off(3); // the first requests warm the caches
    times.sort();
    Ok((
        times[times.len() / 2],
        times[(times.len() * 99 / 100).min(times.len() - 1)],
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let requests: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let sizes = [1_000usize, 100_000];
    let mut results = Vec::new();
    for users in sizes {
        let (_data, url, client) = directory(users).await?;
        // Pages follow usernames (keyset): the page after user(users - 40) is a deep one.
        let deep_after = format!("user{:06}", users - 40);
        let deep_user = format!("user{:06}", users - 39);
        let cases = [
            (
                "first page",
                "/console/users".to_owned(),
                "user000000".to_owned(),
            ),
            (
                "search (prefix of a username)",
                format!("/console/users?q=user{:05}", users / 10 / 2),
                format!("user{:05}0", users / 10 / 2),
            ),
            (
                "search (family name)",
                "/console/users?q=turing4".to_owned(),
                "Turing4".to_owned(),
            ),
            (
                "deep page",
                format!("/console/users?after={deep_after}"),
                deep_user,
            ),
        ];
        let mut row = Vec::new();
        for (name, path, expect) in cases {
            row.push((
                name,
                measure(&client, &url, &path, &expect, requests).await?,
            ));
        }
        results.push((users, row));
    }
    println!("Users page, server-rendered over HTTP ({requests} requests per case):\n");
    println!(
        "{:<32}{:>22}{:>22}{:>10}",
        "case", "1,000 users p50/p99", "100,000 users p50/p99", "ratio"
    );
    let (small, large) = (&results[0].1, &results[1].1);
    let mut worst: f64 = 0.0;
    for ((name, (s50, s99)), (_, (l50, l99))) in small.iter().zip(large) {
        let ratio = l50.as_secs_f64() / s50.as_secs_f64();
        worst = worst.max(ratio);
        println!(
            "{name:<32}{:>11.2}/{:>6.2} ms{:>14.2}/{:>6.2} ms{ratio:>9.2}x",
            s50.as_secs_f64() * 1e3,
            s99.as_secs_f64() * 1e3,
            l50.as_secs_f64() * 1e3,
            l99.as_secs_f64() * 1e3,
        );
    }
    println!("\nworst 100,000 / 1,000 ratio (p50): {worst:.2}x (target: at most 2x)");
    Ok(())
}
