//! The site in the city (三级协同): `[site]` says which site this hall is
//! (id, level, parent; the region is `hall.region_code`), `[ship]` where it
//! copies its log and figures (PostgreSQL). Both are configuration only:
//! the queue never reads them.

use serde::{Deserialize, Serialize};

/// A site's level in the district's service network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteLevel {
    /// 区政务服务中心.
    #[default]
    District,
    /// 街道（乡镇）便民服务中心.
    Street,
    /// 社区（村）便民服务站.
    Community,
}

impl SiteLevel {
    pub fn name(self) -> &'static str {
        match self {
            SiteLevel::District => "district",
            SiteLevel::Street => "street",
            SiteLevel::Community => "community",
        }
    }
}

/// `[site]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The site's id in the city, stable for its life (lowercase letters,
    /// digits and dashes, at most 40): the key of everything it ships.
    /// Empty: a hall on its own (it cannot ship).
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub level: SiteLevel,
    /// The id of the site above it (a community station's street centre, a
    /// street centre's district hall); empty at the top.
    #[serde(default)]
    pub parent: String,
}

/// `[ship]`: copy the committed log, the day figures and the 好差评 records
/// into PostgreSQL for the city view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipConfig {
    /// `postgres://user@host:port/db` (a password here is kept in the log
    /// with the rest of the configuration: prefer `password_file`).
    pub url: String,
    /// A file holding the database password (its first line).
    #[serde(default)]
    pub password_file: Option<String>,
    /// How often today's figures so far are sent (seconds); finished days
    /// are sent at once.
    #[serde(default = "default_aggregate_every_s")]
    pub aggregate_every_s: u32,
    /// Events per transaction.
    #[serde(default = "default_batch")]
    pub batch: u32,
}

/// `[windows.remote]`: a remote virtual window (远程虚拟窗口), staffed by
/// clerks of another site (a district clerk serving a community station's
/// visitors over video). The visitor comes to this window's screen; the
/// call names the remote clerk's own desk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWindow {
    /// The site whose clerks staff it (their `[[clerks]] home_site`).
    pub staffed_from: String,
    /// The hall's video-conferencing room for this window (the video itself
    /// is the conferencing system's).
    #[serde(default)]
    pub video_url: String,
}

/// `[[peers]]`: another site a clerk may send a ticket to (跨区域通办).
/// This hall calls that site's `KioskService.IssueTicket` with the origin,
/// as the kiosk `peer-<this site's id>` enrolled there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its `[site] id`.
    pub site: String,
    /// What clerks see.
    #[serde(default)]
    pub name: String,
    /// Its gRPC address, `https://host:port`.
    pub url: String,
    /// The folder `hall-server redeem` wrote for the enrollment at that site
    /// (`device.pem`, `device.key`, `ca.pem`); empty with `--insecure-demo`
    /// peers (`http://`).
    #[serde(default)]
    pub tls_dir: String,
}

/// The problems of remote windows and remote clerks.
pub fn remote_problems(c: &crate::catalog::Catalog) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, w) in c.windows.iter().enumerate() {
        let Some(r) = &w.remote else { continue };
        let key = |k: &str| format!("windows[{i}].remote.{k}");
        if !id_ok(&r.staffed_from) {
            out.push((key("staffed_from"), "not a site id".into()));
        } else if r.staffed_from == c.site.id {
            out.push((
                key("staffed_from"),
                "a remote window is staffed from another site".into(),
            ));
        }
        if !r.video_url.is_empty() && !r.video_url.starts_with("https://") {
            out.push((key("video_url"), "an https:// address".into()));
        }
    }
    for (i, k) in c.clerks.iter().enumerate() {
        if !k.home_site.is_empty() && !id_ok(&k.home_site) {
            out.push((format!("clerks[{i}].home_site"), "not a site id".into()));
        }
    }
    out
}

/// The problems of `[[peers]]`.
pub fn peer_problems(site: &SiteConfig, peers: &[Peer]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, p) in peers.iter().enumerate() {
        let key = |k: &str| format!("peers[{i}].{k}");
        if !id_ok(&p.site) {
            out.push((key("site"), "not a site id".into()));
        } else if p.site == site.id {
            out.push((key("site"), "a site is not its own peer".into()));
        } else if !seen.insert(p.site.clone()) {
            out.push((key("site"), format!("'{}' is listed twice", p.site)));
        }
        if p.url.starts_with("https://") {
            if p.tls_dir.is_empty() {
                out.push((
                    key("tls_dir"),
                    "an https peer needs the certificate folder from its enrollment".into(),
                ));
            }
        } else if !p.url.starts_with("http://") {
            out.push((key("url"), "not an http(s):// address".into()));
        }
    }
    if !peers.is_empty() && site.id.is_empty() {
        out.push(("site.id".into(), "a site with peers needs an id".into()));
    }
    out
}

fn default_aggregate_every_s() -> u32 {
    30
}

fn default_batch() -> u32 {
    2000
}

fn id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The problems of `[site]` and `[ship]`, each with its key.
pub fn problems(site: &SiteConfig, ship: Option<&ShipConfig>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !site.id.is_empty() && !id_ok(&site.id) {
        out.push((
            "site.id".into(),
            format!(
                "'{}' is not a site id: lowercase letters, digits and dashes, at most 40",
                site.id.chars().take(64).collect::<String>()
            ),
        ));
    }
    if !site.parent.is_empty() && !id_ok(&site.parent) {
        out.push(("site.parent".into(), "not a site id".into()));
    }
    if !site.parent.is_empty() && site.parent == site.id {
        out.push((
            "site.parent".into(),
            "a site cannot be its own parent".into(),
        ));
    }
    if site.level != SiteLevel::District && site.parent.is_empty() && !site.id.is_empty() {
        out.push((
            "site.parent".into(),
            format!("a {} site names its parent site", site.level.name()),
        ));
    }
    if let Some(s) = ship {
        if !(s.url.starts_with("postgres://") || s.url.starts_with("postgresql://")) {
            out.push((
                "ship.url".into(),
                "not a PostgreSQL URL (postgres://user@host:port/database)".into(),
            ));
        }
        if site.id.is_empty() {
            out.push(("site.id".into(), "a site that ships needs an id".into()));
        }
        if !(1..=3600).contains(&s.aggregate_every_s) {
            out.push((
                "ship.aggregate_every_s".into(),
                format!("{} is not between 1 and 3600", s.aggregate_every_s),
            ));
        }
        if !(1..=20000).contains(&s.batch) {
            out.push((
                "ship.batch".into(),
                format!("{} is not between 1 and 20000", s.batch),
            ));
        }
    }
    out
}
