//! What a site writes: its committed events, its day figures and its 好差评
//! records, each keyed so that shipping the same thing twice is a no-op.
//!
//! The caller (the server's shipping task, or the city benchmark) decides
//! *what* to send: contiguous runs of events from `shipped_seq() + 1`, and
//! day aggregates. Each call is one transaction, so `sites.shipped_seq`
//! moves only together with the events it counts.

use crate::{PgError, SiteInfo};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use hall_engine::report::{BUCKETS, Cell, DayAggregate, Dimension};
use hall_engine::{Event, Millis};
use std::collections::{BTreeMap, HashSet};
use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

/// One event as shipped: the site's sequence number, its commit time, its
/// type and its JSON without personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipEvent {
    pub seq: u64,
    pub at: Millis,
    pub kind: String,
    pub body: serde_json::Value,
}

/// Free-text fields a citizen or a clerk writes (a rating's comment, a
/// follow-up's notes, a reason given, a contact attempt), which may name
/// someone, and secrets (a clerk session's token): blanked in every shipped
/// event, wherever they sit in it. The city's figures never need them; the
/// 好差评 records keep their reason in `ratings` (blanked after the
/// retention period, as at the site).
const BLANKED: [&str; 11] = [
    "comment",
    "reason",
    "note",
    "text",
    "why",
    "resolution",
    "fix",
    "detail",
    "token",
    "phone",
    "masked_name",
];

fn blank_free_text(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if BLANKED.contains(&k.as_str()) && (x.is_string() || x.is_null()) {
                    *x = serde_json::Value::String(String::new());
                } else {
                    blank_free_text(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(blank_free_text),
        _ => {}
    }
}

/// PostgreSQL's `jsonb` (and `text`) refuse U+0000: a NUL a visitor typed
/// into a comment would stop the site's shipping for good. It becomes
/// U+FFFD in what is shipped.
pub fn without_nul(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
        serde_json::Value::Object(m) => {
            let nul_keys: Vec<String> = m.keys().filter(|k| k.contains('\0')).cloned().collect();
            for k in nul_keys {
                if let Some(x) = m.remove(&k) {
                    m.insert(k.replace('\0', "\u{FFFD}"), x);
                }
            }
            m.values_mut().for_each(without_nul);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(without_nul),
        _ => {}
    }
}

impl ShipEvent {
    /// The shipped form of a committed event: the engine's `strip_persons`
    /// first (no person key, masked name, birth date or phone leaves the
    /// site), free text and session tokens blanked, no NUL, and a
    /// configuration change without its body (it holds PIN and password
    /// hashes and webhook secrets): only that it happened.
    pub fn of(seq: u64, at: Millis, event: &Event) -> ShipEvent {
        let body = if matches!(event, Event::CatalogReplaced { .. }) {
            serde_json::json!({ "type": "catalog_replaced" })
        } else {
            let mut e = event.clone();
            e.strip_persons();
            let mut v = serde_json::to_value(&e).unwrap_or(serde_json::Value::Null);
            blank_free_text(&mut v);
            without_nul(&mut v);
            v
        };
        let kind = body
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("unknown")
            .to_string();
        ShipEvent {
            seq,
            at,
            kind,
            body,
        }
    }
}

fn utc(ms: Millis) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default()
}

/// One site's writer into the city database.
pub struct Shipper {
    client: Client,
    site: String,
    /// Months whose partitions are known to exist (UTC months of events,
    /// service months of days), as yyyymm.
    months: HashSet<i32>,
}

impl std::fmt::Debug for Shipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shipper").field("site", &self.site).finish()
    }
}

impl Shipper {
    /// Registers the site (name, region, level and parent are updated; what
    /// was shipped is kept) for the installation `owner` (a stable id of
    /// the site's data directory): the first installation to ship under an
    /// id owns it, and another one with the same id is refused, since the
    /// two logs would merge (two centres set up from the same profile).
    pub async fn new(client: Client, site: &SiteInfo, owner: &str) -> Result<Shipper, PgError> {
        if site.id.is_empty() {
            return Err(PgError::Invalid("a shipping site needs a site id".into()));
        }
        client
            .execute(
                "insert into sites (site, name, region, level, parent, owner) values ($1, $2, $3, $4, $5, $6)
                 on conflict (site) do update set name = excluded.name, region = excluded.region,
                     level = excluded.level, parent = excluded.parent,
                     owner = coalesce(sites.owner, excluded.owner)",
                &[&site.id, &site.name, &site.region, &site.level, &site.parent, &owner],
            )
            .await?;
        let holder: Option<String> = client
            .query_one("select owner from sites where site = $1", &[&site.id])
            .await?
            .get(0);
        if holder.as_deref() != Some(owner) {
            return Err(PgError::Invalid(format!(
                "site id {} is already shipped by another installation: give this site its own \
                 [site] id (or, if this one replaces it, clear sites.owner for it in the city database)",
                site.id
            )));
        }
        Ok(Shipper {
            client,
            site: site.id.clone(),
            months: HashSet::new(),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connection back (to ship for another site).
    pub fn into_client(self) -> Client {
        self.client
    }

    /// The last sequence number of this site that is in the database.
    pub async fn shipped_seq(&self) -> Result<u64, PgError> {
        let row = self
            .client
            .query_one(
                "select shipped_seq from sites where site = $1",
                &[&self.site],
            )
            .await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    async fn ensure_month(&mut self, d: NaiveDate) -> Result<(), PgError> {
        let ym = d.year() * 100 + d.month() as i32;
        if self.months.contains(&ym) {
            return Ok(());
        }
        self.client
            .execute("select hall_ensure_month($1)", &[&d])
            .await?;
        self.months.insert(ym);
        Ok(())
    }

    /// Ships a contiguous run of events (ascending `seq`) and moves
    /// `shipped_seq` to the last of them, in one transaction. Events already
    /// there are skipped, so a run repeated after a lost answer is harmless.
    pub async fn ship_events(&mut self, events: &[ShipEvent]) -> Result<(), PgError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        for e in events {
            let d = utc(e.at).date_naive();
            self.ensure_month(d).await?;
        }
        let sites: Vec<&str> = vec![self.site.as_str(); events.len()];
        let seqs: Vec<i64> = events.iter().map(|e| e.seq as i64).collect();
        let ats: Vec<DateTime<Utc>> = events.iter().map(|e| utc(e.at)).collect();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        let bodies: Vec<&serde_json::Value> = events.iter().map(|e| &e.body).collect();
        let last_seq = last.seq as i64;
        let last_at = utc(last.at);
        let tx = self.client.transaction().await?;
        tx.execute(
            "insert into events (site, seq, at, type, body)
             select * from unnest($1::text[], $2::int8[], $3::timestamptz[], $4::text[], $5::jsonb[])
             on conflict do nothing",
            &[&sites, &seqs, &ats, &kinds, &bodies],
        )
        .await?;
        tx.execute(
            "update sites set shipped_seq = greatest(shipped_seq, $2),
                 last_event_at = greatest(last_event_at, $3), seen_at = now()
             where site = $1",
            &[&self.site, &last_seq, &last_at],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the database says event `seq` of this site was committed (none
    /// if it does not hold it): compared with the site's own log to find a
    /// log that is not the one shipped (a restored backup).
    pub async fn at_of(&self, seq: u64) -> Result<Option<Millis>, PgError> {
        let row = self
            .client
            .query_opt(
                "select at from events where site = $1 and seq = $2 limit 1",
                &[&self.site, &(seq as i64)],
            )
            .await?;
        Ok(row.map(|r| r.get::<_, DateTime<Utc>>(0).timestamp_millis()))
    }

    /// The days whose figures are in the database: day -> (final, through_seq).
    pub async fn shipped_days(&self) -> Result<BTreeMap<NaiveDate, (bool, u64)>, PgError> {
        let rows = self
            .client
            .query(
                "select day, final, through_seq from site_days where site = $1",
                &[&self.site],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, NaiveDate>(0),
                    (r.get::<_, bool>(1), r.get::<_, i64>(2) as u64),
                )
            })
            .collect())
    }

    /// Replaces one day's figures and 好差评 records: `final` once the day
    /// has rolled at the site, else today's figures so far. A final day is
    /// never replaced by a day-so-far.
    pub async fn ship_day(&mut self, day: &DayAggregate, final_: bool) -> Result<(), PgError> {
        self.ensure_month(day.date).await?;
        let cells = CellColumns::of(&self.site, day);
        let tx = self.client.transaction().await?;
        let prior = tx
            .query_opt(
                "select final from site_days where site = $1 and day = $2 for update",
                &[&self.site, &day.date],
            )
            .await?;
        if prior.is_some_and(|r| r.get::<_, bool>(0)) && !final_ {
            return Ok(());
        }
        tx.execute(
            "delete from day_cells where site = $1 and day = $2",
            &[&self.site, &day.date],
        )
        .await?;
        tx.execute(&cells.insert_sql(), &cells.params()).await?;
        tx.execute(
            "delete from ratings where site = $1 and day = $2",
            &[&self.site, &day.date],
        )
        .await?;
        if !day.ratings.is_empty() {
            let n: Vec<i32> = (0..day.ratings.len() as i32).collect();
            let sites: Vec<&str> = vec![self.site.as_str(); n.len()];
            let days: Vec<NaiveDate> = vec![day.date; n.len()];
            let rated: Vec<DateTime<Utc>> = day.ratings.iter().map(|r| utc(r.rated_at)).collect();
            let levels: Vec<i16> = day.ratings.iter().map(|r| i16::from(r.level)).collect();
            let records: Vec<serde_json::Value> = day
                .ratings
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    without_nul(&mut v);
                    v
                })
                .collect();
            tx.execute(
                "insert into ratings (site, day, n, rated_at, level, record)
                 select * from unnest($1::text[], $2::date[], $3::int4[], $4::timestamptz[], $5::int2[], $6::jsonb[])",
                &[&sites, &days, &n, &rated, &levels, &records],
            )
            .await?;
        }
        let through = day.through_seq as i64;
        tx.execute(
            "insert into site_days (site, day, final, through_seq) values ($1, $2, $3, $4)
             on conflict (site, day) do update set final = excluded.final, through_seq = excluded.through_seq",
            &[&self.site, &day.date, &final_, &through],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Blanks the citizens' free-text reasons of this site's 好差评 records
    /// of days before `before` (the site's retention period), as the site
    /// does in its own aggregates: a reason may name someone.
    pub async fn scrub_reasons(&self, before: NaiveDate) -> Result<u64, PgError> {
        Ok(self
            .client
            .execute(
                "update ratings set record = jsonb_set(record, '{reason}', '\"\"')
                 where site = $1 and day < $2 and coalesce(record->>'reason', '') <> ''",
                &[&self.site, &before],
            )
            .await?)
    }

    /// The shipper's heartbeat with the site's live figures (waiting,
    /// windows, alerts): the city screen's "now".
    pub async fn heartbeat(&self, live: &serde_json::Value) -> Result<(), PgError> {
        self.client
            .execute(
                "update sites set seen_at = now(), live = $2 where site = $1",
                &[&self.site, live],
            )
            .await?;
        Ok(())
    }
}

/// The integer columns of `day_cells` after (site, day, dim, key), in order.
pub(crate) const INT_COLUMNS: [&str; 10] = [
    "arrived",
    "moved_in",
    "served",
    "unresolved",
    "no_show",
    "cancelled",
    "transferred",
    "expired",
    "called",
    "wait_max_s",
];
pub(crate) const MORE_INT_COLUMNS: [&str; 2] = ["within_limit", "handled"];
pub(crate) const BIG_COLUMNS: [&str; 3] = ["wait_sum_s", "handling_s", "expected_s"];

pub(crate) fn hist_columns(prefix: char) -> Vec<String> {
    (0..BUCKETS).map(|i| format!("{prefix}{i:02}")).collect()
}

pub(crate) fn rating_columns() -> Vec<String> {
    (1..=5).map(|i| format!("r{i}")).collect()
}

/// One day's cells as column arrays, for one `insert … select unnest(…)`.
struct CellColumns {
    site: Vec<String>,
    day: Vec<NaiveDate>,
    dim: Vec<String>,
    key: Vec<String>,
    /// INT_COLUMNS, MORE_INT_COLUMNS, r1..r5, w00..w20, h00..h20.
    ints: Vec<Vec<i32>>,
    /// BIG_COLUMNS.
    bigs: Vec<Vec<i64>>,
}

impl CellColumns {
    fn int_names() -> Vec<String> {
        let mut v: Vec<String> = INT_COLUMNS.iter().map(|s| s.to_string()).collect();
        v.extend(MORE_INT_COLUMNS.iter().map(|s| s.to_string()));
        v.extend(rating_columns());
        v.extend(hist_columns('w'));
        v.extend(hist_columns('h'));
        v
    }

    fn of(site: &str, day: &DayAggregate) -> CellColumns {
        let n_ints = Self::int_names().len();
        let mut c = CellColumns {
            site: Vec::new(),
            day: Vec::new(),
            dim: Vec::new(),
            key: Vec::new(),
            ints: vec![Vec::new(); n_ints],
            bigs: vec![Vec::new(); BIG_COLUMNS.len()],
        };
        for (dim, by_key) in &day.cells {
            for (key, cell) in by_key {
                c.push(site, day.date, *dim, key, cell);
            }
        }
        c
    }

    fn push(&mut self, site: &str, date: NaiveDate, dim: Dimension, key: &str, cell: &Cell) {
        self.site.push(site.to_string());
        self.day.push(date);
        self.dim.push(dim.name().to_string());
        self.key.push(key.to_string());
        let mut wait_hist = [0i32; BUCKETS];
        let mut wait_sum: i64 = 0;
        for w in &cell.waits_s {
            wait_hist[((w / hall_engine::report::BUCKET_S) as usize).min(BUCKETS - 1)] += 1;
            wait_sum += i64::from(*w);
        }
        let mut v: Vec<i32> = vec![
            cell.arrived as i32,
            cell.moved_in as i32,
            cell.served as i32,
            cell.unresolved as i32,
            cell.no_show as i32,
            cell.cancelled as i32,
            cell.transferred as i32,
            cell.expired as i32,
            cell.waits_s.len() as i32,
            cell.waits_s.iter().max().copied().unwrap_or(0) as i32,
            cell.within_limit as i32,
            cell.handled as i32,
        ];
        v.extend(cell.ratings.iter().map(|r| *r as i32));
        v.extend(wait_hist);
        v.extend((0..BUCKETS).map(|i| cell.handling_hist.get(i).copied().unwrap_or(0) as i32));
        for (col, x) in self.ints.iter_mut().zip(v) {
            col.push(x);
        }
        for (col, x) in
            self.bigs
                .iter_mut()
                .zip([wait_sum, cell.handling_s as i64, cell.expected_s as i64])
        {
            col.push(x);
        }
    }

    fn insert_sql(&self) -> String {
        let mut names = vec!["site".to_string(), "day".into(), "dim".into(), "key".into()];
        let mut types = vec!["text[]", "date[]", "text[]", "text[]"];
        for n in Self::int_names() {
            names.push(n);
            types.push("int4[]");
        }
        for n in BIG_COLUMNS {
            names.push(n.to_string());
            types.push("int8[]");
        }
        let args: Vec<String> = types
            .iter()
            .enumerate()
            .map(|(i, t)| format!("${}::{t}", i + 1))
            .collect();
        format!(
            "insert into day_cells ({}) select * from unnest({})",
            names.join(", "),
            args.join(", ")
        )
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut p: Vec<&(dyn ToSql + Sync)> = vec![&self.site, &self.day, &self.dim, &self.key];
        for col in &self.ints {
            p.push(col);
        }
        for col in &self.bigs {
            p.push(col);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hall_engine::report::RatingChannel;

    #[test]
    fn free_text_tokens_and_nul_never_leave_the_site() {
        let rated = Event::RatingSubmitted {
            ticket: 1,
            window: 3,
            rating: 1,
            comment: "张三 13800138000\0".into(),
            channel: RatingChannel::default(),
        };
        let s = ShipEvent::of(7, 1_000, &rated);
        assert_eq!(s.kind, "rating_submitted");
        assert_eq!(s.body["comment"], "");
        assert_eq!(s.body["rating"], 1);
        let opened = Event::WindowOpened {
            window: 3,
            clerk: "c03".into(),
            token: "counter-t|secret-token".into(),
        };
        let s = ShipEvent::of(8, 1_000, &opened);
        assert_eq!(s.body["token"], "");
        assert_eq!(s.body["clerk"], "c03");
        let mut v = serde_json::json!({"a\0": ["x\0y"]});
        without_nul(&mut v);
        assert_eq!(v, serde_json::json!({"a\u{FFFD}": ["x\u{FFFD}y"]}));
        assert!(!serde_json::to_string(&v).unwrap().contains("\\u0000"));
    }
}
