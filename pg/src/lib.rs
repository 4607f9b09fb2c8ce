//! 三级协同 on PostgreSQL: district, street and community sites in one city
//! view.
//!
//! Each site (`hall-server` with `[ship] url`) copies its committed event log,
//! its per-day report figures and its 好差评 records into one PostgreSQL
//! database; `hall-city` reads only that database. This crate is the one
//! place that knows the schema:
//! - [`migrate`]: the migrations in `pg/migrations/` (embedded), applied
//!   once each, in order, under an advisory lock (several sites may start
//!   at the same moment);
//! - [`ship`]: what a site writes, idempotently by (site, seq) and by
//!   (site, day), so a copy repeated after any outage changes nothing;
//! - [`city`]: what the city reads (sites and their live figures, reports
//!   over any sites and dates, the 好差评 records).
//!
//! The engine's types (`Event`, `DayAggregate`, `ReportRow`) are the
//! interface on both sides; SQL stays in this crate.

pub mod city;
pub mod cluster;
pub mod migrate;
pub mod ship;

pub use tokio_postgres;

/// What can go wrong talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("PostgreSQL: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error(
        "the database is at schema version {found}, newer than this program's {known}: upgrade the program"
    )]
    SchemaTooNew { found: i32, known: i32 },
    #[error("reading the password file {path}: {error}")]
    PasswordFile { path: String, error: std::io::Error },
    #[error("{0}")]
    Invalid(String),
}

impl PgError {
    /// True when the database could not be reached or the connection broke
    /// (as opposed to a statement it refused): worth a reconnect.
    pub fn is_connection(&self) -> bool {
        match self {
            PgError::Db(e) => e.is_closed() || e.as_db_error().is_none(),
            _ => false,
        }
    }
}

/// One site of the city: who ships.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct SiteInfo {
    pub id: String,
    pub name: String,
    /// 行政区划代码.
    pub region: String,
    /// `district`, `street` or `community`.
    pub level: String,
    /// The parent site's id (empty at the top).
    pub parent: String,
}

/// Connects with a `postgres://` URL (or key=value string), with the
/// password from `password_file` when given (so it never sits in the
/// configuration, which the log keeps). The connection's task runs on the
/// current runtime until the client is dropped.
pub async fn connect(
    url: &str,
    password_file: Option<&str>,
) -> Result<tokio_postgres::Client, PgError> {
    let mut config: tokio_postgres::Config = url.parse()?;
    if let Some(path) = password_file {
        let pw = std::fs::read_to_string(path).map_err(|error| PgError::PasswordFile {
            path: path.to_string(),
            error,
        })?;
        config.password(pw.trim_end_matches(['\r', '\n']));
    }
    config.application_name("hall");
    config.connect_timeout(std::time::Duration::from_secs(5));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// The URL without its password, for logs and status pages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..s + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redact_url_drops_the_password_only() {
        assert_eq!(
            super::redact_url("postgres://hall:s3cret@db:5432/city"),
            "postgres://hall@db:5432/city"
        );
        assert_eq!(
            super::redact_url("postgres://db/city"),
            "postgres://db/city"
        );
    }
}
