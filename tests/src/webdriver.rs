//! A small WebDriver client for the browser tests: Debian's `chromedriver`
//! driving a real headless Chromium, spoken to over plain HTTP on
//! 127.0.0.1 (the W3C WebDriver protocol: new session, navigate, execute
//! script, window size, screenshot). Only what the tests use.

use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running chromedriver with one browser session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

/// Whether the machine has Chromium and its driver (`hall.sh` and
/// `.ci/run` install them).
pub fn available() -> bool {
    ["chromium", "chromedriver"].iter().all(|b| {
        Command::new("which")
            .arg(b)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a window of
    /// `width` × `height`. Certificate errors are ignored: the hall's own CA
    /// is not in the browser's store (the TLS itself is real).
    pub async fn start(width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let mut b = Browser {
            driver,
            port,
            session: String::new(),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if b.call("GET", "/status", None).await.is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--ignore-certificate-errors", "--hide-scrollbars", "--lang=zh-CN",
                         format!("--window-size={width},{height}")],
            },
        }}});
        let v = b
            .call("POST", "/session", Some(caps))
            .await
            .expect("a browser session");
        b.session = v["sessionId"].as_str().expect("a session id").to_string();
        b
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .map_err(|e| e.to_string())?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", format!("127.0.0.1:{}", self.port))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap();
        let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let ok = resp.status().is_success();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(v["value"].to_string())
        }
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", &self.path("/url"), Some(json!({ "url": url })))
            .await
            .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.path("/execute/sync"),
            Some(json!({ "script": script, "args": [] })),
        )
        .await
        .unwrap_or_else(|e| panic!("running {script}: {e}"))
    }

    /// Polls `script` until it returns true; how long that took. Panics
    /// after `within`.
    pub async fn wait_for(&self, script: &str, within: Duration) -> Duration {
        let started = std::time::Instant::now();
        loop {
            if self.eval(script).await == Value::Bool(true) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "not true within {within:?}: {script}\npage: {}",
                self.eval("return document.body ? document.body.innerText : ''")
                    .await
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The page as a PNG.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self
            .call("GET", &self.path("/screenshot"), None)
            .await
            .expect("a screenshot");
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }
}

impl Browser {
    /// Ends the session (the browser quits) and the driver.
    pub async fn quit(mut self) {
        let _ = self.call("DELETE", &self.path(""), None).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the browser with its driver (chromedriver's children go with
        // its process group only on a clean quit; the session is left to it).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
