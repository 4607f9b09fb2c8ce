//! The city's web face: `/city` (the city screen), its JSON
//! (`/api/v1/city/sites`), the reports API of a site across sites
//! (`/api/v1/reports`, `/api/v1/ratings/export`, the same parameters and
//! answers, plus `site=` and `by=site`), and the login. Every answer but the
//! page and the login needs a session (`auth`).

use crate::auth::{self, Auth, LoginError};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use hall_pg::city::{self, By};
use hall_proto::v1 as pb;
use std::sync::Arc;

#[derive(Clone)]
pub struct City {
    pub pg: Arc<Pg>,
    pub auth: Arc<Auth>,
    /// A site without contact for this long shows as offline.
    pub offline_after: chrono::Duration,
    /// HTTPS (cookies are `Secure`).
    pub tls: bool,
}

/// The city's connection to PostgreSQL, made again when it broke (the
/// database restarted): the next request after an outage answers again.
pub struct Pg {
    pub url: String,
    pub password_file: Option<String>,
    pub client: tokio::sync::Mutex<Arc<hall_pg::tokio_postgres::Client>>,
}

impl Pg {
    pub async fn client(&self) -> Result<Arc<hall_pg::tokio_postgres::Client>, hall_pg::PgError> {
        let mut c = self.client.lock().await;
        if c.is_closed() {
            *c = Arc::new(hall_pg::connect(&self.url, self.password_file.as_deref()).await?);
        }
        Ok(c.clone())
    }
}

pub fn router(city: City) -> Router {
    Router::new()
        .route("/", get(|| async { axum::response::Redirect::to("/city") }))
        .route("/city", get(page))
        .route("/city/login", post(login))
        .route("/city/logout", post(logout))
        .route("/api/v1/city/sites", get(sites))
        .route("/api/v1/reports", get(report))
        .route("/api/v1/ratings/export", get(ratings))
        .route("/assets/hall-sans.ttf", get(font))
        .with_state(city)
}

fn json_error(status: http::StatusCode, reason: &str, message: impl Into<String>) -> Response {
    (
        status,
        [(http::header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({ "reason": reason, "message": message.into() })),
    )
        .into_response()
}

fn unauthenticated() -> Response {
    json_error(
        http::StatusCode::UNAUTHORIZED,
        "STAFF_SESSION_INVALID",
        "log in as a supervisor or admin (POST /city/login)",
    )
}

fn db_error(e: hall_pg::PgError) -> Response {
    tracing::warn!(error = %e, "city: database query failed");
    json_error(
        http::StatusCode::SERVICE_UNAVAILABLE,
        "DATABASE_UNAVAILABLE",
        "the city database did not answer; retry",
    )
}

async fn page() -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../web/city.html"),
    )
        .into_response()
}

async fn font() -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "font/ttf"),
            (http::header::CACHE_CONTROL, "max-age=86400"),
        ],
        include_bytes!("../../assets/fonts/DroidSansFallbackFull.ttf").as_slice(),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct LoginBody {
    account: String,
    password: String,
}

async fn login(State(c): State<City>, axum::Json(b): axum::Json<LoginBody>) -> Response {
    if b.account.len() > 64 || b.password.len() > 128 {
        return json_error(
            http::StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "too long",
        );
    }
    // At most two Argon2id checks (19 MiB each) at once, whoever asks.
    static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
    let Ok(_permit) = CHECKS.acquire().await else {
        return json_error(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "INTERNAL",
            "stopping",
        );
    };
    let auth = c.auth.clone();
    let account = b.account.clone();
    let r = tokio::task::spawn_blocking(move || auth.login(&account, &b.password)).await;
    match r {
        Ok(Ok((token, caller))) => {
            tracing::info!(account = %caller.account, role = %caller.role, "city: staff login");
            let secure = if c.tls { "; Secure" } else { "" };
            let cookie = format!(
                "{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}; Max-Age=43200",
                if c.tls { auth::COOKIE } else { "hall_city" }
            );
            (
                [(http::header::SET_COOKIE, cookie)],
                axum::Json(serde_json::json!({
                    "account": caller.account, "role": caller.role, "token": token,
                })),
            )
                .into_response()
        }
        Ok(Err(LoginError::Wrong)) => {
            tracing::info!(account = %hall_proto::errors::echo(&b.account), "city: login refused");
            json_error(
                http::StatusCode::UNAUTHORIZED,
                "LOGIN_FAILED",
                "wrong account or password",
            )
        }
        Ok(Err(LoginError::Locked { minutes })) => json_error(
            http::StatusCode::TOO_MANY_REQUESTS,
            "LOGIN_LOCKED",
            format!("too many wrong passwords; try again in {minutes} minutes"),
        ),
        Err(_) => json_error(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "login failed",
        ),
    }
}

async fn logout(State(c): State<City>, headers: http::HeaderMap) -> Response {
    if let Some(t) = auth::token_of(&headers) {
        c.auth.logout(&t);
    }
    http::StatusCode::NO_CONTENT.into_response()
}

/// `GET /api/v1/city/sites`: every site with its live figures and whether
/// it is offline (no contact for `offline_after`).
async fn sites(State(c): State<City>, headers: http::HeaderMap) -> Response {
    if c.auth.caller(&headers).is_none() {
        return unauthenticated();
    }
    let pg = match client(&c).await {
        Ok(pg) => pg,
        Err(r) => return r,
    };
    let rows = match city::sites(&pg).await {
        Ok(r) => r,
        Err(e) => return db_error(e),
    };
    let now = Utc::now();
    let sites: Vec<serde_json::Value> = rows
        .iter()
        .map(|s| {
            let contact = [s.seen_at, s.last_event_at].into_iter().flatten().max();
            let quiet_s = contact.map(|t| (now - t).num_seconds().max(0));
            let offline = contact.is_none_or(|t| now - t > c.offline_after);
            serde_json::json!({
                "site": s.site, "name": s.name, "region": s.region, "level": s.level,
                "parent": s.parent, "shipped_seq": s.shipped_seq,
                "last_event_at": s.last_event_at, "seen_at": s.seen_at,
                "quiet_s": quiet_s, "offline": offline, "live": s.live,
            })
        })
        .collect();
    (
        [(http::header::CACHE_CONTROL, "no-store")],
        axum::Json(serde_json::json!({
            "now": now,
            "offline_after_minutes": c.offline_after.num_minutes(),
            "sites": sites,
        })),
    )
        .into_response()
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct ReportQuery {
    from: String,
    to: String,
    by: String,
    /// Comma-separated site ids; empty: every site.
    site: String,
    format: String,
}

fn bad_request(field: &str, message: impl Into<String>) -> Response {
    let m = message.into();
    json_error(
        http::StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        format!("{field}: {m}"),
    )
}

fn site_list(s: &str) -> Result<Vec<String>, Response> {
    let v: Vec<String> = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect();
    if v.len() > 5000 || v.iter().any(|x| x.len() > 40) {
        return Err(bad_request(
            "site",
            "at most 5000 site ids of 40 characters",
        ));
    }
    Ok(v)
}

/// What both report answers check first: a session, a known format, a
/// date range as a site's reports API takes it.
fn report_request(
    c: &City,
    headers: &http::HeaderMap,
    q: &ReportQuery,
    formats: &[&str],
) -> Result<(String, chrono::NaiveDate, chrono::NaiveDate), Response> {
    if c.auth.caller(headers).is_none() {
        return Err(unauthenticated());
    }
    let format = if q.format.is_empty() {
        "json"
    } else {
        q.format.as_str()
    };
    if !formats.contains(&format) {
        return Err(bad_request(
            "format",
            format!("one of {}", formats.join(", ")),
        ));
    }
    let (from, to) = hall_server::grpc::reports::date_range(&q.from, &q.to)
        .map_err(|s| bad_request("from/to", s.message().to_string()))?;
    Ok((format.to_string(), from, to))
}

/// The connection, or the answer that the database is away.
async fn client(c: &City) -> Result<Arc<hall_pg::tokio_postgres::Client>, Response> {
    c.pg.client().await.map_err(db_error)
}

/// `GET /api/v1/reports?from&to&by&site&format`: the report of a site's
/// reports API, over the chosen sites (`by=site` gives one row per site).
async fn report(
    State(c): State<City>,
    headers: http::HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    let (format, from, to) = match report_request(&c, &headers, &q, &["json", "csv", "xlsx"]) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let format = format.as_str();
    let by_name = if q.by.is_empty() {
        "category"
    } else {
        q.by.as_str()
    };
    let Some(by) = By::parse(by_name) else {
        return bad_request("by", "one of category, zone, window, clerk, hour, site");
    };
    let sites = match site_list(&q.site) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let pg = match client(&c).await {
        Ok(pg) => pg,
        Err(r) => return r,
    };
    let r = match city::report(&pg, from, to, by, &sites).await {
        Ok(r) => r,
        Err(e) => return db_error(e),
    };
    // Labels: a site's name for by=site (the city holds no catalogue).
    let names: std::collections::HashMap<String, String> = if by == By::Site {
        city::sites(&pg)
            .await
            .map(|v| v.into_iter().map(|s| (s.site, s.name)).collect())
            .unwrap_or_default()
    } else {
        Default::default()
    };
    let row = hall_server::grpc::reports::row;
    let wire = pb::Report {
        from: from.to_string(),
        to: to.to_string(),
        by: by_name.to_string(),
        days: r.days,
        rows: r
            .rows
            .iter()
            .map(|x| row(x, names.get(&x.key).cloned().unwrap_or_default()))
            .collect(),
        total: Some(row(&r.total, "合计".into())),
        bad_follow_ups_open: 0,
        bad_follow_ups_closed: 0,
    };
    hall_server::web::report_answer(&wire, format)
}

/// `GET /api/v1/ratings/export?from&to&format`: the 好差评 records of every
/// site, each with its site.
async fn ratings(
    State(c): State<City>,
    headers: http::HeaderMap,
    Query(q): Query<ReportQuery>,
) -> Response {
    let (format, from, to) = match report_request(&c, &headers, &q, &["json", "csv"]) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let format = format.as_str();
    let pg = match client(&c).await {
        Ok(pg) => pg,
        Err(r) => return r,
    };
    let rows = match city::ratings(&pg, from, to).await {
        Ok(r) => r,
        Err(e) => return db_error(e),
    };
    let sites: Vec<String> = rows.iter().map(|r| r.site.clone()).collect();
    let export = pb::RatingExport {
        records: rows
            .iter()
            .map(|r| hall_server::grpc::reports::record(&r.record))
            .collect(),
        ..Default::default()
    };
    hall_server::web::ratings_answer(&export, format!("city-ratings-{from}-{to}"), format, &sites)
}
