//! The notification outbox as the delivery task (`crate::notify`) and the
//! ticket page see it: opting in, the pending deliveries rendered for their
//! sinks, and the outcome of each. Not gRPC methods: the opt-in is the
//! ticket holder's (its secret was checked by the web face), the rest the
//! server's own.

use super::*;
use crate::engine::notify::{self, Notification, Outcome};

/// Pending deliveries read at a time (the oldest first).
const BATCH: usize = 256;

/// One notification owed to one sink, ready to POST.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: u64,
    pub sink: String,
    /// The idempotency key (the same for every attempt and restart).
    pub key: String,
    pub trigger: &'static str,
    pub url: String,
    pub secret: String,
    pub ca_file: String,
    /// The body (the hall's JSON, or the sink kind's own request).
    pub body: Vec<u8>,
    pub content_type: String,
}

/// What the delivery task needs besides the deliveries.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub max_attempts: u32,
    pub base_ms: u64,
}

/// This site's part of every idempotency key: 12 hex digits derived from
/// the site secret (so stable across restarts, different for every data
/// directory, and saying nothing about the secret).
pub fn site_tag(secret: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(b"hall notification idempotency keys");
    hex::encode(&mac.finalize().into_bytes()[..6])
}

/// The idempotency key `n` is sent with, e.g. `3f9a0c41d2e7-20261201-n17-called-A004`.
pub fn key(site: &str, n: &Notification) -> String {
    format!("{site}-{}", n.key())
}

/// What sink `w` is sent for a notification whose hall JSON is `v`: the
/// body and its content type. A `webhook` gets `v`; an `sms` sink its
/// template filled in; a `wechat` sink a subscribe message (`template_id`,
/// `page`, `data.{field}.value`) with the phone for the hall's relay.
pub fn sink_body(w: &notify::Webhook, v: &serde_json::Value) -> (Vec<u8>, String) {
    let val = |name: &str| match &v[name] {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    const JSON: &str = "application/json";
    match w.kind {
        notify::SinkKind::Webhook => (serde_json::to_vec(v).unwrap_or_default(), JSON.into()),
        notify::SinkKind::Sms => {
            let form = w.content_type == "application/x-www-form-urlencoded";
            let body = fill(&w.template, |p| {
                let s = val(p);
                if form {
                    url_encode(&s)
                } else {
                    // Inside the template's own quotes.
                    let q = serde_json::to_string(&s).unwrap_or_default();
                    q[1..q.len() - 1].to_string()
                }
            });
            let ct = if w.content_type.is_empty() {
                JSON.to_string()
            } else {
                w.content_type.clone()
            };
            (body.into_bytes(), ct)
        }
        notify::SinkKind::Wechat => {
            let data: serde_json::Map<String, serde_json::Value> = w
                .fields
                .iter()
                .map(|(f, t)| (f.clone(), serde_json::json!({ "value": fill(t, val) })))
                .collect();
            let msg = serde_json::json!({
                "key": v["key"],
                "trigger": v["trigger"],
                "phone": v["phone"],
                "template_id": w.template_id,
                "page": fill(&w.page, val),
                "data": data,
            });
            (serde_json::to_vec(&msg).unwrap_or_default(), JSON.into())
        }
    }
}

/// `template` with each known `{placeholder}` replaced by `f(name)`.
fn fill(template: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let name = &after[..end];
        if end > 0 && after[end..].starts_with('}') && notify::PLACEHOLDERS.contains(&name) {
            out.push_str(&f(name));
            rest = &after[end + 1..];
        } else {
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The JSON a sink receives for `n` (documented in the README).
pub fn body(h: &Hall, site: &str, n: &Notification) -> serde_json::Value {
    let c = &h.catalog;
    let (name_zh, name_en) = c
        .category(&n.queue)
        .map(|k| (k.name_zh.clone(), k.name_en.clone()))
        .or_else(|| {
            c.bundles
                .iter()
                .find(|b| b.code == n.queue)
                .map(|b| (b.name_zh.clone(), b.name_en.clone()))
        })
        .unwrap_or_default();
    let window_name = n
        .window
        .and_then(|w| c.window(w))
        .map(|w| w.name.clone())
        .unwrap_or_default();
    let text = match n.trigger {
        notify::Trigger::Ahead => format!(
            "【{}】您的{}号前面还有{}人，预计等候{}分钟，请留意叫号。",
            c.hall.name_zh,
            n.number,
            n.people_ahead.unwrap_or(0),
            n.wait_min.unwrap_or(0)
        ),
        notify::Trigger::Called => format!(
            "【{}】请{}号到{}办理。",
            c.hall.name_zh, n.number, window_name
        ),
        notify::Trigger::Recalled => format!(
            "【{}】再次请{}号到{}办理，过号将重新排队。",
            c.hall.name_zh, n.number, window_name
        ),
        notify::Trigger::Front => format!(
            "【{}】您的线上取号{}号即将叫到，请在{}分钟内到大厅扫码签到，逾时作废。",
            c.hall.name_zh,
            n.number,
            c.category(&n.queue)
                .and_then(|k| k.remote.as_ref())
                .map_or(15, |r| r.grace_minutes)
        ),
        notify::Trigger::Expired => format!(
            "【{}】您的线上取号{}号未按时签到，已作废，请重新取号。",
            c.hall.name_zh, n.number
        ),
        notify::Trigger::Booked => format!(
            "【{}】您已预约{} {} {}，请携带身份证按时到厅签到。",
            c.hall.name_zh, n.service_date, n.slot, name_zh
        ),
        notify::Trigger::BookingCancelled => format!(
            "【{}】您{} {}的{}预约已取消。",
            c.hall.name_zh, n.service_date, n.slot, name_zh
        ),
        notify::Trigger::Reminder => format!(
            "【{}】温馨提醒：您预约了{} {} {}，请携带身份证按时到厅签到。",
            c.hall.name_zh, n.service_date, n.slot, name_zh
        ),
        notify::Trigger::Blocked => format!(
            "【{}】因近期多次预约未到，{}前暂停您的网上预约，可到大厅现场取号。",
            c.hall.name_zh,
            n.until.map(|d| d.to_string()).unwrap_or_default()
        ),
    };
    serde_json::json!({
        "key": key(site, n),
        "id": n.id,
        "trigger": n.trigger.as_str(),
        "number": n.number,
        "serviceDate": n.service_date.to_string(),
        "category": n.queue,
        "categoryNameZh": name_zh,
        "categoryNameEn": name_en,
        "phone": n.phone,
        "window": n.window,
        "windowName": window_name,
        "peopleAhead": n.people_ahead,
        "estimatedWaitMin": n.wait_min,
        "slot": n.slot,
        "until": n.until.map(|d| d.to_string()),
        "atMs": n.at,
        "hallNameZh": c.hall.name_zh,
        "regionCode": c.hall.region_code,
        "text": text,
    })
}

impl Hub {
    /// The holder of today's ticket `number` opts in to notifications.
    pub async fn opt_in_notify(
        &self,
        date: &str,
        number: String,
        phone: String,
        ahead: Option<u32>,
    ) -> Result<(), Status> {
        let service_date = date
            .parse()
            .map_err(|_| Refusal::invalid_field("service_date", "not YYYY-MM-DD").into_status())?;
        if phone.len() > 32 {
            return Err(Refusal::invalid_field("phone", "at most 32 characters").into_status());
        }
        let cmd = Command::OptInNotify {
            service_date,
            number,
            phone,
            ahead,
        };
        self.ask(Some(cmd), Box::new(|_, _, _| Ok(()))).await
    }

    /// The oldest pending deliveries the task can start now (at most
    /// `BATCH`; not those in `skip`, in flight or waiting out a backoff),
    /// rendered for their sinks as the configuration names them now; a
    /// sink no longer configured gets an empty URL (given up at once).
    pub async fn pending_deliveries(
        &self,
        skip: std::sync::Arc<std::collections::HashSet<(u64, String)>>,
    ) -> Result<(Vec<Delivery>, Retry), Status> {
        let site = site_tag(&self.secret);
        let r = self
            .read(move |h, _, _| {
                let cfg = &h.catalog.notify;
                let mut out = Vec::new();
                'outbox: for p in h.notify.outbox.values() {
                    let n = &p.notification;
                    let mut body_json = None;
                    for sink in &p.sinks {
                        if skip.contains(&(n.id, sink.clone())) {
                            continue;
                        }
                        if out.len() >= BATCH {
                            break 'outbox;
                        }
                        let v = body_json.get_or_insert_with(|| body(h, &site, n));
                        let (url, secret, ca_file, (body, content_type)) = match cfg.webhook(sink) {
                            Some(w) => (
                                w.url.clone(),
                                w.secret.clone(),
                                w.ca_file.clone(),
                                sink_body(w, v),
                            ),
                            None => Default::default(),
                        };
                        out.push(Delivery {
                            id: n.id,
                            sink: sink.clone(),
                            key: key(&site, n),
                            trigger: n.trigger.as_str(),
                            url,
                            secret,
                            ca_file,
                            body,
                            content_type,
                        });
                    }
                }
                Ok((
                    out,
                    Retry {
                        max_attempts: cfg.max_attempts,
                        base_ms: cfg.retry_base_ms,
                    },
                ))
            })
            .await?;
        Ok(r.into_inner())
    }

    /// Records how one sink's delivery ended (waits until it is on disk).
    pub async fn notification_outcome(
        &self,
        id: u64,
        sink: String,
        outcome: Outcome,
    ) -> Result<(), Status> {
        let cmd = Command::NotificationOutcome { id, sink, outcome };
        self.ask(Some(cmd), Box::new(|_, _, _| Ok(()))).await
    }
}
