//! DeviceService: a device redeems its one-time pairing code for a client
//! certificate signed by the hall CA (`pki`). Answered without a client
//! certificate; failed redeems count against the caller's address in the
//! same lockout as failed logins, so codes cannot be guessed at speed.

use super::*;

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
