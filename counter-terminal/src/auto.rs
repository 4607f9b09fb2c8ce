//! A simulated clerk working a real [`Terminal`]: log in, call next, start,
//! serve for a while, finish, let the visitor rate; reconnect and carry on
//! after the server restarts. The whole-hall demo runs two of these so its
//! counter terminals move, and the end-to-end test watches them call.

use crate::terminal::{State, Terminal};
use rand::{Rng, SeedableRng};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AutoClerk {
    pub url: String,
    pub window: u32,
    pub clerk: String,
    pub pin: String,
    /// Simulated minutes per real minute, as for `hall-sim drive` (60: a
    /// 5-minute service takes 5 s).
    pub speed: f64,
    pub seed: u64,
}

impl AutoClerk {
    /// Runs until `keep_going` says stop. `publish` gets the terminal's state
    /// after every action; `log` one line per outcome (`logged in window 1`,
    /// then once `counter ready: window 1`, `called A001`,
    /// `finished A001`, `server unreachable` (each time it finds the
    /// server gone) and `reconnected`).
    pub async fn run(
        self,
        mut publish: impl FnMut(&State),
        mut log: impl FnMut(&str),
        keep_going: impl Fn() -> bool,
    ) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed ^ u64::from(self.window));
        let pause = |minutes: f64| Duration::from_secs_f64((minutes * 60.0 / self.speed).clamp(0.05, 30.0));
        let mut term = loop {
            if !keep_going() {
                return;
            }
            if let Ok(t) = Terminal::connect(&self.url).await {
                break t;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let mut ready = false;
        while keep_going() {
            if !term.state.connected {
                log("server unreachable");
                if term.reconnect(&self.url).await.is_ok() {
                    log("reconnected");
                } else {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            if term.state.session.is_none() {
                if !term.login(self.window, &self.clerk, &self.pin).await {
                    log(&format!("login failed: {}", term.state.login_error));
                    publish(&term.state);
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
                log(&format!("logged in window {}", self.window));
                if !std::mem::replace(&mut ready, true) {
                    log(&format!("counter ready: window {}", self.window));
                }
                publish(&term.state);
            }
            let current = term.state.queue.as_ref().and_then(|q| q.current.clone());
            match current {
                None => {
                    if term.act("call-next").await {
                        if let Some(t) = term.state.queue.as_ref().and_then(|q| q.current.as_ref()) {
                            log(&format!("called {}", t.number));
                        }
                        publish(&term.state);
                        // The visitor walks to the window.
                        tokio::time::sleep(pause(rng.random_range(0.3..1.0))).await;
                    } else {
                        publish(&term.state);
                        tokio::time::sleep(Duration::from_millis(1500)).await;
                        term.refresh().await;
                    }
                }
                Some(t) if t.state == hall_proto::v1::TicketState::Called as i32 => {
                    term.act("start").await;
                    publish(&term.state);
                }
                Some(t) => {
                    tokio::time::sleep(pause(rng.random_range(3.0..9.0))).await;
                    if term.act("finish").await {
                        publish(&term.state);
                        // The citizen rates on the window's pad (评价器), not here.
                        log(&format!("finished {}", t.number));
                    }
                    publish(&term.state);
                }
            }
        }
    }
}
