//! A server on 127.0.0.1:0 with the fixture apps deployed, and a small HTTP client.

use std::io::{Cursor, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use fazt_engine::env::{Deadline, Env};
use fazt_engine::runtime::{RuntimeConfig, Workers};
use fazt_engine::server::{read_apps_dir, serve, DeployLimits, ServeReport, Server, ServerConfig};
use fazt_engine::storage::Storage;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const DOMAIN: &str = "example.test";
pub const TOKEN: &str = "test-admin-token-0123456789";

/// The repository's fixture apps.
/// The fixture apps' names, sorted (one per folder of `fixtures/apps`).
pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/apps")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            entry
                .path()
                .is_dir()
                .then(|| entry.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

/// The fixture apps' names and `extra`, sorted.
pub fn fixture_names_and(extra: &str) -> Vec<String> {
    let mut names = fixture_names();
    names.push(extra.to_owned());
    names.sort();
    names
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/apps")
}

/// How to build a test server.
pub struct Setup {
    pub config: ServerConfig,
    pub runtime: RuntimeConfig,
    /// Execution worker threads.
    pub threads: usize,
    /// Deploy the fixture apps at start.
    pub fixtures: bool,
    /// An existing database file to reopen (a restart).
    pub db: Option<PathBuf>,
}

impl Setup {
    pub fn new() -> Setup {
        Setup {
            config: ServerConfig::new(DOMAIN, TOKEN),
            runtime: RuntimeConfig::default(),
            threads: 1,
            fixtures: true,
            db: None,
        }
    }
}

/// A running server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub server: Arc<Server>,
    pub db: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<ServeReport>>,
    _dir: tempfile::TempDir,
}

/// One response, whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |value| value.to_str().unwrap_or(""))
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::with(Setup::new()).await
    }

    pub async fn with(setup: Setup) -> TestServer {
        let env = Env::real();
        let dir = tempfile::tempdir().unwrap();
        let db = setup
            .db
            .clone()
            .unwrap_or_else(|| dir.path().join("fazt.db"));
        let storage = Storage::open(&db, env.clone(), Default::default())
            .await
            .unwrap();
        let workers =
            Workers::start(&env, Some(storage.clone()), &setup.runtime, setup.threads).unwrap();
        let server = Server::new(env, storage, workers, setup.config)
            .await
            .unwrap();
        if setup.fixtures {
            for (name, files) in read_apps_dir(&fixtures(), &DeployLimits::default()).unwrap() {
                server.deploy(&name, files, Deadline::NONE).await.unwrap();
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, server.clone(), async move {
            let _ = stop.await;
        }));
        TestServer {
            addr,
            server,
            db,
            shutdown: Some(shutdown),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Deploys `files` (path, content) as app `name` through `POST /api/deploy`.
    pub async fn deploy(&self, name: &str, files: &[(&str, &str)]) {
        let entries: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(path, data)| (*path, data.as_bytes()))
            .collect();
        let reply = self.client().deploy(name, zip(&entries), Some(TOKEN)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    }

    pub fn client(&self) -> Client {
        Client { addr: self.addr }
    }

    /// Triggers a graceful shutdown and waits for it.
    pub async fn stop(mut self) -> (ServeReport, TempDirGuard) {
        let _ = self.shutdown.take().unwrap().send(());
        let report = self.task.take().unwrap().await.unwrap();
        (report, TempDirGuard(self._dir))
    }

    /// A trigger for the shutdown, for tests that stop the server while requests run.
    pub fn take_trigger(&mut self) -> oneshot::Sender<()> {
        self.shutdown.take().unwrap()
    }

    pub fn take_task(&mut self) -> JoinHandle<ServeReport> {
        self.task.take().unwrap()
    }
}

/// Keeps the database's folder alive after the server stopped.
pub struct TempDirGuard(#[allow(dead_code)] pub tempfile::TempDir);

/// A minimal HTTP/1 client: one connection per request.
#[derive(Clone, Copy)]
pub struct Client {
    pub addr: SocketAddr,
}

impl Client {
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<Reply, String> {
        let stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `method path` on `host` with optional JSON `body`.
    pub async fn call(&self, method: &str, host: &str, path: &str, body: Option<Value>) -> Reply {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header("host", host);
        let body = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                Bytes::from(serde_json::to_vec(&body).unwrap())
            }
            None => Bytes::new(),
        };
        self.send(request.body(Full::new(body)).unwrap())
            .await
            .unwrap()
    }

    pub async fn get(&self, host: &str, path: &str) -> Reply {
        self.call("GET", host, path, None).await
    }

    /// An admin request with `token` (none: no Authorization header).
    pub async fn admin(&self, method: &str, path: &str, token: Option<&str>) -> Reply {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header("host", format!("admin.{DOMAIN}"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Full::new(Bytes::new())).unwrap())
            .await
            .unwrap()
    }

    /// `POST /api/deploy` with a multipart form.
    pub async fn deploy(&self, site: &str, zip: Vec<u8>, token: Option<&str>) -> Reply {
        self.deploy_form(
            &[("site_name", site.as_bytes()), ("file", zip.as_slice())],
            token,
        )
        .await
    }

    /// `POST /api/deploy` with the multipart form fields `(name, data)`, in order
    /// (`file` fields carry a file name and the zip type).
    pub async fn deploy_form(&self, fields: &[(&str, &[u8])], token: Option<&str>) -> Reply {
        let boundary = "fazt-test-boundary";
        let mut body = Vec::new();
        for (name, data) in fields {
            write!(
                body,
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
            )
            .unwrap();
            if *name == "file" {
                write!(
                    body,
                    "; filename=\"site.zip\"\r\nContent-Type: application/zip"
                )
                .unwrap();
            }
            write!(body, "\r\n\r\n").unwrap();
            body.extend_from_slice(data);
            write!(body, "\r\n").unwrap();
        }
        write!(body, "--{boundary}--\r\n").unwrap();
        let mut request = Request::builder()
            .method("POST")
            .uri("/api/deploy")
            .header("host", format!("admin.{DOMAIN}"))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            );
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap()
    }

    /// Writes `request` as raw bytes on a new connection and reads until the server
    /// closes it (send `Connection: close`); the status line, headers and body, split.
    pub async fn raw(&self, request: &[u8]) -> RawReply {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        RawReply {
            status,
            headers: lines.map(str::to_owned).collect(),
            body: body.to_owned(),
        }
    }
}

/// An answer read off a raw connection.
#[derive(Debug)]
pub struct RawReply {
    /// 0 when the server sent nothing.
    pub status: u16,
    /// Header lines, as sent.
    pub headers: Vec<String>,
    pub body: String,
}

impl RawReply {
    /// The value of header `name` (any case), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {:?}", self.headers, self.body))
    }
}

/// A zip of `(name, content)` entries, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}
