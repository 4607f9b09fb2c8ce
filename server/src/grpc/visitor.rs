//! The visitor's own ticket, for the web face's ticket page (`web::ticket`):
//! found by the ticket's secret alone (the QR on the slip), shown with
//! nothing personal beyond the masked name. Not a gRPC method: the page is
//! the visitor's, and the secret is its only credential.

use super::*;

/// What the ticket page shows.
#[derive(Debug, Clone)]
pub struct VisitorTicket {
    pub ticket: pb::Ticket,
    /// 一次性告知: what to bring.
    pub materials: Vec<String>,
    pub window_name: String,
    pub hall_name_zh: String,
    pub hall_name_en: String,
    /// The sequence number this view reflects.
    pub seq: u64,
    /// The hall sends notifications (`[[notify.webhooks]]`).
    pub can_notify: bool,
    /// The opt-in: the masked phone and "people ahead".
    pub notify: Option<(String, u32)>,
}

/// Today's ticket secrets → numbers (see `Hub::find_by_secret`).
#[derive(Debug, Default)]
pub struct VisitorIndex {
    date: String,
    /// Every ticket of `date` in memory at the build is in it.
    built: bool,
    by_secret: std::collections::HashMap<String, String>,
}

impl VisitorIndex {
    /// A ticket just issued (its answer carries the secret).
    pub fn add(&mut self, date: &str, secret: &str, number: &str) {
        if self.date != date {
            // A new day: yesterday's secrets are no longer valid.
            *self = VisitorIndex {
                date: date.to_string(),
                ..VisitorIndex::default()
            };
        }
        self.by_secret
            .insert(secret.to_string(), number.to_string());
    }
}

impl Hub {
    /// The (service date, number) of today's ticket whose secret is
    /// `secret`, if any: a lookup in the index of today's secrets
    /// (`VisitorIndex`), so a request costs a hash lookup, not an HMAC per
    /// ticket on the read model's thread. The index is built once per day
    /// (or after a restart) by one pass over the tickets in memory, and
    /// every ticket issued since joins it as its answer is made.
    pub async fn find_by_secret(&self, secret: &str) -> Result<Option<(String, String)>, Status> {
        let want = secret.to_ascii_lowercase();
        if want.len() != 32 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        {
            let index = self.visitor_index.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(number) = index.by_secret.get(&want) {
                return Ok(Some((index.date.clone(), number.clone())));
            }
            if index.built {
                return Ok(None);
            }
        }
        // Build it (once: concurrent misses may each scan, harmlessly).
        let key = self.secret.clone();
        let (date, all) = self
            .read(move |h, _, _| {
                let date = h.service_date.to_string();
                let all: Vec<(String, String)> = h
                    .tickets()
                    .map(|t| (ticket_secret(&key, &date, &t.number), t.number.clone()))
                    .collect();
                Ok((date, all))
            })
            .await?
            .into_inner();
        let mut index = self.visitor_index.lock().unwrap_or_else(|e| e.into_inner());
        if index.date != date {
            *index = VisitorIndex {
                date: date.clone(),
                ..VisitorIndex::default()
            };
        }
        index.by_secret.extend(all);
        index.built = true;
        Ok(index.by_secret.get(&want).map(|n| (date, n.clone())))
    }

    /// Today's ticket `number` as its holder sees it; `None` once the day
    /// has rolled past `date` or the ticket has left memory.
    pub async fn visitor_ticket(
        &self,
        date: String,
        number: String,
    ) -> Result<Option<VisitorTicket>, Status> {
        self.read(move |h, seq, now| {
            if h.service_date.to_string() != date {
                return Ok(None);
            }
            let Some(t) = h.ticket_by_number(&number) else {
                return Ok(None);
            };
            let ticket = convert::ticket(h, t, now);
            let materials = h
                .catalog
                .category(&t.queue)
                .or_else(|| h.catalog.category(&t.origin))
                .map(|c| c.guidance.materials.clone())
                .unwrap_or_default();
            let window_name = h
                .catalog
                .window(ticket.window)
                .map(|w| w.name.clone())
                .unwrap_or_default();
            Ok(Some(VisitorTicket {
                ticket,
                materials,
                window_name,
                hall_name_zh: h.catalog.hall.name_zh.clone(),
                hall_name_en: h.catalog.hall.name_en.clone(),
                seq,
                can_notify: !h.catalog.notify.webhooks.is_empty(),
                notify: h
                    .notify
                    .subscription(t.id)
                    .map(|s| (crate::engine::notify::mask_phone(&s.phone), s.ahead)),
            }))
        })
        .await
        .map(Response::into_inner)
    }

    /// The visitor's rating of today's ticket `number` from the phone (the
    /// ticket page checked the secret). A rating of 2 or less needs a
    /// reason (it opens a follow-up, 回访).
    pub async fn rate_from_phone(
        &self,
        date: &str,
        number: String,
        rating: u32,
        comment: String,
    ) -> Result<(), Status> {
        let service_date = date
            .parse()
            .map_err(|_| Refusal::invalid_field("service_date", "not YYYY-MM-DD").into_status())?;
        if rating <= 2 && comment.trim().is_empty() {
            return Err(Refusal::invalid_field(
                "comment",
                "不满意 needs a reason, so the hall can follow it up",
            )
            .into_status());
        }
        if comment.len() > limits::string_max("comment") {
            return Err(Refusal::invalid_field(
                "comment",
                format!(
                    "{} bytes; at most {}",
                    comment.len(),
                    limits::string_max("comment")
                ),
            )
            .into_status());
        }
        let cmd = Command::RateFromPhone {
            service_date,
            number,
            // Out of range stays out of range (the engine says so).
            rating: u8::try_from(rating).unwrap_or(u8::MAX),
            comment,
        };
        self.ask(Some(cmd), Box::new(|_, _, _| Ok(()))).await
    }
}
