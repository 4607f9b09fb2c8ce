//! DeviceService: a device redeems its one-time pairing code for a client
//! certificate signed by the hall CA (`pki`). Answered without a client
//! certificate; failed redeems count against the caller's address in the
//! same lockout as failed logins, so codes cannot be guessed at speed.

use super::*;

/// Records each revocation (`hall-server devices --revoke`, which appends a
/// line to `tls/revoked` beside a running server or a stopped one) in the
/// audit trail, once: how many lines are recorded is kept in
/// `tls/revoked.audited` (a file of ours beside the list, not sled's meta,
/// which the writer's thread owns). Checks the file every second; a line
/// still being written (no newline yet) waits for the next check.
pub async fn audit_revocations(hub: Hub) {
    let tls = hub.data_dir.join("tls");
    let list = tls.join("revoked");
    let count_file = tls.join("revoked.audited");
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut seen_stamp = None;
    loop {
        every.tick().await;
        let stamp = std::fs::metadata(&list)
            .ok()
            .map(|m| (m.modified().ok(), m.len()));
        if stamp.is_none() || stamp == seen_stamp {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&list) else {
            continue;
        };
        let done: usize = std::fs::read_to_string(&count_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0);
        let lines: Vec<&str> = text
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n') && !l.trim().is_empty())
            .collect();
        let mut recorded = done;
        for line in lines.iter().skip(done) {
            // serial role id time
            let f: Vec<&str> = line.split_whitespace().collect();
            let field = |i: usize| f.get(i).copied().unwrap_or("");
            let record = crate::engine::AuditRecord {
                who: "hall-server devices --revoke".into(),
                role: "admin".into(),
                device: String::new(),
                action: "revoke certificate".into(),
                subject: format!("{} {}, certificate {}", field(1), field(2), field(0)),
                why: format!("revoked at {}", field(3)),
                outcome: "ok".into(),
            };
            if let Err(e) = hub.record(record).await {
                tracing::warn!(error = %e, "revocation not recorded in the audit trail yet; tried again");
                break;
            }
            recorded += 1;
        }
        if recorded > done {
            let tmp = count_file.with_extension("tmp");
            let saved = std::fs::write(&tmp, format!("{recorded}\n"))
                .and_then(|()| std::fs::rename(&tmp, &count_file));
            if let Err(e) = saved {
                tracing::warn!(error = %e, "count of audited revocations not saved");
            }
        }
        if recorded == lines.len() {
            seen_stamp = stamp;
        }
    }
}

/// A browser paired as a hall device (the data screen on a wall): its
/// pairing code claimed like a device's, a certificate issued and kept
/// under `tls/devices/` so `hall-server devices` lists it and `--revoke`
/// ends it, and the browser given a signed cookie naming that certificate
/// (it never does TLS client authentication itself).
#[derive(Debug, Clone)]
pub struct PairedBrowser {
    pub subject: crate::pki::Subject,
    /// Unix ms after which the cookie is refused (the certificate's end).
    pub expires_ms: i64,
}

/// The cookie a paired browser carries: `v1~ROLE~ID~SERIAL~EXPIRES~MAC`
/// (`~` is in no role, id or serial). The `__Host-` prefix makes a browser
/// keep it only as set here: Secure, for this host alone, path `/`.
pub const DEVICE_COOKIE: &str = "__Host-hall_device";

fn cookie_mac(key: &[u8], role: &str, id: &str, serial: &str, expires: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in ["hall web device v1", role, id, serial, &expires.to_string()] {
        mac.update(part.as_bytes());
        mac.update(b"\0");
    }
    hex::encode(&mac.finalize().into_bytes()[..16])
}

impl Hub {
    /// Pairs a browser with a one-time pairing code made for a `board` (a
    /// screen; kiosks and counter terminals are devices with certificates
    /// of their own, and staff log in with their passwords). Failures count
    /// in the same lockout as redeems, by the browser's address.
    pub async fn pair_browser(&self, code: &str, from: &str) -> Result<PairedBrowser, Status> {
        let Some(ca) = self.ca.clone() else {
            return Err(refusal(
                Code::FailedPrecondition,
                Reason::PairingCodeInvalid,
                "this server runs with --insecure-demo: pages need no pairing",
            ));
        };
        let keys = [format!("redeem:{from}")];
        let now = std::time::Instant::now();
        if let Err(l) = self.lockout.begin(&keys, now) {
            return Err(counter::locked_out(&l, now));
        }
        let data_dir = self.data_dir.clone();
        let code = code.to_string();
        let issued = tokio::task::spawn_blocking(move || {
            // Only a screen's code: looked at before it is used up, so a
            // kiosk's or a supervisor's code typed here stays good for its
            // own device (staff log in with their passwords instead).
            if crate::pki::pairing_role(&data_dir, &code) != Some(crate::pki::Role::Board) {
                return Err(crate::pki::Error::BadCode);
            }
            let (role, id) = crate::pki::claim(&data_dir, &code, std::time::SystemTime::now())?;
            if role != crate::pki::Role::Board {
                return Err(crate::pki::Error::BadCode);
            }
            let identity = ca.issue(role, &id, -1, crate::pki::DEVICE_DAYS)?;
            Ok::<_, crate::pki::Error>(identity)
        })
        .await
        .map_err(|e| Status::internal(format!("pairing: {e}")))?;
        let now = std::time::Instant::now();
        let subject = match issued.map(|i| {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            CertificateDer::from_pem_slice(i.cert_pem.as_bytes())
                .ok()
                .and_then(|der| crate::pki::subject_of(&der))
        }) {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Err(Status::internal(
                    "the issued certificate does not read back",
                ));
            }
            Err(e) => {
                self.lockout.failed(&keys, now);
                tracing::warn!(from, error = %e, "browser pairing refused");
                return Err(refusal(
                    Code::PermissionDenied,
                    Reason::PairingCodeInvalid,
                    "the pairing code is unknown, used, expired, or not a screen's (--role board)",
                ));
            }
        };
        self.lockout.succeeded(&keys, now);
        let record = crate::engine::AuditRecord {
            who: subject.id.clone(),
            role: subject.role.to_string(),
            device: subject.id.clone(),
            action: "web/pair".into(),
            subject: format!(
                "{} {} paired as a browser from {from}",
                subject.role, subject.id
            ),
            outcome: "ok".into(),
            ..Default::default()
        };
        if let Err(e) = self.record(record).await {
            tracing::warn!(device = %subject.id, error = %e, "browser pairing not recorded in the audit trail");
        }
        tracing::info!(role = %subject.role, device = %subject.id, from, "browser paired");
        Ok(PairedBrowser {
            subject,
            expires_ms: crate::now_ms() + crate::pki::DEVICE_DAYS * 86_400_000,
        })
    }

    /// The cookie value for a paired browser.
    pub fn browser_cookie(&self, p: &PairedBrowser) -> String {
        let s = &p.subject;
        let role = s.role.as_str();
        let mac = cookie_mac(&self.secret, role, &s.id, &s.serial, p.expires_ms);
        format!("v1~{role}~{}~{}~{}~{mac}", s.id, s.serial, p.expires_ms)
    }

    /// The paired browser a cookie value names, if its signature holds and
    /// it has not expired (revocation is checked per request by serial).
    pub fn browser_from_cookie(&self, value: &str) -> Option<crate::pki::Subject> {
        use subtle::ConstantTimeEq;
        let parts: Vec<&str> = value.split('~').collect();
        let ["v1", role, id, serial, expires, mac] = parts[..] else {
            return None;
        };
        let expires: i64 = expires.parse().ok()?;
        let want = cookie_mac(&self.secret, role, id, serial, expires);
        if !bool::from(want.as_bytes().ct_eq(mac.as_bytes())) || expires < crate::now_ms() {
            return None;
        }
        Some(crate::pki::Subject {
            role: role.parse().ok()?,
            id: id.to_string(),
            serial: serial.to_string(),
        })
    }
}

#[tonic::async_trait]
impl pb::device_service_server::DeviceService for Hub {
    async fn redeem(
        &self,
        req: Req<pb::RedeemRequest>,
    ) -> Result<Response<pb::RedeemResponse>, Status> {
        let device = roles::caller(&req).device(req.remote_addr());
        let r = limits::checked(req)?;
        let Some(ca) = self.ca.clone() else {
            return Err(refusal(
                Code::FailedPrecondition,
                Reason::PairingCodeInvalid,
                "this server runs with --insecure-demo: no certificates to hand out",
            ));
        };
        let keys = [format!("redeem:{device}")];
        let now = std::time::Instant::now();
        if let Err(l) = self.lockout.begin(&keys, now) {
            return Err(counter::locked_out(&l, now));
        }
        let data_dir = self.data_dir.clone();
        let signed = tokio::task::spawn_blocking(move || {
            // A malformed request is refused before the code is used up.
            crate::pki::read_csr(&r.csr_pem)?;
            let (role, id) =
                crate::pki::claim(&data_dir, &r.pairing_code, std::time::SystemTime::now())?;
            let cert = ca.sign_csr(&r.csr_pem, role, &id)?;
            Ok::<_, crate::pki::Error>((role, id, cert, ca.ca_pem.clone()))
        })
        .await
        .map_err(|e| Status::internal(format!("signing: {e}")))?;
        let now = std::time::Instant::now();
        match signed {
            Ok((role, id, cert, ca_pem)) => {
                self.lockout.succeeded(&keys, now);
                // The certificate is issued and the code used: the device gets
                // it even if the record cannot be written (the log says so).
                if let Err(e) = self
                    .audit(format!("{role} {id} enrolled from {device}"), "")
                    .await
                {
                    tracing::warn!(%role, device = %id, error = %e, "enrollment not recorded in the audit trail");
                }
                tracing::info!(%role, device = %id, from = %device, "device enrolled: certificate issued");
                Ok(Response::new(pb::RedeemResponse {
                    certificate_pem: cert,
                    ca_pem,
                    role: role.to_string(),
                    device_id: id,
                }))
            }
            Err(e) => {
                self.lockout.failed(&keys, now);
                tracing::warn!(from = %device, error = %e, "pairing refused");
                Err(match e {
                    crate::pki::Error::BadCsr(_) => {
                        Refusal::invalid_field("csr_pem", e.to_string()).into_status()
                    }
                    crate::pki::Error::BadCode => refusal(
                        Code::PermissionDenied,
                        Reason::PairingCodeInvalid,
                        e.to_string(),
                    ),
                    other => Status::internal(other.to_string()),
                })
            }
        }
    }
}
