//! DeviceService: a device redeems its one-time pairing code for a client
//! certificate signed by the hall CA (`pki`). Answered without a client
//! certificate; failed redeems count against the caller's address in the
//! same lockout as failed logins, so codes cannot be guessed at speed.

use super::*;

/// Records each revocation (`hall-server devices --revoke`, which appends to
/// `tls/revoked` beside a running server or a stopped one) in the audit
/// trail, once: the lines already recorded are counted in the store's meta
/// `revocations_audited`. Checks the file every second.
pub async fn audit_revocations(hub: Hub) {
    let path = hub.data_dir.join("tls").join("revoked");
    let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
    let mut seen_stamp = None;
    loop {
        every.tick().await;
        let stamp = std::fs::metadata(&path)
            .ok()
            .map(|m| (m.modified().ok(), m.len()));
        if stamp.is_none() || stamp == seen_stamp {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let done = hub
            .store
            .get_meta("revocations_audited")
            .ok()
            .flatten()
            .and_then(|v| v.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0) as usize;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut recorded = done;
        for line in lines.iter().skip(done) {
            // serial role id time
            let f: Vec<&str> = line.split_whitespace().collect();
            let (serial, role, id, when) = (
                f.first().copied().unwrap_or(""),
                f.get(1).copied().unwrap_or(""),
                f.get(2).copied().unwrap_or(""),
                f.get(3).copied().unwrap_or(""),
            );
            let record = crate::engine::AuditRecord {
                who: "hall-server devices --revoke".into(),
                role: "admin".into(),
                device: id.into(),
                action: "revoke certificate".into(),
                subject: format!("{role} {id}, certificate {serial}"),
                why: format!("revoked at {when}"),
                outcome: "ok".into(),
            };
            if let Err(e) = hub.record(record).await {
                tracing::warn!(error = %e, "revocation not recorded in the audit trail yet; tried again");
                break;
            }
            recorded += 1;
        }
        if recorded > done
            && let Err(e) = hub
                .store
                .set_meta("revocations_audited", &(recorded as u64).to_be_bytes())
        {
            tracing::warn!(error = %e, "count of audited revocations not saved");
        }
        if recorded == lines.len() {
            seen_stamp = stamp;
        }
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
