//! What the city reads: the sites with their live figures, reports over any
//! sites and dates from the shipped day figures, and the 好差评 records.
//!
//! A city report is the engine's `Report` with the same rows and totals as
//! a site's own: counts, sums, means and maxima are exact sums over the
//! sites' days; the median and 90th percentile waits are read off the
//! summed 3-minute histogram (linear within the bucket), since the city does
//! not hold every wait.

use crate::PgError;
use crate::ship::{BIG_COLUMNS, INT_COLUMNS, MORE_INT_COLUMNS, hist_columns, rating_columns};
use chrono::{DateTime, NaiveDate, Utc};
use hall_engine::report::{BUCKET_S, BUCKETS, Dimension, RatingRecord, Report, ReportRow};
use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

/// One site as the city sees it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteRow {
    pub site: String,
    pub name: String,
    pub region: String,
    pub level: String,
    pub parent: String,
    pub shipped_seq: u64,
    pub last_event_at: Option<DateTime<Utc>>,
    pub seen_at: Option<DateTime<Utc>>,
    /// The site's live figures as its shipper last sent them.
    pub live: serde_json::Value,
}

pub async fn sites(client: &Client) -> Result<Vec<SiteRow>, PgError> {
    let rows = client
        .query(
            "select site, name, region, level, parent, shipped_seq, last_event_at, seen_at, live
             from sites order by case level when 'district' then 0 when 'street' then 1 else 2 end, site",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| SiteRow {
            site: r.get(0),
            name: r.get(1),
            region: r.get(2),
            level: r.get(3),
            parent: r.get(4),
            shipped_seq: r.get::<_, i64>(5) as u64,
            last_event_at: r.get(6),
            seen_at: r.get(7),
            live: r.get(8),
        })
        .collect())
}

/// What a city report groups by: a report dimension, or the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Dim(Dimension),
    Site,
}

impl By {
    pub fn parse(s: &str) -> Option<By> {
        if s == "site" {
            Some(By::Site)
        } else {
            Dimension::parse(s).map(By::Dim)
        }
    }
}

fn sums_sql() -> String {
    let mut cols: Vec<String> = Vec::new();
    for c in INT_COLUMNS {
        if c == "wait_max_s" {
            cols.push("max(wait_max_s)::int8".into());
        } else {
            cols.push(format!("sum({c})::int8"));
        }
    }
    for c in MORE_INT_COLUMNS {
        cols.push(format!("sum({c})::int8"));
    }
    for c in rating_columns()
        .into_iter()
        .chain(hist_columns('w'))
        .chain(hist_columns('h'))
    {
        cols.push(format!("sum({c})::int8"));
    }
    for c in BIG_COLUMNS {
        cols.push(format!("sum({c})::int8"));
    }
    cols.join(", ")
}

/// A row from the sums `sums_sql` selects, starting at column `at`.
fn row_of(key: String, r: &tokio_postgres::Row, at: usize) -> ReportRow {
    let g = |i: usize| r.get::<_, Option<i64>>(at + i).unwrap_or(0);
    let n_int = INT_COLUMNS.len() + MORE_INT_COLUMNS.len();
    let ratings: [u32; 5] = std::array::from_fn(|i| g(n_int + i) as u32);
    let wait_hist: Vec<u32> = (0..BUCKETS).map(|i| g(n_int + 5 + i) as u32).collect();
    let handling_hist: Vec<u32> = (0..BUCKETS)
        .map(|i| g(n_int + 5 + BUCKETS + i) as u32)
        .collect();
    let big = n_int + 5 + 2 * BUCKETS;
    let (wait_sum, handling_s, expected_s) = (g(big), g(big + 1), g(big + 2));
    let called = g(8) as u32;
    let max_wait = g(9) as u32;
    let (within_limit, handled) = (g(10), g(11));
    let ratio = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
    let rated: u32 = ratings.iter().sum();
    ReportRow {
        key,
        arrived: g(0) as u32,
        moved_in: g(1) as u32,
        served: g(2) as u32,
        unresolved: g(3) as u32,
        no_show: g(4) as u32,
        cancelled: g(5) as u32,
        transferred: g(6) as u32,
        expired: g(7) as u32,
        called,
        mean_wait_s: ratio(wait_sum as f64, f64::from(called)),
        median_wait_s: hist_percentile(&wait_hist, 0.5, max_wait),
        p90_wait_s: hist_percentile(&wait_hist, 0.9, max_wait),
        max_wait_s: max_wait,
        within_limit: ratio(within_limit as f64, handled as f64),
        mean_handling_s: ratio(handling_s as f64, handled as f64),
        handling_vs_expected: ratio(handling_s as f64, expected_s as f64),
        wait_hist,
        handling_hist,
        ratings,
        rated,
        satisfaction: ratio(f64::from(ratings[3] + ratings[4]), f64::from(rated)),
        bad: ratings[0] + ratings[1],
    }
}

/// The `p` quantile of values known only by 3-minute buckets: the same
/// closest-ranks rank as the engine's `percentile`, placed linearly within
/// its bucket (never beyond the known maximum).
pub fn hist_percentile(hist: &[u32], p: f64, max: u32) -> f64 {
    let n: u64 = hist.iter().map(|x| u64::from(*x)).sum();
    if n == 0 {
        return 0.0;
    }
    let rank = p * (n - 1) as f64;
    let mut before = 0u64;
    for (i, c) in hist.iter().enumerate() {
        let c = u64::from(*c);
        if c > 0 && (before + c) as f64 > rank {
            let lo = i as f64 * f64::from(BUCKET_S);
            let within = (rank - before as f64 + 0.5) / c as f64;
            let v = lo + within * f64::from(BUCKET_S);
            return v.min(f64::from(max));
        }
        before += c;
    }
    f64::from(max)
}

/// The report over `from..=to` by `by`, over the given sites (all when
/// `sites` is empty).
pub async fn report(
    client: &Client,
    from: NaiveDate,
    to: NaiveDate,
    by: By,
    sites: &[String],
) -> Result<Report, PgError> {
    let sums = sums_sql();
    let filter = if sites.is_empty() {
        ""
    } else {
        " and site = any($4)"
    };
    let (dim, group) = match by {
        By::Dim(d) => (d.name(), "key"),
        By::Site => ("category", "site"),
    };
    let rows_sql = format!(
        "select {group}, {sums} from day_cells where day between $1 and $2 and dim = $3{filter}
         group by {group} order by {group}"
    );
    let total_sql =
        format!("select {sums} from day_cells where day between $1 and $2 and dim = $3{filter}");
    let days_sql = format!(
        "select count(*) from site_days where day between $1 and $2{}",
        if sites.is_empty() {
            ""
        } else {
            " and site = any($3)"
        }
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&from, &to, &dim];
    if !sites.is_empty() {
        params.push(&sites);
    }
    let rows = client.query(&rows_sql, &params).await?;
    let mut out: Vec<ReportRow> = rows
        .iter()
        .map(|r| row_of(r.get::<_, String>(0), r, 1))
        .collect();
    if by == By::Dim(Dimension::Window) {
        out.sort_by_key(|r| r.key.parse::<u32>().unwrap_or(u32::MAX));
    }
    let mut total_params: Vec<&(dyn ToSql + Sync)> = vec![&from, &to];
    let cat = "category";
    total_params.push(&cat);
    if !sites.is_empty() {
        total_params.push(&sites);
    }
    let total = client.query_one(&total_sql, &total_params).await?;
    let mut day_params: Vec<&(dyn ToSql + Sync)> = vec![&from, &to];
    if !sites.is_empty() {
        day_params.push(&sites);
    }
    let days: i64 = client.query_one(&days_sql, &day_params).await?.get(0);
    Ok(Report {
        from,
        to,
        by: match by {
            By::Dim(d) => Some(d),
            By::Site => None,
        },
        days: days as u32,
        rows: out,
        total: row_of("total".into(), &total, 0),
    })
}

/// One 好差评 record with the site it came from.
#[derive(Debug, Clone, Serialize)]
pub struct SiteRating {
    pub site: String,
    #[serde(flatten)]
    pub record: RatingRecord,
}

/// The 好差评 records of `from..=to` (service dates) across sites, oldest
/// rating first.
pub async fn ratings(
    client: &Client,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<SiteRating>, PgError> {
    let rows = client
        .query(
            "select site, record from ratings where day between $1 and $2 order by rated_at, site, n",
            &[&from, &to],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let record: RatingRecord = serde_json::from_value(r.get::<_, serde_json::Value>(1))
                .map_err(|e| PgError::Invalid(format!("a stored 好差评 record: {e}")))?;
            Ok(SiteRating {
                site: r.get(0),
                record,
            })
        })
        .collect()
}

/// What the database holds of one site's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    pub site: String,
    pub rows: i64,
    pub distinct_seqs: i64,
    pub min_seq: i64,
    pub max_seq: i64,
}

/// Per site: event rows, distinct sequence numbers, the lowest and highest
/// (a site's log is all there exactly once when rows = distinct = max and
/// min = 1).
pub async fn event_counts(client: &Client) -> Result<Vec<EventCount>, PgError> {
    let rows = client
        .query(
            "select site, count(*), count(distinct seq), min(seq), max(seq)
             from events group by site order by site",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| EventCount {
            site: r.get(0),
            rows: r.get(1),
            distinct_seqs: r.get(2),
            min_seq: r.get(3),
            max_seq: r.get(4),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::hist_percentile;

    #[test]
    fn percentiles_from_buckets_stay_in_the_right_bucket() {
        let mut h = vec![0u32; 21];
        h[0] = 10; // ten waits under 3 minutes
        h[2] = 10; // ten between 6 and 9 minutes
        let med = hist_percentile(&h, 0.5, 500);
        assert!((0.0..=540.0).contains(&med), "{med}");
        let p90 = hist_percentile(&h, 0.9, 500);
        assert!((360.0..=500.0).contains(&p90), "{p90}");
        assert_eq!(hist_percentile(&[0; 21], 0.5, 0), 0.0);
    }
}
