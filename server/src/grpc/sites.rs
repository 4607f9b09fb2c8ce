//! 跨区域通办 between the sites of a district's network: a clerk sends the
//! window's current ticket to a category at another site (`[[peers]]`).
//!
//! The sending hall first asks the other site for a ticket
//! (`KioskService.IssueTicket` with `origin`, as the kiosk
//! `peer-<this site's id>` enrolled there), with a request id derived from
//! this ticket, the target site and the category: a retry after a lost
//! answer or a restart gets the same ticket there, never a second. Only
//! then is the ticket closed here (`Command::SendToSite`, the other site's
//! number in `sent_to`). If the other site is unreachable or refuses, the
//! ticket stays at the window and the clerk is told why.
//!
//! The receiving hall accepts an `origin` only from the certificate
//! `peer-<origin.site>` and issues the ticket without an identity (the
//! origin checked it), recording `from_site`.

use super::*;
use crate::grpc::roles::Caller;
use crate::pki::Role;
use hall_engine::SiteTicket;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// One call to another site, connection included.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);
/// Listing the peers' categories: a clerk waits for the dialog, so a site
/// that does not answer soon is shown unreachable.
const LIST_TIMEOUT: Duration = Duration::from_secs(3);

/// The other site's kiosk service, as this site's kiosk `peer-<id>` there.
async fn peer_kiosk(
    peer: &hall_engine::site::Peer,
) -> Result<pb::kiosk_service_client::KioskServiceClient<tonic::transport::Channel>, String> {
    let tls = if peer.url.starts_with("https://") {
        Some(
            hall_proto::client::Tls::from_dir(std::path::Path::new(&peer.tls_dir))
                .map_err(|e| format!("credentials in {}: {e}", peer.tls_dir))?,
        )
    } else {
        None
    };
    let ch =
        hall_proto::client::connect_tls(&peer.url, tls.as_ref(), 2, Duration::from_millis(500))
            .await
            .map_err(|e| e.to_string())?;
    Ok(pb::kiosk_service_client::KioskServiceClient::new(ch))
}

impl Hub {
    /// `IssueTicket` with an origin: another site sends a ticket here.
    pub(super) async fn issue_from_site(
        &self,
        caller: &Caller,
        rid: String,
        category: String,
        origin: pb::SiteTicket,
    ) -> Result<Response<pb::Ticket>, Status> {
        let allowed = match caller {
            Caller::Demo => true,
            Caller::Device(s) => s.role == Role::Kiosk && s.id == format!("peer-{}", origin.site),
            Caller::Nobody => false,
        };
        if !allowed {
            return Err(refusal(
                Code::PermissionDenied,
                Reason::RoleForbidden,
                "only the site itself (its kiosk certificate peer-<site id>) sends a ticket with an origin",
            ));
        }
        // Scoped by the sending site: one site's request ids never meet
        // another's (or a kiosk's).
        let rid = format!("{}:{}", origin.site, request_id(rid)?);
        let cmd = Command::IssueFromSite {
            request_id: rid.clone(),
            code: category,
            from: SiteTicket {
                site: origin.site,
                number: origin.number,
                category: origin.category,
            },
        };
        self.ask(Some(cmd), render_request(rid))
            .await
            .map(Response::new)
    }

    /// `CounterService.ListPeerSites`: every peer's categories, asked of
    /// all peers at once, each within [`LIST_TIMEOUT`].
    pub(super) async fn peer_sites(
        &self,
        dev: &str,
        r: pb::WindowRequest,
    ) -> Result<Response<pb::PeerSites>, Status> {
        let s = session(dev, r.session)?;
        let peers = self
            .read(move |h, _, _| {
                logged_in(h, &s)?;
                Ok(h.catalog.peers.clone())
            })
            .await?
            .into_inner();
        let asks: Vec<_> = peers
            .into_iter()
            .map(|peer| {
                tokio::spawn(async move {
                    let read = tokio::time::timeout(LIST_TIMEOUT, async {
                        let mut k = peer_kiosk(&peer).await?;
                        k.get_catalog(pb::GetCatalogRequest {})
                            .await
                            .map(|c| c.into_inner())
                            .map_err(|e| e.message().to_string())
                    })
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!("no answer within {} s", LIST_TIMEOUT.as_secs()))
                    });
                    match read {
                        Ok(c) => pb::PeerSite {
                            site: peer.site,
                            name: if c.hall_name_zh.is_empty() {
                                peer.name
                            } else {
                                c.hall_name_zh
                            },
                            reachable: true,
                            error: String::new(),
                            categories: c
                                .categories
                                .into_iter()
                                .map(|c| pb::PeerCategory {
                                    code: c.code,
                                    name_zh: c.name_zh,
                                    name_en: c.name_en,
                                    waiting: c.waiting,
                                    estimated_wait_min: c.estimated_wait_min,
                                    open_now: c.open_now,
                                })
                                .collect(),
                        },
                        Err(why) => pb::PeerSite {
                            site: peer.site,
                            name: peer.name,
                            reachable: false,
                            error: why,
                            categories: vec![],
                        },
                    }
                })
            })
            .collect();
        let mut sites = Vec::with_capacity(asks.len());
        for ask in asks {
            sites.push(
                ask.await
                    .map_err(|e| Status::internal(format!("asking a site: {e}")))?,
            );
        }
        Ok(Response::new(pb::PeerSites { sites }))
    }

    /// `CounterService.SendToSite`.
    pub(super) async fn send_ticket_to_site(
        &self,
        dev: &str,
        r: pb::SendToSiteRequest,
    ) -> Result<Response<pb::SendToSiteResponse>, Status> {
        let s = session(dev, r.session)?;
        let (window, held, site, category) = (s.window, s.clone(), r.site, r.category);
        let to_site = site.clone();
        // The window's current ticket, for a session that holds it, and the
        // peer's address: read before anything is asked of the other site.
        let (me, ticket, peer) = self
            .read(move |h, _, _| {
                let rt = logged_in(h, &held)?;
                let t = rt
                    .current
                    .and_then(|id| h.ticket(id))
                    .ok_or_else(|| status(EngineError::NoCurrentTicket(window).into()))?;
                let peer = h
                    .catalog
                    .peers
                    .iter()
                    .find(|p| p.site == to_site)
                    .cloned()
                    .ok_or_else(|| {
                        Refusal::invalid_field(
                            "site",
                            format!(
                                "'{}' is not a site of this hall's network",
                                hall_proto::errors::echo(&to_site)
                            ),
                        )
                        .into_status()
                    })?;
                Ok((h.catalog.site.id.clone(), t.clone(), peer))
            })
            .await?
            .into_inner();
        let rid = {
            let mut d = Sha256::new();
            for part in [me.as_str(), &ticket.id.to_string(), &site, &category] {
                d.update(part.as_bytes());
                d.update([0]);
            }
            format!("xs-{}", &hex::encode(d.finalize())[..32])
        };
        let unreachable = |why: String| {
            tracing::warn!(site = %site, error = %why, "跨区域通办: the other site did not answer");
            Refusal::new(
                Code::Unavailable,
                Reason::SiteUnreachable,
                format!(
                    "{site} cannot be reached: {}",
                    hall_proto::errors::echo(&why)
                ),
            )
            .with("site", &site)
            .into_status()
        };
        let request = pb::IssueTicketRequest {
            request_id: rid,
            category: category.clone(),
            origin: Some(pb::SiteTicket {
                site: me,
                number: ticket.number.clone(),
                category: ticket.queue.clone(),
            }),
            ..Default::default()
        };
        let asked = tokio::time::timeout(PEER_TIMEOUT, async {
            peer_kiosk(&peer)
                .await
                .map_err(unreachable)?
                .issue_ticket(request)
                .await
                .map_err(|e| {
                    if matches!(e.code(), Code::Unavailable | Code::DeadlineExceeded) {
                        unreachable(e.message().to_string())
                    } else {
                        // The other site's own refusal (an unknown category,
                        // a quota, closed): its reason, with its name.
                        let mut r = Refusal::from_status(&e);
                        r.message = format!("{site}: {}", r.message);
                        r.with("site", &site).into_status()
                    }
                })
        })
        .await
        .map_err(|_| unreachable("no answer within 10 s".into()))??;
        let there = asked.into_inner();
        let to = SiteTicket {
            site: site.clone(),
            number: there.number.clone(),
            category: category.clone(),
        };
        tracing::info!(site = %site, number = %there.number, "跨区域通办: sent");
        // Closes this ticket only: if the window moved on while the other
        // site answered, the engine refuses.
        let cmd = Command::SendToSite {
            session: s,
            ticket: ticket.id,
            to: to.clone(),
        };
        let ticket = self.ask(Some(cmd), Box::new(render_subject)).await?;
        Ok(Response::new(pb::SendToSiteResponse {
            ticket: Some(ticket),
            there: Some(convert::site_ticket(&to)),
        }))
    }
}
