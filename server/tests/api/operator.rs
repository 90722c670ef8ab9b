//! The operator's command line, run as the real binary against real data folders:
//! `server backup|restore|users|keys|check`.

use crate::helpers::{ADMIN_PASSWORD, Served, spawn_app_in};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SERVER: &str = env!("CARGO_BIN_EXE_server");

/// `server ARGS` on the data folder `data` (and `database`, where the suite runs on
/// PostgreSQL), with extra variables.
fn run(data: &Path, database: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(SERVER);
    command
        .args(args)
        .env("IDP_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .env_remove("IDP_DATABASE_URL")
        .env_remove("IDP_SMTP_URL");
    if let Some(url) = database {
        command.env("IDP_DATABASE_URL", url);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// `server restore FILE` into the SQLite data folder `data`.
fn restore(data: &Path, file: &Path) -> Output {
    run(data, None, &["restore", file.to_str().unwrap()], &[])
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that a command failed (exit 1) and said `why` on stderr.
fn refused_saying(output: &Output, why: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", stdout(output));
    assert!(stderr(output).contains(why), "{}", stderr(output));
}

/// Marks the SQLite database at `file` as written by a newer version (a migration this
/// binary does not know).
async fn from_the_future(file: &Path) {
    use sea_orm::{ConnectionTrait, Database};
    let db = Database::connect(format!("sqlite://{}?mode=rw", file.display()).as_str())
        .await
        .unwrap();
    db.execute_unprepared(
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20991231_000099_future', 0)",
    )
    .await
    .unwrap();
    db.close().await.unwrap();
}

/// Usernames in the SQLite database at `file`.
async fn usernames(file: &Path) -> Vec<String> {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
    let db = Database::connect(format!("sqlite://{}?mode=ro", file.display()).as_str())
        .await
        .unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT username FROM users",
        ))
        .await
        .unwrap();
    let names = rows
        .iter()
        .map(|r| r.try_get::<String>("", "username").unwrap())
        .collect();
    db.close().await.unwrap();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_write_load_restores_every_request_answered_before_it() {
    let data = tempfile::TempDir::new().unwrap();
    let served = Served::start(data.path());
    let url = served.url.clone();

    // Four writers create users as fast as the server answers.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(Instant, String)>::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (stop, answered, url) = (stop.clone(), answered.clone(), url.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let name = format!("load-{w}-{i}");
                i += 1;
                let created = client
                    .post(format!("{url}/scim2/Users"))
                    .basic_auth("admin", Some(ADMIN_PASSWORD))
                    .json(&serde_json::json!({
                        "userName": name,
                        "password": "load-password-1",
                        "emails": [{ "value": format!("{name}@example.org"), "primary": true }],
                    }))
                    .send()
                    .await
                    .unwrap();
                if created.status() == 201 {
                    answered.lock().unwrap().push((Instant::now(), name));
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let file = data.path().join("backup.sqlite");
    let began = Instant::now();
    let backup = {
        let (dir, file) = (data.path().to_owned(), file.clone());
        tokio::task::spawn_blocking(move || {
            run(&dir, None, &["backup", file.to_str().unwrap()], &[])
        })
        .await
        .unwrap()
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(backup.status.success(), "{}", stderr(&backup));
    assert!(
        stdout(&backup).contains("backed up to"),
        "{}",
        stdout(&backup)
    );
    let before: Vec<String> = answered
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at < began)
        .map(|(_, name)| name.clone())
        .collect();
    let total = answered.lock().unwrap().len();
    assert!(
        before.len() >= 10,
        "the load wrote too little: {}",
        before.len()
    );
    // A second backup to the same file is refused: nothing is overwritten.
    let again = run(data.path(), None, &["backup", file.to_str().unwrap()], &[]);
    refused_saying(&again, "exists already");
    // No restore under the running server.
    let refused = restore(data.path(), &file);
    refused_saying(&refused, "a server is running");
    served.stop();

    // Restored into a new data folder: every request answered before the backup began.
    let fresh = tempfile::TempDir::new().unwrap();
    let restored = restore(fresh.path(), &file);
    assert!(restored.status.success(), "{}", stderr(&restored));
    let names = usernames(&fresh.path().join("idp.sqlite")).await;
    let missing: Vec<&String> = before.iter().filter(|n| !names.contains(n)).collect();
    assert!(missing.is_empty(), "missing after restore: {missing:?}");
    assert!(names.contains(&"admin".to_owned()));
    // The restored folder serves: the administrator signs in.
    let again = Served::start(fresh.path());
    let users: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/scim2/Users?count=1", again.url))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(users["totalResults"].as_u64().unwrap() as usize > before.len());
    again.stop();
    eprintln!(
        "{} users answered during the load, {} before the backup",
        total,
        before.len()
    );
}

#[tokio::test]
async fn restore_refuses_a_newer_schema_a_damaged_file_and_postgresql() {
    let data = tempfile::TempDir::new().unwrap();
    let served = Served::start(data.path());
    served.stop();
    let file = data.path().join("copy.sqlite");
    let backup = run(data.path(), None, &["backup", file.to_str().unwrap()], &[]);
    assert!(backup.status.success(), "{}", stderr(&backup));

    let newer = data.path().join("newer.sqlite");
    std::fs::copy(&file, &newer).unwrap();
    from_the_future(&newer).await;
    let target = tempfile::TempDir::new().unwrap();
    let refused = restore(target.path(), &newer);
    refused_saying(&refused, "newer version");
    assert!(stderr(&refused).contains("m20991231_000099_future"));
    assert!(
        !target.path().join("idp.sqlite").exists(),
        "nothing was restored"
    );

    let text = data.path().join("notes.txt");
    std::fs::write(&text, "not a database at all").unwrap();
    let refused = restore(target.path(), &text);
    refused_saying(&refused, "not an SQLite database");

    let pg = [("IDP_DATABASE_URL", "postgres://idp@127.0.0.1:1/idp")];
    let refused = run(target.path(), None, &["backup", "/tmp/never.sqlite"], &pg);
    refused_saying(&refused, "pg_dump");
}

#[tokio::test]
async fn users_and_keys_commands_work_without_an_administrator_and_say_what_they_did() {
    let data = tempfile::TempDir::new().unwrap();
    let app = spawn_app_in(data.path(), |_| {}).await.unwrap();
    let database = app.database_url.clone();
    app.create_user("customer", "customer-password-1").await;
    let leaver = app.create_user("leaver", "leaver-password-1").await;
    app.stop().await;
    let db = database.as_deref();

    let reset = run(
        data.path(),
        db,
        &["users", "reset-password", "customer"],
        &[],
    );
    assert!(reset.status.success(), "{}", stderr(&reset));
    let printed = stdout(&reset);
    let generated = printed.trim().rsplit(' ').next().unwrap().to_owned();
    assert_eq!(generated.len(), 20, "{printed}");

    let mut given = Command::new(SERVER)
        .args(["users", "reset-password", "--password-stdin", "admin"])
        .env("IDP_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .env_remove("IDP_DATABASE_URL")
        .envs(db.map(|url| ("IDP_DATABASE_URL", url)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    given
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-new-admin-password-1\n")
        .unwrap();
    let given = given.wait_with_output().unwrap();
    assert!(given.status.success(), "{}", stderr(&given));
    assert!(
        !stdout(&given).contains("a-new-admin-password-1"),
        "never echoed"
    );

    let short = run(
        data.path(),
        db,
        &["users", "reset-password", "--password-stdin", "customer"],
        &[],
    );
    assert!(!short.status.success(), "an empty password is refused");

    let disabled = run(data.path(), db, &["users", "disable", "leaver"], &[]);
    assert!(disabled.status.success(), "{}", stderr(&disabled));
    let unknown = run(data.path(), db, &["users", "disable", "nobody"], &[]);
    refused_saying(&unknown, "there is no user nobody");
    let rotated = run(data.path(), db, &["keys", "rotate"], &[]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(stdout(&rotated).contains("the active key is now"));

    // What they did holds: the new passwords sign in, the disabled user does not.
    let app = spawn_app_in(data.path(), |_| {}).await.unwrap();
    let signed_in = |username: &'static str, password: String| {
        let app = &app;
        async move {
            let fresh = crate::helpers::client();
            let answer = app
                .sign_in_with(&fresh, username, &password, "/console")
                .await;
            crate::helpers::location(&answer) == "/console"
        }
    };
    assert!(signed_in("admin", "a-new-admin-password-1".to_owned()).await);
    assert!(signed_in("customer", generated.clone()).await);
    assert!(!signed_in("customer", "customer-password-1".to_owned()).await);
    assert!(!signed_in("leaver", "leaver-password-1".to_owned()).await);
    let (user, pass) = ("admin", "a-new-admin-password-1");
    let read: serde_json::Value = app
        .client
        .get(app.at(&format!("/scim2/Users/{leaver}")))
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["active"], false);
    app.stop().await;

    for command in [
        &["backup", "--help"][..],
        &["restore", "--help"],
        &["users", "--help"],
        &["keys", "--help"],
        &["check", "--help"],
    ] {
        let help = Command::new(SERVER).args(command).output().unwrap();
        assert!(help.status.success(), "{command:?}");
        assert!(!stdout(&help).is_empty());
    }
}

#[tokio::test]
async fn check_reports_the_database_the_migrations_and_smtp_and_fails_when_one_is_wrong() {
    let data = tempfile::TempDir::new().unwrap();
    // No database yet: a failure, and nothing is created.
    let missing = run(data.path(), None, &["check"], &[]);
    assert_eq!(missing.status.code(), Some(1), "{}", stdout(&missing));
    assert!(
        stdout(&missing).contains("FAIL no database at"),
        "{}",
        stdout(&missing)
    );
    assert!(!data.path().join("idp.sqlite").exists());

    let served = Served::start(data.path());
    let ok = run(data.path(), None, &["check"], &[]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    let text = stdout(&ok);
    assert!(text.contains("ok   database (SQLite) reachable"), "{text}");
    assert!(text.contains("none pending"), "{text}");
    assert!(text.contains("mail is written to"), "{text}");
    served.stop();

    // An SMTP server that does not answer.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let down = run(data.path(), None, &["check"], &[("IDP_SMTP_URL", &smtp)]);
    assert_eq!(down.status.code(), Some(1));
    assert!(
        stdout(&down).contains("FAIL SMTP server unreachable"),
        "{}",
        stdout(&down)
    );

    // A database of a newer version.
    from_the_future(&data.path().join("idp.sqlite")).await;
    let newer = run(data.path(), None, &["check"], &[]);
    assert_eq!(newer.status.code(), Some(1));
    assert!(
        stdout(&newer).contains("newer than this server"),
        "{}",
        stdout(&newer)
    );
}
