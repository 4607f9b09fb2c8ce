//! Client helpers shared by the kiosk, counter terminal, display board, the
//! simulator and the tests: connecting with backoff and fresh request ids.
//!
//! Not for domain logic: clients only speak the wire types of [`crate::v1`].

use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// A fresh client request id (random, 128 bits, hex). Reuse the same id when
/// retrying one logical request, so the server can answer it only once.
pub fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Connects to `url`, retrying with exponential backoff (100 ms doubling up
/// to `max_delay`) until `attempts` tries have failed.
pub async fn connect_with_backoff(
    url: &str,
    attempts: u32,
    max_delay: Duration,
) -> Result<Channel, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(url.to_string())?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true);
    let mut delay = Duration::from_millis(100);
    let mut tries = 0;
    loop {
        match endpoint.connect().await {
            Ok(ch) => return Ok(ch),
            Err(e) => {
                tries += 1;
                if tries >= attempts {
                    return Err(e);
                }
                tracing::debug!(error = %e, ?delay, "connect failed, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(max_delay);
            }
        }
    }
}
