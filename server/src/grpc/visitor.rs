//! The visitor's own ticket, for the web face's ticket page (`web::ticket`):
//! found by the ticket's secret alone (the QR on the slip), shown with
//! nothing personal beyond the masked name. Not a gRPC method: the page is
//! the visitor's, and the secret is its only credential.

use super::*;
use subtle::ConstantTimeEq;

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
}

impl Hub {
    /// The (service date, number) of today's ticket whose secret is
    /// `secret`, if any. Every ticket in memory is compared (one HMAC each,
    /// about a microsecond: a day's tickets take a few milliseconds), in
    /// constant time per ticket; a miss says nothing about why.
    pub async fn find_by_secret(&self, secret: &str) -> Result<Option<(String, String)>, Status> {
        let want = secret.to_ascii_lowercase();
        if want.len() != 32 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let key = self.secret.clone();
        self.read(move |h, _, _| {
            let date = h.service_date.to_string();
            Ok(h.tickets()
                .find(|t| {
                    let s = ticket_secret(&key, &date, &t.number);
                    bool::from(s.as_bytes().ct_eq(want.as_bytes()))
                })
                .map(|t| (date.clone(), t.number.clone())))
        })
        .await
        .map(Response::into_inner)
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
        number: String,
        rating: u32,
        comment: String,
    ) -> Result<(), Status> {
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
            number,
            rating: u8::try_from(rating).unwrap_or(0),
            comment,
        };
        self.ask(Some(cmd), Box::new(|_, _, _| Ok(()))).await
    }
}
