//! The database schema as reversible, dated SeaORM migrations.
//!
//! The same migrations run against the embedded SQLite database and against PostgreSQL.
//! Timestamps are stored as Unix seconds (`BIGINT`) so that comparisons in conditional
//! updates (`WHERE expires_at > ?`) behave identically on both backends.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_foundation;
mod m20261121_000002_oauth;
mod m20261121_000003_api_resources;
mod m20261121_000004_impersonation;
mod m20261121_000005_organization_members;
mod m20261121_000006_mail;
mod m20261121_000007_impersonation_sso;
mod m20261121_000008_user_search;
mod m20261121_000009_change_counter;
mod m20261201_000010_lockout;
mod m20261201_000011_impersonation_history;
mod m20261201_000012_impersonation_requirements;
mod m20261201_000013_impersonation_approval;
mod m20261201_000014_events;
mod m20261202_000015_revoked_access_tokens;
mod m20261203_000016_signing_algorithms;

pub use m20261121_000009_change_counter::COUNTED_TABLES;

/// Every migration of the schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_foundation::Migration),
            Box::new(m20261121_000002_oauth::Migration),
            Box::new(m20261121_000003_api_resources::Migration),
            Box::new(m20261121_000004_impersonation::Migration),
            Box::new(m20261121_000005_organization_members::Migration),
            Box::new(m20261121_000006_mail::Migration),
            Box::new(m20261121_000007_impersonation_sso::Migration),
            Box::new(m20261121_000008_user_search::Migration),
            Box::new(m20261121_000009_change_counter::Migration),
            Box::new(m20261201_000010_lockout::Migration),
            Box::new(m20261201_000011_impersonation_history::Migration),
            Box::new(m20261201_000012_impersonation_requirements::Migration),
            Box::new(m20261201_000013_impersonation_approval::Migration),
            Box::new(m20261201_000014_events::Migration),
            Box::new(m20261202_000015_revoked_access_tokens::Migration),
            Box::new(m20261203_000016_signing_algorithms::Migration),
        ]
    }
}
