//! One small app on a fresh server: deploy a handler, call it.

use http::StatusCode;
use serde_json::Value;

use crate::support::{Reply, Setup, TestServer, DOMAIN};

/// A server with one app, `t`, whose `api/main.js` is `source`.
pub struct App {
    pub server: TestServer,
}

impl App {
    pub async fn new(source: &str) -> App {
        App::with_files(&[("api/main.js", source)]).await
    }

    pub async fn with_files(files: &[(&str, &str)]) -> App {
        let mut setup = Setup::new();
        setup.fixtures = false;
        let server = TestServer::with(setup).await;
        server.deploy("t", files).await;
        App { server }
    }

    pub fn host() -> String {
        format!("t.{DOMAIN}")
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.server
            .client()
            .call(method, &App::host(), path, body)
            .await
    }

    /// `GET path`, which must answer 200 with JSON.
    pub async fn json(&self, path: &str) -> Value {
        let reply = self.call("GET", path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
        reply.json()
    }
}
