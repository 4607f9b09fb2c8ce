//! The visitor's bookings and remote tickets from the phone (掌上办: the
//! web face's `/book` and `/remote`): the categories that offer them, free
//! slots, booking, the person's own bookings, cancel, remote tickets and
//! their check-in (the kiosk's QR scan or the phone on the hall's network).
//!
//! Not gRPC methods: a phone has no device certificate. The web face
//! (`web::book`) confirms who the visitor is (a one-time code to their
//! phone) and carries it in a signed visitor token; these run the commands
//! for that person. Like the ticket page's, every answer names nothing
//! about the person but the masked name.

use super::*;
use crate::engine::{AppointmentState, Channel};

/// A category as the phone pages offer it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicCategory {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Booking slots' length, or 0 when it cannot be booked.
    pub slot_minutes: u32,
    pub horizon_days: u32,
    /// Remote tickets (线上取号) today.
    pub remote: bool,
    pub grace_minutes: u32,
    pub materials: Vec<String>,
}

/// What `/book` and `/remote` start from.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicCatalog {
    pub hall_name_zh: String,
    pub hall_name_en: String,
    pub service_date: String,
    pub categories: Vec<PublicCategory>,
    /// Visitors may cancel until this many minutes before their slot.
    pub cancel_minutes: u32,
}

/// One of the person's bookings.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitorBooking {
    pub id: u64,
    pub category: String,
    pub category_name_zh: String,
    pub category_name_en: String,
    pub date: String,
    pub slot_start: String,
    pub slot_end: String,
    /// booked, checked_in, cancelled, missed.
    pub state: &'static str,
    pub masked_name: String,
    /// The booking's secret: its QR (`/b/{secret}`) checks it in at a kiosk.
    pub secret: String,
    /// The visitor may still cancel it (before the deadline).
    pub can_cancel: bool,
}

/// A remote ticket as the phone gets it: its number and its page's secret.
#[derive(Debug, Clone)]
pub struct RemoteTicket {
    pub number: String,
    pub service_date: String,
    pub secret: String,
}

/// The person's bookings and any block on booking.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisitorBookings {
    pub bookings: Vec<VisitorBooking>,
    /// A block in force: the first day booking opens again.
    pub blocked_until: Option<String>,
    pub missed: u32,
}

/// A booking's secret under the site secret: `{id}-{32 hex digits of
/// HMAC}`, so a scan or a page names its booking and is checked with one
/// HMAC, not one per stored booking.
fn booking_secret(key: &[u8], id: u64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"booking|");
    mac.update(id.to_string().as_bytes());
    format!("{id}-{}", hex::encode(&mac.finalize().into_bytes()[..16]))
}

/// The booking a secret names, if it is genuine.
pub fn booking_of_secret(key: &[u8], secret: &str) -> Option<u64> {
    let (id, mac) = secret.split_once('-')?;
    if id.len() > 20 || mac.len() != 32 {
        return None;
    }
    let id: u64 = id.parse().ok()?;
    let want = booking_secret(key, id);
    let got = format!("{id}-{}", mac.to_ascii_lowercase());
    bool::from(subtle::ConstantTimeEq::ct_eq(
        want.as_bytes(),
        got.as_bytes(),
    ))
    .then_some(id)
}

fn visitor_booking(
    h: &Hall,
    key: &[u8],
    a: &crate::engine::Appointment,
    now: Millis,
) -> VisitorBooking {
    let (zh, en) = h
        .catalog
        .category(&a.queue)
        .map(|c| (c.name_zh.clone(), c.name_en.clone()))
        .unwrap_or_default();
    let deadline = a.slot.start - i64::from(h.catalog.policy.booking_cancel_minutes) * 60_000;
    VisitorBooking {
        id: a.id,
        category: a.queue.clone(),
        category_name_zh: zh,
        category_name_en: en,
        date: a.date.to_string(),
        slot_start: a.slot_label.0.clone(),
        slot_end: a.slot_label.1.clone(),
        state: a.state.name(),
        masked_name: a.person.masked_name.clone(),
        secret: booking_secret(key, a.id),
        can_cancel: a.state == AppointmentState::Booked && now <= deadline,
    }
}

impl Hub {
    /// The keyed hash of an 18-character ID number (as on the kiosk's
    /// card read) with the masked name, for a visitor who typed them.
    pub fn visitor_person(&self, id_number: &str, name: &str) -> Result<Person, Status> {
        self.person(Some(pb::Identity {
            id_number: id_number.to_string(),
            name: name.to_string(),
            ..Default::default()
        }))?
        .ok_or_else(|| {
            Refusal::invalid_field("idNumber", "the ID number is required").into_status()
        })
    }

    /// The person behind a remote ticket taken with a phone number only:
    /// the keyed hash of the number (one active ticket per phone and
    /// category, the per-person limits).
    pub fn phone_person(&self, phone: &str) -> Person {
        use hmac::{Hmac, Mac};
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(b"phone|");
        mac.update(phone.as_bytes());
        Person {
            key: format!("m{}", hex::encode(&mac.finalize().into_bytes()[..16])),
            masked_name: String::new(),
            birth_date: None,
        }
    }

    /// The categories that can be booked or taken remotely.
    pub async fn public_catalog(&self) -> Result<PublicCatalog, Status> {
        self.read(|h, _, _| {
            let categories = h
                .catalog
                .categories
                .iter()
                .filter(|c| c.booking.is_some() || c.remote.is_some())
                .map(|c| PublicCategory {
                    code: c.code.clone(),
                    name_zh: c.name_zh.clone(),
                    name_en: c.name_en.clone(),
                    slot_minutes: c.booking.as_ref().map_or(0, |b| b.slot_minutes),
                    horizon_days: c.booking.as_ref().map_or(0, |b| b.horizon_days),
                    remote: c.remote.is_some(),
                    grace_minutes: c.remote.as_ref().map_or(0, |r| r.grace_minutes),
                    materials: c.guidance.materials.clone(),
                })
                .collect();
            Ok(PublicCatalog {
                hall_name_zh: h.catalog.hall.name_zh.clone(),
                hall_name_en: h.catalog.hall.name_en.clone(),
                service_date: h.service_date.to_string(),
                categories,
                cancel_minutes: h.catalog.policy.booking_cancel_minutes,
            })
        })
        .await
        .map(Response::into_inner)
    }

    /// Slots of `code` on `date` still open for booking now.
    pub async fn free_slots(
        &self,
        code: String,
        date: chrono::NaiveDate,
    ) -> Result<Vec<crate::engine::FreeSlot>, Status> {
        self.read(move |h, _, now| {
            if h.catalog.category(&code).is_none() {
                return Err(status(Failure::Engine(EngineError::UnknownCategory(code))));
            }
            Ok(h.free_slots(&code, date, now))
        })
        .await
        .map(Response::into_inner)
    }

    /// Books a slot for a visitor whose identity the web face confirmed.
    /// `request_id` makes a retried POST return the first booking.
    pub async fn book_for_visitor(
        &self,
        person: Person,
        phone: String,
        code: String,
        date: chrono::NaiveDate,
        slot: (String, String),
        request_id: String,
    ) -> Result<VisitorBooking, Status> {
        let rid = super::request_id(request_id)?;
        let bookable = {
            let code = code.clone();
            self.read(move |h, _, _| {
                Ok(h.catalog
                    .category(&code)
                    .is_some_and(|c| c.booking.is_some()))
            })
            .await?
            .into_inner()
        };
        if !bookable {
            // Slots, horizon and capacity come from `[categories.booking]`:
            // without it a category is not booked from a phone.
            return Err(Refusal::invalid_field(
                "category",
                format!(
                    "'{}' cannot be booked online",
                    hall_proto::errors::echo(&code)
                ),
            )
            .into_status());
        }
        let key = self.secret.clone();
        let cmd = Command::BookAppointment {
            request_id: Some(rid.clone()),
            code,
            person,
            date,
            slot_start: slot.0,
            slot_end: slot.1,
            phone: Some(phone),
        };
        let render = Box::new(move |h: &Hall, _: &[LoggedEvent], now| {
            let a = h
                .appointment_for_request(&rid)
                .ok_or_else(|| Status::internal("booking not found after it was made"))?;
            Ok(visitor_booking(h, &key, a, now))
        });
        self.ask(Some(cmd), render).await
    }

    /// The person's bookings made with `phone` (upcoming and of the last
    /// month) and any block: someone else who knows the ID number but not
    /// the phone sees none of them.
    pub async fn visitor_bookings(
        &self,
        person_key: String,
        phone: String,
    ) -> Result<VisitorBookings, Status> {
        let key = self.secret.clone();
        self.read(move |h, _, now| {
            let bookings = h
                .bookings_of(&person_key)
                .into_iter()
                .filter(|a| a.phone == phone)
                .map(|a| visitor_booking(h, &key, a, now))
                .collect();
            let block = h.booking_block(&person_key);
            Ok(VisitorBookings {
                bookings,
                blocked_until: block.map(|b| b.until.to_string()),
                missed: block.map_or(0, |b| b.missed),
            })
        })
        .await
        .map(Response::into_inner)
    }

    /// The visitor cancels their booking `id` (until the deadline), one
    /// made with the phone they confirmed.
    pub async fn cancel_for_visitor(
        &self,
        person_key: String,
        phone: String,
        id: u64,
    ) -> Result<(), Status> {
        let theirs = self
            .read(move |h, _, _| Ok(h.appointments.get(&id).is_some_and(|a| a.phone == phone)))
            .await?
            .into_inner();
        if !theirs {
            return Err(status(Failure::Engine(EngineError::UnknownAppointment(id))));
        }
        let cmd = Command::CancelAppointment {
            id,
            person_key: Some(person_key),
            reason: "cancelled by the visitor".into(),
        };
        self.ask(Some(cmd), Box::new(|_, _, _| Ok(()))).await
    }

    /// Whether `code` takes remote tickets (before a code is used up on it).
    pub async fn remote_offered(&self, code: &str) -> Result<(), Status> {
        let code = code.to_string();
        let offered = {
            let code = code.clone();
            self.read(move |h, _, _| {
                Ok(h.catalog
                    .category(&code)
                    .is_some_and(|c| c.remote.is_some()))
            })
            .await?
            .into_inner()
        };
        if offered {
            Ok(())
        } else {
            Err(Refusal::invalid_field(
                "category",
                format!(
                    "'{}' cannot be taken remotely",
                    hall_proto::errors::echo(&code)
                ),
            )
            .into_status())
        }
    }

    /// The remote ticket request `rid` made for `phone`, if it was made.
    pub async fn remote_of_request(
        &self,
        rid: &str,
        phone: &str,
    ) -> Result<Option<RemoteTicket>, Status> {
        let rid = rid.to_string();
        let key = self.phone_person(phone).key;
        let found = self
            .read(move |h, _, _| {
                Ok(h.ticket_for_request(&rid)
                    .filter(|t| t.person.as_ref().is_some_and(|p| p.key == key))
                    .map(|t| (t.service_date.to_string(), t.number.clone())))
            })
            .await?
            .into_inner();
        Ok(found.map(|(date, number)| self.remote_ticket(date, number)))
    }

    fn remote_ticket(&self, service_date: String, number: String) -> RemoteTicket {
        let secret = self.ticket_secret(&service_date, &number);
        self.visitor_index
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&service_date, &secret, &number);
        RemoteTicket {
            number,
            service_date,
            secret,
        }
    }

    /// A remote ticket (线上取号) of `code` for the holder of `phone`, who
    /// is told (when the hall sends notifications) when it nears the front,
    /// when it must be checked in and when it is called. A phone that
    /// already holds one of this category today gets that one back (it
    /// proved the phone).
    pub async fn issue_remote(
        &self,
        code: String,
        phone: String,
        request_id: String,
    ) -> Result<RemoteTicket, Status> {
        let rid = super::request_id(request_id)?;
        let person = self.phone_person(&phone);
        let cmd = Command::IssueTicket {
            request_id: Some(rid.clone()),
            code: code.clone(),
            priority: crate::engine::Priority::Normal,
            channel: Channel::Mobile,
            person: Some(person.clone()),
        };
        let t = match self.ask(Some(cmd), render_request(rid)).await {
            Ok(t) => t,
            Err(e) => {
                let key = person.key.clone();
                let held = self
                    .read(move |h, _, _| {
                        Ok(h.tickets()
                            .find(|t| {
                                t.origin == code
                                    && t.channel == Channel::Mobile
                                    && t.state.is_active()
                                    && t.person.as_ref().is_some_and(|p| p.key == key)
                            })
                            .map(|t| (t.service_date.to_string(), t.number.clone())))
                    })
                    .await?
                    .into_inner();
                return match held {
                    Some((date, number)) => Ok(self.remote_ticket(date, number)),
                    None => Err(e),
                };
            }
        };
        let notifies = self
            .read(|h, _, _| Ok(!h.catalog.notify.webhooks.is_empty()))
            .await?
            .into_inner();
        if notifies {
            let service_date = t
                .service_date
                .parse()
                .map_err(|_| Status::internal("service date"))?;
            let cmd = Command::OptInNotify {
                service_date,
                number: t.number.clone(),
                phone,
                ahead: None,
            };
            // The ticket stands whatever happens to the opt-in (its page
            // offers it again).
            if let Err(e) = self.ask(Some(cmd), Box::new(|_, _, _| Ok(()))).await {
                tracing::warn!(number = %t.number, error = %e.message(), "remote ticket: the opt-in failed");
            }
        }
        Ok(self.remote_ticket(t.service_date, t.number))
    }

    /// The holder of remote ticket `number` of `date` has arrived.
    pub async fn arrive_remote(&self, date: &str, number: String) -> Result<(), Status> {
        let service_date = date
            .parse()
            .map_err(|_| Refusal::invalid_field("service_date", "not YYYY-MM-DD").into_status())?;
        let cmd = Command::ArriveRemote {
            service_date,
            number,
        };
        self.ask(Some(cmd), Box::new(|_, _, _| Ok(()))).await
    }

    /// What a kiosk's QR scan checks in: a booking's (`…/b/{secret}`), which
    /// issues its ticket, or a remote ticket's (`…/t/{secret}`), which makes
    /// it callable. The ticket either way.
    pub async fn check_in_qr(&self, qr: &str, request_id: String) -> Result<pb::Ticket, Status> {
        // The path's last part, without a query, a fragment or a trailing
        // slash a scanner or a phone may have added.
        let text = qr.trim();
        let path = text
            .split(['?', '#'])
            .next()
            .unwrap_or(text)
            .trim_end_matches('/');
        let secret = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
        let not_found = || {
            Refusal::new(
                Code::NotFound,
                Reason::NoAppointment,
                "this QR code is not a booking or a remote ticket of today",
            )
            .into_status()
        };
        if path.contains("/t/") {
            let (date, number) = self.find_by_secret(&secret).await?.ok_or_else(not_found)?;
            self.arrive_remote(&date, number.clone()).await?;
            return self
                .read(move |h, _, now| {
                    let t = h.ticket_by_number(&number).ok_or_else(not_found)?;
                    Ok(convert::ticket(h, t, now))
                })
                .await
                .map(|r| self.with_secret(r.into_inner()));
        }
        // A booking: the one scanned, if it is today's.
        let id = booking_of_secret(&self.secret, &secret).ok_or_else(not_found)?;
        let person_key = self
            .read(move |h, _, _| {
                Ok(h.appointments
                    .get(&id)
                    .filter(|a| a.date == h.service_date)
                    .map(|a| a.person.key.clone()))
            })
            .await?
            .into_inner()
            .ok_or_else(not_found)?;
        let rid = super::request_id(request_id)?;
        let cmd = Command::CheckInAppointment {
            request_id: Some(rid.clone()),
            person_key,
            appointment: Some(id),
        };
        self.ask(Some(cmd), render_request(rid))
            .await
            .map(|t| self.with_secret(t))
    }
}

impl Hub {
    /// The hall's networks a phone may check in from (`hall.checkin_networks`).
    pub async fn checkin_networks(&self) -> Result<Vec<String>, Status> {
        self.read(|h, _, _| Ok(h.catalog.hall.checkin_networks.clone()))
            .await
            .map(Response::into_inner)
    }

    /// Sends a one-time code to `phone` through every configured sink, once
    /// each (trigger `code`, signed like every notification): Ok when one
    /// took it. Not through the outbox: see `web::book`.
    pub async fn send_code(&self, phone: &str, code: &str) -> Result<(), Status> {
        let (hall, sinks) = self
            .read(|h, _, _| {
                use crate::engine::notify::SinkKind;
                let all: Vec<(String, crate::engine::notify::Webhook)> = h
                    .catalog
                    .notify
                    .webhooks
                    .iter()
                    .enumerate()
                    .map(|(i, w)| (h.catalog.notify.sink_name(i), w.clone()))
                    .collect();
                // A code is a text message: to the SMS gateways when there
                // are any, else to the plain webhooks; never to WeChat (a
                // subscribe message is no proof of the phone).
                let kind = if all.iter().any(|(_, w)| w.kind == SinkKind::Sms) {
                    SinkKind::Sms
                } else {
                    SinkKind::Webhook
                };
                let sinks: Vec<_> = all.into_iter().filter(|(_, w)| w.kind == kind).collect();
                Ok((h.catalog.hall.name_zh.clone(), sinks))
            })
            .await?
            .into_inner();
        if sinks.is_empty() {
            return Err(Refusal::new(
                Code::FailedPrecondition,
                Reason::BadCode,
                "this hall sends no codes (本厅未开通短信验证): book at the hall",
            )
            .into_status());
        }
        let n: u64 = rand::random();
        let key = format!("{}-code-{n:016x}", outbox::site_tag(&self.secret));
        let v = serde_json::json!({
            "key": key,
            "trigger": "code",
            "phone": phone,
            "code": code,
            "hallNameZh": hall,
            "text": format!("【{hall}】验证码 {code}，5分钟内有效。请勿告诉他人。"),
        });
        let tls = crate::notify::TlsConfigs::default();
        let mut last = String::new();
        let mut sent = false;
        for (sink, w) in sinks {
            let (body, content_type) = outbox::sink_body(&w, &v);
            let d = Delivery {
                id: 0,
                sink: sink.clone(),
                key: key.clone(),
                trigger: "code",
                url: w.url.clone(),
                secret: w.secret.clone(),
                ca_file: w.ca_file.clone(),
                body,
                content_type,
            };
            let attempt = tokio::time::timeout(
                crate::notify::ATTEMPT_TIMEOUT,
                crate::notify::deliver(&d, &tls),
            );
            match attempt
                .await
                .unwrap_or_else(|_| Err("no answer in time".into()))
            {
                Ok(()) => sent = true,
                Err(e) => {
                    tracing::warn!(sink = %sink, error = %e, "the code was not sent to this sink");
                    last = e;
                }
            }
        }
        if sent {
            Ok(())
        } else {
            Err(Refusal::new(
                Code::Unavailable,
                Reason::BadCode,
                format!("the code could not be sent ({last}): try again shortly"),
            )
            .into_status())
        }
    }
}

impl Hub {
    /// The address phones reach the hall at (`hall.public_url`, else the
    /// server's own `--http` address), for the QR codes.
    pub async fn public_base(&self) -> Result<String, Status> {
        let configured = self
            .read(|h, _, _| Ok(h.catalog.hall.public_url.clone()))
            .await?
            .into_inner();
        let base = if configured.is_empty() {
            self.web_url.clone()
        } else {
            configured
        };
        Ok(base.trim_end_matches('/').to_string())
    }

    /// Whether `secret` is genuine and names one of today's or a coming
    /// day's bookings.
    pub async fn booking_exists(&self, secret: &str) -> Result<bool, Status> {
        let Some(id) = booking_of_secret(&self.secret, secret) else {
            return Ok(false);
        };
        self.read(move |h, _, _| {
            Ok(h.appointments
                .get(&id)
                .is_some_and(|a| a.date >= h.service_date))
        })
        .await
        .map(Response::into_inner)
    }
}
