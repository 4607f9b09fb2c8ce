//! The counter terminal's controller: a session on one window and every
//! clerk action, over gRPC. After each action it re-reads the window's queue
//! (`GetMyQueue`), so the screen always shows the server's truth; after a
//! reconnect (or a server restart) the same session finds its current ticket.
//! [`drive`] runs a terminal from the core's inputs (keys, buttons and the
//! event stream through [`StreamToCore`]).

use crate::core::{Action, Effect, Input};
use hall_client::follow::Connection;
use hall_client::texts::Lang;
use hall_client::time::HallZone;
use hall_proto::v1 as pb;
use hall_proto::v1::counter_service_client::CounterServiceClient;
use std::collections::HashMap;
use tonic::transport::Channel;

/// What a category means to the clerk: its name and its guidance.
#[derive(Debug, Clone, Default)]
pub struct CategoryInfo {
    pub name: String,
    pub materials: Vec<String>,
}

/// Everything the screen shows.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub session: Option<pb::Session>,
    pub queue: Option<pb::MyQueue>,
    pub categories: HashMap<String, CategoryInfo>,
    pub connected: bool,
    pub message: String,
    pub message_is_error: bool,
    /// The ticket just finished, waiting for the citizen's rating on the
    /// window's pad (评价器); cleared when the rating arrives.
    pub rating_for: Option<String>,
    pub login_error: String,
    /// The event stream's connection (none before the first report).
    pub stream: Option<Connection>,
    /// When the core last asked for a queue read because of events (ms).
    pub last_read_ms: Option<i64>,
    /// A queue read the core deferred to coalesce a burst of events: due
    /// at this time (ms); the runner sends `Input::Due` then.
    pub read_due_ms: Option<i64>,
    /// The hall's time zone, from the catalogue.
    pub zone: HallZone,
    /// The site's name (its catalogue's hall name): the tab of a terminal
    /// working at several sites.
    pub hall_name: String,
    /// The other sites of the network and their categories, as last read
    /// for the 跨区域通办 dialog.
    pub peers: Vec<pb::PeerSite>,
    /// The last `ListPeerSites` asked for has answered (or failed).
    pub peers_loaded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Category(String),
    Window(u32),
}

pub struct Terminal {
    counter: CounterServiceClient<Channel>,
    pub state: State,
    /// `GetMyQueue` calls made so far (how often the window's queue is read).
    pub queue_reads: u64,
}

/// The refusal of an action without a session, typed like the server's.
fn no_session() -> tonic::Status {
    hall_proto::errors::refusal(tonic::Code::FailedPrecondition, hall_proto::errors::ErrorReason::NoSession, "not logged in")
}

/// A server refusal in words a clerk understands (the shared table).
pub fn plain(status: &tonic::Status) -> String {
    hall_client::texts::refusal(status, Lang::Zh)
}

impl Terminal {
    pub async fn connect(url: &str) -> anyhow::Result<Terminal> {
        let ch = hall_proto::client::connect_with_backoff(url, 20, std::time::Duration::from_secs(2)).await?;
        let mut t = Terminal {
            counter: CounterServiceClient::new(ch),
            state: State { connected: true, ..Default::default() },
            queue_reads: 0,
        };
        t.load_catalog().await;
        Ok(t)
    }

    /// Points the terminal at a (restarted) server, keeping the session.
    pub async fn reconnect(&mut self, url: &str) -> anyhow::Result<()> {
        let ch = hall_proto::client::connect_with_backoff(url, 20, std::time::Duration::from_secs(2)).await?;
        self.counter = CounterServiceClient::new(ch);
        self.state.connected = true;
        self.load_catalog().await;
        self.refresh().await;
        Ok(())
    }

    async fn load_catalog(&mut self) {
        // Through the counter's own service: a hall that gates kiosks with
        // device tokens must not hide category names from its clerks.
        let req = pb::WindowRequest { session: self.state.session.clone() };
        if let Ok(c) = self.counter.get_catalog(req).await {
            let c = c.into_inner();
            self.state.zone = HallZone::of(&c);
            self.state.hall_name = c.hall_name_zh.clone();
            for cat in c.categories {
                let materials = cat.guidance.map(|g| g.materials).unwrap_or_default();
                self.state.categories.insert(cat.code.clone(), CategoryInfo { name: cat.name_zh.clone(), materials });
            }
            for b in c.bundles {
                self.state.categories.insert(b.code.clone(), CategoryInfo { name: b.name_zh.clone(), materials: vec![] });
            }
        }
    }

    pub fn category_name(&self, code: &str) -> String {
        self.state.categories.get(code).map(|c| c.name.clone()).unwrap_or_else(|| code.to_string())
    }

    pub async fn login(&mut self, window: u32, clerk: &str, pin: &str) -> bool {
        let req = pb::LoginRequest { window, clerk_id: clerk.trim().into(), pin: pin.into() };
        match self.counter.login(req).await {
            Ok(r) => {
                self.state.session = r.into_inner().session;
                self.state.login_error.clear();
                self.refresh().await;
                true
            }
            Err(s) => {
                self.state.login_error = plain(&s);
                false
            }
        }
    }

    fn session(&self) -> Result<pb::Session, tonic::Status> {
        self.state.session.clone().ok_or_else(no_session)
    }

    fn win(&self) -> Result<pb::WindowRequest, tonic::Status> {
        Ok(pb::WindowRequest { session: Some(self.session()?) })
    }

    /// Re-reads the window's queue.
    pub async fn refresh(&mut self) {
        let Ok(req) = self.win() else { return };
        self.queue_reads += 1;
        match self.counter.get_my_queue(req).await {
            Ok(q) => {
                self.state.queue = Some(q.into_inner());
                self.state.connected = true;
            }
            Err(s) => {
                if s.code() == tonic::Code::Unavailable {
                    self.state.connected = false;
                }
                self.report(Err(s));
            }
        }
    }

    fn report(&mut self, r: Result<String, tonic::Status>) {
        match r {
            Ok(m) => {
                self.state.message = m;
                self.state.message_is_error = false;
            }
            Err(s) => {
                if matches!(s.code(), tonic::Code::Unavailable | tonic::Code::Cancelled) {
                    self.state.connected = false;
                }
                self.state.message = plain(&s);
                self.state.message_is_error = true;
            }
        }
    }

    /// One action by name (`call-next`, `recall`, …: [`Action::name`]).
    pub async fn act(&mut self, action: &str) -> bool {
        match Action::from_name(action) {
            Some(a) => self.run(a).await,
            None => {
                self.report(Err(tonic::Status::invalid_argument(format!("unknown action {action}"))));
                false
            }
        }
    }

    /// Runs one action, then re-reads the queue.
    pub async fn run(&mut self, action: Action) -> bool {
        let r = self.do_act(action).await;
        let ok = r.is_ok();
        self.report(r);
        if action != Action::Logout {
            self.refresh().await;
        }
        ok
    }

    /// Runs one effect of the core ([`crate::core::update`]).
    pub async fn apply(&mut self, effect: Effect, url: &str) {
        match effect {
            Effect::Act(a) => {
                self.run(a).await;
            }
            Effect::Login { window, clerk, pin } => {
                self.login(window, &clerk, &pin).await;
            }
            Effect::CallTicket(n) => {
                self.call_ticket(&n).await;
            }
            Effect::CallBack(n) => {
                self.call_back(&n).await;
            }
            Effect::Transfer(target, with_return) => {
                self.transfer(target, with_return).await;
            }
            Effect::LoadPeers => self.load_peers().await,
            Effect::SendToSite { site, category } => {
                self.send_to_site(&site, &category).await;
            }
            Effect::Refresh => self.refresh().await,
            Effect::Reconnect => {
                if let Err(e) = self.reconnect(url).await {
                    tracing::debug!(error = %e, "reconnecting");
                }
            }
        }
    }

    async fn do_act(&mut self, action: Action) -> Result<String, tonic::Status> {
        let c = &mut self.counter;
        let win = || -> Result<pb::WindowRequest, tonic::Status> {
            Ok(pb::WindowRequest { session: Some(self.state.session.clone().ok_or_else(no_session)?) })
        };
        let session = self.state.session.clone();
        Ok(match action {
            Action::CallNext => {
                let t = c.call_next(win()?).await?.into_inner();
                format!("已呼叫 {}：{}", t.number, t.call_reason)
            }
            Action::Recall => format!("已重呼 {}", c.recall(win()?).await?.into_inner().number),
            Action::Start => format!("开始办理 {}", c.start_service(win()?).await?.into_inner().number),
            Action::Finish | Action::Unresolved => {
                let resolved = action == Action::Finish;
                let req = pb::FinishRequest {
                    session,
                    outcome: if resolved { pb::FinishOutcome::Resolved } else { pb::FinishOutcome::Unresolved } as i32,
                    unresolved_reason: if resolved { String::new() } else { "需补充材料，待回访".into() },
                    ..Default::default()
                };
                let t = c.finish(req).await?.into_inner();
                self.state.rating_for = Some(t.number.clone());
                if resolved { format!("{} 已办结，请办事人在评价器上评价", t.number) } else { format!("{} 未办结，已生成回访事项", t.number) }
            }
            Action::NoShow => format!("{} 已过号", c.no_show(win()?).await?.into_inner().number),
            Action::Suspend => {
                let t = c.suspend(pb::SuspendRequest { session, reason: "补充材料".into() }).await?.into_inner();
                format!("{} 已挂起，可随时回呼", t.number)
            }
            Action::Pause => {
                c.pause(pb::PauseRequest { session, reason: "暂离".into() }).await?;
                "已暂停服务".into()
            }
            Action::Resume => {
                c.resume(win()?).await?;
                "已恢复服务".into()
            }
            Action::Logout => {
                c.logout(win()?).await?;
                self.state.session = None;
                self.state.queue = None;
                "已退出登录".into()
            }
        })
    }

    /// Calls a chosen waiting ticket.
    pub async fn call_ticket(&mut self, number: &str) -> bool {
        self.ticket_action(number, false).await
    }

    /// Calls back a suspended ticket (回呼).
    pub async fn call_back(&mut self, number: &str) -> bool {
        self.ticket_action(number, true).await
    }

    async fn ticket_action(&mut self, number: &str, back: bool) -> bool {
        let r = match self.session() {
            Ok(s) => {
                let req = pb::TicketRequest { session: Some(s), number: number.into() };
                let res = if back { self.counter.call_back(req).await } else { self.counter.call_ticket(req).await };
                res.map(|t| format!("{} {}", if back { "已回呼" } else { "已呼叫" }, t.into_inner().number))
            }
            Err(e) => Err(e),
        };
        let ok = r.is_ok();
        self.report(r);
        self.refresh().await;
        ok
    }

    /// Reads the other sites' categories (`ListPeerSites`) for the dialog.
    pub async fn load_peers(&mut self) {
        let r = match self.win() {
            Ok(req) => self.counter.list_peer_sites(req).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(p) => self.state.peers = p.into_inner().sites,
            Err(s) => {
                self.state.peers.clear();
                self.report(Err(s));
            }
        }
        self.state.peers_loaded = true;
    }

    /// 跨区域通办: the current ticket to `category` at `site`; the ticket
    /// here closes only once that site has issued its own.
    pub async fn send_to_site(&mut self, site: &str, category: &str) -> bool {
        let r = match self.session() {
            Ok(s) => self
                .counter
                .send_to_site(pb::SendToSiteRequest { session: Some(s), site: site.into(), category: category.into() })
                .await
                .map(|r| {
                    let r = r.into_inner();
                    let here = r.ticket.map(|t| t.number).unwrap_or_default();
                    let there = r.there.map(|t| t.number).unwrap_or_default();
                    let name = self.state.peers.iter().find(|p| p.site == site).map(|p| p.name.clone()).unwrap_or_else(|| site.to_string());
                    format!("{here} 已转至{name}办理，对方号码 {there}")
                }),
            Err(e) => Err(e),
        };
        let ok = r.is_ok();
        self.report(r);
        self.refresh().await;
        ok
    }

    pub async fn transfer(&mut self, target: Target, with_return: bool) -> bool {
        let r = match self.session() {
            Ok(s) => {
                let target = match target {
                    Target::Category(c) => pb::transfer_request::Target::Category(c),
                    Target::Window(w) => pb::transfer_request::Target::Window(w),
                };
                self.counter
                    .transfer(pb::TransferRequest { session: Some(s), target: Some(target), with_return, reason: String::new() })
                    .await
                    .map(|t| {
                        let t = t.into_inner();
                        if with_return { format!("{} 已转移，办完后回到本窗口", t.number) } else { format!("{} 已转移", t.number) }
                    })
            }
            Err(e) => Err(e),
        };
        let ok = r.is_ok();
        self.report(r);
        self.refresh().await;
        ok
    }
}

/// The event stream into the core: every event, stamped with the time (the
/// core decides whether it touches this window), and every change of the
/// connection. A gap in the stream (a fresh snapshot) counts as a reconnect.
pub struct StreamToCore {
    tx: tokio::sync::mpsc::UnboundedSender<Input>,
    snapshots: u32,
}

impl StreamToCore {
    pub fn new(tx: tokio::sync::mpsc::UnboundedSender<Input>) -> StreamToCore {
        StreamToCore { tx, snapshots: 0 }
    }
}

impl hall_client::follow::Handler for StreamToCore {
    fn snapshot(&mut self, _snapshot: &pb::BoardState) {
        self.snapshots += 1;
        if self.snapshots > 1 {
            let _ = self.tx.send(Input::Stream(Connection::Connected));
        }
    }
    fn event(&mut self, event: &pb::Event) {
        let _ = self.tx.send(Input::Event { event: Box::new(event.clone()), now_ms: hall_client::time::now_ms() });
    }
    fn connection(&mut self, state: Connection) {
        let _ = self.tx.send(Input::Stream(state));
    }
    fn finished(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Runs `term` from `inputs` until they end: each input through the core,
/// its effects over gRPC, then `push` (the screen). A read the core deferred
/// to coalesce events is made when it is due.
pub async fn drive(
    term: &mut Terminal,
    url: &str,
    inputs: &mut tokio::sync::mpsc::UnboundedReceiver<Input>,
    mut push: impl FnMut(&Terminal),
) {
    loop {
        let due = term.state.read_due_ms.map(|d| {
            let wait = (d - hall_client::time::now_ms()).max(0) as u64;
            tokio::time::Instant::now() + std::time::Duration::from_millis(wait)
        });
        let input = tokio::select! {
            i = inputs.recv() => match i {
                Some(i) => i,
                None => return,
            },
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => {
                Input::Due { now_ms: hall_client::time::now_ms().max(term.state.read_due_ms.unwrap_or(0)) }
            }
        };
        let effects = crate::core::update(&mut term.state, input);
        let acted = !effects.is_empty();
        for effect in effects {
            term.apply(effect, url).await;
        }
        if acted {
            push(term);
        }
    }
}
