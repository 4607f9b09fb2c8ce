//! One terminal at several sites (三级协同): a district clerk who also
//! staffs a community station's remote window keeps a session at each
//! site and switches between them on the screen.
//!
//! Each site runs on its own: its own [`Terminal`] (gRPC connection,
//! session, queue), its own event stream and its own [`crate::core`] state,
//! so a site that is down or slow never holds up another. [`Sites`] only
//! routes the clerk's keys and buttons to the site on screen and keeps
//! every site's last state for the tabs (name, window, waiting count).

use crate::core::Input;
use crate::terminal::{State, StreamToCore, Terminal, drive};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// What a site's tab says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    pub name: String,
    /// "12号窗口 · 等候 5 人", "未登录" or "连接中断".
    pub detail: String,
    pub active: bool,
    /// Someone waits at a site the clerk is not looking at.
    pub attention: bool,
}

/// The sites of one terminal and the one on screen.
pub struct Sites {
    pub urls: Vec<String>,
    txs: Vec<UnboundedSender<Input>>,
    states: Vec<State>,
    /// What was typed on each site's login screen (window, clerk), kept
    /// while another site is on screen.
    pub login: Vec<(String, String)>,
    active: usize,
}

impl Sites {
    /// The sites at `urls` (the first is on screen first) and the input
    /// channel of each, for [`spawn_site`].
    pub fn new(urls: Vec<String>) -> (Sites, Vec<UnboundedReceiver<Input>>) {
        let (txs, rxs): (Vec<_>, Vec<_>) = urls.iter().map(|_| unbounded_channel()).unzip();
        let n = urls.len();
        (Sites { urls, txs, states: vec![State::default(); n], login: vec![Default::default(); n], active: 0 }, rxs)
    }

    pub fn len(&self) -> usize {
        self.urls.len()
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    pub fn active(&self) -> usize {
        self.active
    }

    pub fn active_state(&self) -> &State {
        &self.states[self.active]
    }

    /// The sender of site `i`'s inputs (its event stream feeds it too).
    pub fn sender(&self, i: usize) -> UnboundedSender<Input> {
        self.txs[i].clone()
    }

    /// A key or button: to the site on screen only.
    pub fn send(&self, input: Input) {
        let _ = self.txs[self.active].send(input);
    }

    /// Puts site `i` on screen; false if there is no such site.
    pub fn switch(&mut self, i: usize) -> bool {
        if i >= self.len() {
            return false;
        }
        self.active = i;
        true
    }

    /// The next site on screen (F11), round the list.
    pub fn next(&mut self) {
        self.active = (self.active + 1) % self.len().max(1);
    }

    /// Site `i` reported its state; true if it is the one on screen.
    pub fn update(&mut self, i: usize, state: State) -> bool {
        self.states[i] = state;
        i == self.active
    }

    pub fn tabs(&self) -> Vec<Tab> {
        self.states
            .iter()
            .enumerate()
            .map(|(i, st)| {
                let name = if st.hall_name.is_empty() { self.urls[i].clone() } else { st.hall_name.clone() };
                let waiting = st.queue.as_ref().map(|q| q.waiting_total).unwrap_or(0);
                let detail = match (&st.session, st.connected) {
                    (_, false) => "连接中断".to_string(),
                    (None, true) => "未登录".to_string(),
                    (Some(s), true) => {
                        let window = st.queue.as_ref().and_then(|q| q.window.as_ref()).map(|w| w.name.clone()).unwrap_or_else(|| format!("{}号窗口", s.window));
                        format!("{window} · 等候 {waiting} 人")
                    }
                };
                Tab { name, detail, active: i == self.active, attention: i != self.active && st.session.is_some() && waiting > 0 }
            })
            .collect()
    }
}

/// Runs site `i` on the current tokio runtime: connects (retrying every
/// 2 s, showing why), follows its event stream, and drives its terminal
/// from `inputs`; `push(i, state)` after every change. `ready` is called
/// with the terminal after each change too (the `counter ready` line).
pub fn spawn_site(
    i: usize,
    url: String,
    events: UnboundedSender<Input>,
    mut inputs: UnboundedReceiver<Input>,
    push: impl Fn(usize, &State) + Send + Sync + 'static,
) {
    tokio::spawn(async move {
        // The event stream: the core reads the queue when an event touches this window.
        let follow_url = url.clone();
        tokio::spawn(async move {
            let mut to_core = StreamToCore::new(events);
            hall_client::follow::follow(follow_url, Default::default(), &mut to_core).await;
        });
        let mut term = loop {
            match Terminal::connect(&url).await {
                Ok(t) => break t,
                Err(_) => {
                    push(i, &State { connected: false, login_error: "无法连接服务器，正在重试…".into(), ..Default::default() });
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        };
        push(i, &term.state);
        drive(&mut term, &url, &mut inputs, |t| push(i, &t.state)).await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hall_proto::v1 as pb;

    fn at(name: &str, window: Option<u32>, waiting: u32) -> State {
        State {
            hall_name: name.into(),
            connected: true,
            session: window.map(|w| pb::Session { window: w, token: "t".into() }),
            queue: window.map(|w| pb::MyQueue {
                window: Some(pb::WindowInfo { number: w, name: format!("{w}号窗口"), ..Default::default() }),
                waiting_total: waiting,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn keys_go_to_the_site_on_screen_and_the_tabs_show_every_site() {
        let (mut sites, mut rxs) = Sites::new(vec!["https://d".into(), "https://c".into(), "https://s".into()]);
        sites.update(0, at("区政务服务中心", Some(12), 4));
        assert!(!sites.update(1, at("社区便民服务站", Some(2), 1)), "site 1 is not on screen");
        let mut down = at("街道便民服务中心", None, 0);
        down.connected = false;
        sites.update(2, down);
        let tabs = sites.tabs();
        assert_eq!(
            tabs.iter().map(|t| (t.name.as_str(), t.detail.as_str(), t.active, t.attention)).collect::<Vec<_>>(),
            vec![
                ("区政务服务中心", "12号窗口 · 等候 4 人", true, false),
                ("社区便民服务站", "2号窗口 · 等候 1 人", false, true),
                ("街道便民服务中心", "连接中断", false, false),
            ]
        );
        sites.send(Input::LoadPeers);
        assert!(sites.switch(1));
        assert!(!sites.switch(3));
        sites.send(Input::Action(crate::core::Action::CallNext));
        assert_eq!(rxs[0].try_recv().ok(), Some(Input::LoadPeers));
        assert!(rxs[0].try_recv().is_err());
        assert_eq!(rxs[1].try_recv().ok(), Some(Input::Action(crate::core::Action::CallNext)));
        assert_eq!(sites.active_state().hall_name, "社区便民服务站");
        sites.next();
        sites.next();
        assert_eq!(sites.active(), 0, "F11 goes round the sites");
        assert!(rxs[2].try_recv().is_err());
    }
}
