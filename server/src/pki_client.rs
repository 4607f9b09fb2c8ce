//! The device side of enrollment (`hall-server redeem`): a key made here,
//! a certificate request for it, the pairing code redeemed over TLS with
//! the hall CA pinned, and the three files a client connects with.

use anyhow::Context;
use hall_proto::v1 as pb;
use std::path::Path;

/// Redeems `code` at `server` and writes `out/device.pem`,
/// `out/device.key` (mode 0600) and `out/ca.pem`.
pub async fn redeem(
    server: &str,
    ca: &Path,
    code: &str,
    out: &Path,
) -> anyhow::Result<pb::RedeemResponse> {
    // The code is a credential: never over plaintext, where whoever
    // answers could redeem it first.
    if !server.starts_with("https://") {
        anyhow::bail!(
            "redeem needs an https:// server address (got '{server}'): the pairing code must not travel in plaintext"
        );
    }
    let ca_pem = std::fs::read_to_string(ca)
        .with_context(|| format!("reading the hall CA {}", ca.display()))?;
    let (key, csr_pem) = crate::pki::new_request("device")?;
    let tls = hall_proto::client::Tls {
        ca_pem: ca_pem.clone(),
        identity: None,
    };
    let channel =
        hall_proto::client::connect_tls(server, Some(&tls), 5, std::time::Duration::from_secs(1))
            .await
            .with_context(|| format!("connecting to {server}"))?;
    let resp = pb::device_service_client::DeviceServiceClient::new(channel)
        .redeem(pb::RedeemRequest {
            pairing_code: code.to_string(),
            csr_pem,
        })
        .await
        .map_err(|s| anyhow::anyhow!("{}: {}", s.code(), s.message()))
        .context("redeeming the pairing code")?
        .into_inner();
    crate::pki::Identity {
        cert_pem: resp.certificate_pem.clone(),
        key_pem: key.serialize_pem(),
        ca_pem: resp.ca_pem.clone(),
    }
    .write_to(out)?;
    Ok(resp)
}
