//! `migrations`: apply, roll back or inspect the schema of the database named by
//! `DATABASE_URL` (for example `sqlite://data/idp.sqlite?mode=rwc` or a `postgres://` URL).
//!
//! ```text
//! migrations status        list every migration and whether it is applied
//! migrations up            apply every pending migration
//! migrations down [N]      roll back the newest N migrations (default 1)
//! ```
//! The server applies pending migrations by itself at start; this is for operators.

use migrations::Migrator;
use sea_orm_migration::{MigratorTrait, sea_orm::Database};

#[tokio::main]
async fn main() {
    if let Err(message) = run().await {
        eprintln!("migrations: {message}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "status".to_owned());
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL to the database to migrate".to_owned())?;
    let db = Database::connect(&url).await.map_err(|e| e.to_string())?;
    match command.as_str() {
        "status" => Migrator::status(&db).await,
        "up" => Migrator::up(&db, None).await,
        "down" => {
            let steps = match args.next() {
                Some(n) => n.parse().map_err(|_| format!("not a number: {n}"))?,
                None => 1,
            };
            Migrator::down(&db, Some(steps)).await
        }
        other => return Err(format!("unknown command {other:?}; use status, up or down")),
    }
    .map_err(|e| e.to_string())
}
