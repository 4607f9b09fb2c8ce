//! Who may call what: the role table, in one place, and the tower layer
//! that applies it to every call before any handler runs.
//!
//! The caller is the client certificate the TLS layer verified against the
//! hall CA: its OU is the role and its CN the device id (`pki`). A call to a
//! hall.v1 method without a certificate, or with a revoked one, is refused
//! UNAUTHENTICATED / `CERTIFICATE_REQUIRED`; a role the table does not list
//! for the method is refused PERMISSION_DENIED / `ROLE_FORBIDDEN`. Health,
//! reflection and `DeviceService.Redeem` answer anyone (a device redeems
//! before it has a certificate). A method missing from the table is refused
//! to everyone, and the test `every_method_has_a_rule` fails on it, so a
//! new RPC cannot ship without a rule.
//!
//! A supervisor or admin may also log in with their account's password from
//! a counter terminal or staff device (`staff`): the call's
//! `authorization: Bearer TOKEN` then makes it pass the table with the
//! account's role; a token that opens no session is refused
//! UNAUTHENTICATED / `STAFF_SESSION_INVALID`.
//!
//! Beyond the table, a counter terminal acts only for the window its clerk
//! logged in at from that terminal: the session token is bound to the
//! device (`counter::session_for`).
//!
//! With `--insecure-demo` there is no TLS and no certificate: every caller
//! is [`Caller::Demo`] and passes the table.

use super::staff::{StaffIdentity, StaffSessions};
use crate::pki::{Revocations, Role, Subject};
use hall_proto::errors::{ErrorReason as Reason, Refusal};
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::Code;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use Role::*;

/// Who may call a method.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// No certificate needed (the call itself proves what it needs).
    Anyone,
    /// A certificate of one of these roles.
    Roles(&'static [Role]),
}

/// Every role with a certificate: reading the hall's public state.
const ALL: &[Role] = &[Kiosk, Board, Counter, Supervisor, Admin, Pad];
const STAFF: &[Role] = &[Supervisor, Admin];

/// The role table: `(service, method, rule)` for every hall.v1 method.
/// Documented in README (Security) and docs/security.md; keep them equal.
pub const TABLE: &[(&str, &str, Rule)] = &[
    // Kiosks: take numbers, check in, book, follow a ticket, report their
    // printer and reader.
    (
        "KioskService",
        "GetCatalog",
        Rule::Roles(&[Kiosk, Supervisor, Admin]),
    ),
    ("KioskService", "IssueTicket", Rule::Roles(&[Kiosk])),
    ("KioskService", "CheckInAppointment", Rule::Roles(&[Kiosk])),
    ("KioskService", "BookAppointment", Rule::Roles(&[Kiosk])),
    (
        "KioskService",
        "GetTicketStatus",
        Rule::Roles(&[Kiosk, Counter, Supervisor, Admin]),
    ),
    (
        "KioskService",
        "CancelTicket",
        Rule::Roles(&[Kiosk, Supervisor, Admin]),
    ),
    (
        "KioskService",
        "ReportDevice",
        Rule::Roles(&[Kiosk, Board, Counter, Pad]),
    ),
    // Counter terminals: a clerk's work at a window (and only the window
    // that terminal's clerk logged in at).
    ("CounterService", "Login", Rule::Roles(&[Counter])),
    ("CounterService", "Logout", Rule::Roles(&[Counter])),
    ("CounterService", "Pause", Rule::Roles(&[Counter])),
    ("CounterService", "Resume", Rule::Roles(&[Counter])),
    ("CounterService", "CallNext", Rule::Roles(&[Counter])),
    ("CounterService", "CallTicket", Rule::Roles(&[Counter])),
    ("CounterService", "Recall", Rule::Roles(&[Counter])),
    ("CounterService", "StartService", Rule::Roles(&[Counter])),
    ("CounterService", "Finish", Rule::Roles(&[Counter])),
    ("CounterService", "NoShow", Rule::Roles(&[Counter])),
    ("CounterService", "Requeue", Rule::Roles(&[Counter])),
    ("CounterService", "Suspend", Rule::Roles(&[Counter])),
    ("CounterService", "CallBack", Rule::Roles(&[Counter])),
    ("CounterService", "Transfer", Rule::Roles(&[Counter])),
    ("CounterService", "SendToSite", Rule::Roles(&[Counter])),
    ("CounterService", "ListPeerSites", Rule::Roles(&[Counter])),
    ("CounterService", "GetMyQueue", Rule::Roles(&[Counter])),
    ("CounterService", "GetCatalog", Rule::Roles(&[Counter])),
    // The event stream: every screen follows it (boards only read).
    ("EventService", "Subscribe", Rule::Roles(ALL)),
    ("EventService", "Snapshot", Rule::Roles(ALL)),
    ("EventService", "GetScreen", Rule::Roles(ALL)),
    // Supervisors read reports and work follow-ups; admins also change
    // the configuration.
    ("AdminService", "GetCatalog", Rule::Roles(STAFF)),
    // The configuration document holds the clerks' PIN hashes: admins only.
    ("AdminService", "GetConfig", Rule::Roles(&[Admin])),
    ("AdminService", "UpdateConfig", Rule::Roles(&[Admin])),
    ("AdminService", "ListFollowUps", Rule::Roles(STAFF)),
    ("AdminService", "CloseFollowUp", Rule::Roles(STAFF)),
    ("AdminService", "GetDayReport", Rule::Roles(STAFF)),
    ("AdminService", "ForceLogout", Rule::Roles(STAFF)),
    ("AdminService", "CancelAppointment", Rule::Roles(STAFF)),
    ("AdminService", "GetServerStatus", Rule::Roles(STAFF)),
    ("AdminService", "ListAudit", Rule::Roles(STAFF)),
    ("AdminService", "WorkFollowUp", Rule::Roles(STAFF)),
    ("AdminService", "PauseWindow", Rule::Roles(STAFF)),
    ("AdminService", "CheckConfig", Rule::Roles(&[Admin])),
    ("AdminService", "GetCalendar", Rule::Roles(STAFF)),
    ("AdminService", "SearchTickets", Rule::Roles(STAFF)),
    ("AdminService", "GetTicketHistory", Rule::Roles(STAFF)),
    ("AdminService", "ListDevices", Rule::Roles(STAFF)),
    ("AdminService", "RevokeDevice", Rule::Roles(&[Admin])),
    ("ReportService", "GetReport", Rule::Roles(STAFF)),
    ("ReportService", "ExportRatings", Rule::Roles(STAFF)),
    // The rating pad: its own window only (checked in the handler).
    ("PadService", "GetPadState", Rule::Roles(&[Pad])),
    ("PadService", "Rate", Rule::Roles(&[Pad])),
    // A supervisor's or admin's password login, from a counter terminal or
    // a staff device (never a kiosk or board); the session's calls then
    // pass the table with the account's role.
    (
        "AdminService",
        "StaffLogin",
        Rule::Roles(&[Counter, Supervisor, Admin, Console]),
    ),
    (
        "AdminService",
        "StaffLogout",
        Rule::Roles(&[Counter, Supervisor, Admin, Console]),
    ),
    // A device with a pairing code and no certificate yet.
    ("DeviceService", "Redeem", Rule::Anyone),
];

/// The rule of a request path (`/hall.v1.KioskService/IssueTicket`).
/// `None`: a hall.v1 method without a rule (refused to everyone). Other
/// packages (health, reflection) answer anyone.
pub fn rule(path: &str) -> Option<Rule> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (service, method) = (parts.next()?, parts.next()?);
    let Some(service) = service.strip_prefix("hall.v1.") else {
        return Some(Rule::Anyone);
    };
    TABLE
        .iter()
        .find(|(s, m, _)| *s == service && *m == method)
        .map(|(_, _, r)| *r)
}

/// Who made a call, as the handlers see it (a request extension).
#[derive(Debug, Clone)]
pub enum Caller {
    /// A device or staff member with a valid hall certificate.
    Device(Subject),
    /// `--insecure-demo`: no TLS, no roles.
    Demo,
    /// No certificate (only `Rule::Anyone` methods get this far).
    Nobody,
}

impl Caller {
    /// The caller's device for lockout counts and logs: the certificate's
    /// id, or the peer address without one.
    pub fn device(&self, addr: Option<std::net::SocketAddr>) -> String {
        match self {
            Caller::Device(s) => s.id.clone(),
            _ => addr.map_or_else(|| "unknown".into(), |a| a.ip().to_string()),
        }
    }
}

/// The caller of a tonic request (set by [`Gate`]).
pub fn caller<T>(req: &tonic::Request<T>) -> Caller {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller::Nobody)
}

/// The device a clerk session made through this request is bound to: the
/// certificate's id ("" in demo mode).
pub fn session_device<T>(req: &tonic::Request<T>) -> String {
    match caller(req) {
        Caller::Device(s) => s.id,
        _ => String::new(),
    }
}

/// The caller of a call the web face makes in-process (`web`): the
/// identity it authenticated on its own connection.
#[derive(Debug, Clone)]
pub struct InProcessCaller(pub Caller);

/// The layer that applies the table: `Server::builder().layer(...)`.
#[derive(Clone, Debug)]
pub struct GateLayer {
    /// `None` with `--insecure-demo`.
    revocations: Option<Arc<Revocations>>,
    sessions: Arc<StaffSessions>,
}

impl GateLayer {
    pub fn new(revocations: Option<Arc<Revocations>>, sessions: Arc<StaffSessions>) -> GateLayer {
        GateLayer {
            revocations,
            sessions,
        }
    }
}

impl<S> tower::Layer<S> for GateLayer {
    type Service = Gate<S>;
    fn layer(&self, inner: S) -> Gate<S> {
        Gate {
            inner,
            revocations: self.revocations.clone(),
            sessions: self.sessions.clone(),
            subjects: Arc::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Gate<S> {
    inner: S,
    revocations: Option<Arc<Revocations>>,
    sessions: Arc<StaffSessions>,
    subjects: Arc<Subjects>,
}

/// Certificates already read, by their DER bytes: parsing one costs ~3 µs
/// (measured, `examples/tls_cost`), a lookup well under one. Keyed by the
/// bytes themselves, not by the connection, so a reused allocation can never
/// lend one device's identity to another.
#[derive(Debug, Default)]
struct Subjects(std::sync::Mutex<std::collections::HashMap<Vec<u8>, Option<Subject>>>);

impl Subjects {
    /// Devices of one hall: a few hundred at most; a flood of distinct
    /// certificates only empties the cache.
    const MAX: usize = 4096;

    fn get(&self, der: &[u8]) -> Option<Subject> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get(der) {
            return s.clone();
        }
        let s = crate::pki::subject_of(der);
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(der.to_vec(), s.clone());
        s
    }
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for Gate<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // A bench's simulated time (`--test-clock` only), before anything
        // reads the clock for this call.
        crate::test_clock::from_headers(req.headers());
        // A call the web face makes in-process carries the caller it
        // authenticated (no peer certificate reaches this layer then). Only
        // code in this process can put an extension on a request.
        let web = req.extensions_mut().remove::<InProcessCaller>();
        let caller = match (web, &self.revocations) {
            (Some(InProcessCaller(c)), _) => c,
            (None, revocations) => match revocations {
                None => Caller::Demo,
                Some(revoked) => {
                    let cert = req
                        .extensions()
                        .get::<TlsConnectInfo<TcpConnectInfo>>()
                        .and_then(|i| i.peer_certs())
                        .and_then(|certs| certs.first().and_then(|c| self.subjects.get(c)));
                    match cert {
                        Some(s) if !revoked.is_revoked(&s.serial) => Caller::Device(s),
                        Some(s) => {
                            tracing::warn!(device = %s.id, role = %s.role, serial = %s.serial, "call with a revoked certificate refused");
                            Caller::Nobody
                        }
                        None => Caller::Nobody,
                    }
                }
            },
        };
        let path = req.uri().path().to_string();
        let (caller, staff) = match self.staff_session(&path, req.headers(), caller) {
            Ok(c) => c,
            Err(status) => return Box::pin(async move { Ok(status.into_http()) }),
        };
        if let Err(status) = check(&path, &caller) {
            return Box::pin(async move { Ok(status.into_http()) });
        }
        req.extensions_mut().insert(caller.clone());
        if let Some(who) = &staff {
            req.extensions_mut().insert(who.clone());
        }
        let call = super::audit::Call {
            staff: staff.map(|s| s.account),
            caller,
            method: path
                .trim_start_matches('/')
                .trim_start_matches("hall.v1.")
                .to_string(),
        };
        // The handler runs inside this future: the audit trail reads who
        // is calling from the task-local.
        Box::pin(super::audit::CALL.scope(call, self.inner.call(req)))
    }
}

impl<S> Gate<S> {
    /// A staff session's token (`authorization: Bearer`) on a call from a
    /// counter terminal or staff device: the call then acts with the
    /// account's role and in its name. A token that opens no session is
    /// refused, not ignored: the caller meant to act as staff.
    fn staff_session(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        caller: Caller,
    ) -> Result<(Caller, Option<StaffIdentity>), tonic::Status> {
        let Caller::Device(s) = &caller else {
            return Ok((caller, None));
        };
        // Logging in and out carry no session; open methods need none.
        let exempt = path.ends_with("/StaffLogin")
            || path.ends_with("/StaffLogout")
            || matches!(rule(path), Some(Rule::Anyone));
        let Some(token) = super::staff::bearer(headers).filter(|_| !exempt) else {
            return Ok((caller, None));
        };
        let session = match s.role {
            Counter | Supervisor | Admin | Console => {
                self.sessions
                    .touch(token, &s.serial, std::time::Instant::now())
            }
            Kiosk | Board | Pad => Err(super::staff::Ended::OtherDevice),
        };
        match session {
            Ok(who) => {
                let elevated = Caller::Device(Subject {
                    role: who.role,
                    ..s.clone()
                });
                Ok((elevated, Some(who)))
            }
            Err(why) => {
                tracing::warn!(device = %s.id, why = why.as_str(), "staff session refused");
                Err(Refusal::new(
                    Code::Unauthenticated,
                    Reason::StaffSessionInvalid,
                    "the staff session has ended (idle, too old, logged out, account changed) or belongs to another device: log in again",
                )
                .into_status())
            }
        }
    }
}

/// The table's verdict on one call.
pub fn check(path: &str, caller: &Caller) -> Result<(), tonic::Status> {
    let method = path.trim_start_matches('/');
    let rule = rule(path);
    match (rule, caller) {
        (Some(Rule::Anyone), _) | (Some(_), Caller::Demo) => Ok(()),
        (Some(Rule::Roles(_)), Caller::Nobody) => Err(Refusal::new(
            Code::Unauthenticated,
            Reason::CertificateRequired,
            format!("{method} needs the client certificate of an enrolled device (mutual TLS)"),
        )
        .with("method", method)
        .into_status()),
        (Some(Rule::Roles(roles)), Caller::Device(s)) => {
            if roles.contains(&s.role) {
                Ok(())
            } else {
                Err(forbidden(method, Some(s.role), roles))
            }
        }
        (None, _) => Err(forbidden(method, None, &[])),
    }
}

fn forbidden(method: &str, role: Option<Role>, allowed: &[Role]) -> tonic::Status {
    let allowed: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    let role = role.map_or("none", Role::as_str);
    let article = if role.starts_with('a') { "an" } else { "a" };
    Refusal::new(
        Code::PermissionDenied,
        Reason::RoleForbidden,
        format!(
            "{article} {role} may not call {method} (allowed: {})",
            if allowed.is_empty() {
                "nobody".to_string()
            } else {
                allowed.join(", ")
            }
        ),
    )
    .with("method", method)
    .with("role", role)
    .with("allowed", allowed.join(","))
    .into_status()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every hall.v1 method of the descriptors has a rule, and every rule
    /// names a method that exists: a new RPC without a rule fails here.
    #[test]
    fn every_method_has_a_rule() {
        let pool = prost_reflect::DescriptorPool::decode(hall_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut methods = Vec::new();
        for s in pool.services() {
            for m in s.methods() {
                methods.push((s.name().to_string(), m.name().to_string()));
                let path = format!("/{}/{}", s.full_name(), m.name());
                assert!(rule(&path).is_some(), "{path} has no rule in roles::TABLE");
            }
        }
        for (s, m, _) in TABLE {
            assert!(
                methods.iter().any(|(ds, dm)| ds == s && dm == m),
                "roles::TABLE names {s}/{m}, which no service has"
            );
        }
        assert_eq!(methods.len(), TABLE.len(), "one rule per method");
    }

    #[test]
    fn refusals_name_the_method_and_the_roles() {
        let board = Caller::Device(Subject {
            role: Board,
            id: "board-1".into(),
            serial: "01".into(),
        });
        let e = check("/hall.v1.KioskService/IssueTicket", &board).unwrap_err();
        assert_eq!(e.code(), Code::PermissionDenied);
        assert!(
            e.message()
                .contains("a board may not call hall.v1.KioskService/IssueTicket (allowed: kiosk)"),
            "{}",
            e.message()
        );
        let e = check("/hall.v1.EventService/Subscribe", &Caller::Nobody).unwrap_err();
        assert_eq!(e.code(), Code::Unauthenticated);
        assert!(check("/hall.v1.EventService/Subscribe", &board).is_ok());
        assert!(check("/grpc.health.v1.Health/Check", &Caller::Nobody).is_ok());
        assert!(check("/hall.v1.DeviceService/Redeem", &Caller::Nobody).is_ok());
        assert!(check("/hall.v1.KioskService/NoSuchMethod", &Caller::Demo).is_err());
        assert!(check("/hall.v1.AdminService/UpdateConfig", &Caller::Demo).is_ok());
    }
}
