//! The schema's migrations: `pg/migrations/NNNN_name.sql`, embedded here in
//! order, each applied once in its own transaction and recorded in
//! `hall_migrations`. A database at a newer version than this program knows
//! is refused rather than written with an old idea of the schema.

use crate::PgError;
use tokio_postgres::Client;

/// (version, name, SQL), in order. A new migration is a new file and a new
/// line here; an applied one is never edited.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "city", include_str!("../migrations/0001_city.sql")),
    (
        2,
        "day_cells_by_dimension",
        include_str!("../migrations/0002_day_cells_by_dimension.sql"),
    ),
    (
        3,
        "owner_and_detached_months",
        include_str!("../migrations/0003_owner_and_detached_months.sql"),
    ),
];

/// The newest version this program knows.
pub fn latest() -> i32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// Applies what is missing; returns the versions applied now. Sites and the
/// city all call it at start; the advisory lock makes them take turns.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, PgError> {
    client
        .batch_execute(
            "select pg_advisory_lock(724001);
             create table if not exists hall_migrations (
                 version integer primary key,
                 name text not null,
                 applied_at timestamptz not null default now())",
        )
        .await?;
    let result = apply_missing(client).await;
    // Unlocked whatever happened (the lock is the session's).
    let unlocked = client
        .batch_execute("select pg_advisory_unlock(724001)")
        .await;
    let applied = result?;
    unlocked?;
    Ok(applied)
}

async fn apply_missing(client: &mut Client) -> Result<Vec<i32>, PgError> {
    let row = client
        .query_one("select coalesce(max(version), 0) from hall_migrations", &[])
        .await?;
    let current: i32 = row.get(0);
    if current > latest() {
        return Err(PgError::SchemaTooNew {
            found: current,
            known: latest(),
        });
    }
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "insert into hall_migrations (version, name) values ($1, $2)",
            &[version, name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "PostgreSQL schema migrated");
        applied.push(*version);
    }
    Ok(applied)
}
