//! A minimal HTTP/1.1 client over turmoil TCP, for workloads: one keep-alive connection,
//! requests one after another.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

/// One keep-alive connection to the simulated server.
pub struct HttpClient {
    sender: SendRequest<Full<Bytes>>,
}

/// What came back.
pub struct HttpResponse {
    pub status: u16,
    pub body: Bytes,
}

impl HttpClient {
    /// Connects to `address` (e.g. `server:80`).
    pub async fn connect(address: &str) -> std::io::Result<HttpClient> {
        let stream = turmoil::net::TcpStream::connect(address).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::task::spawn_local(async move {
            let _ = connection.await;
        });
        Ok(HttpClient { sender })
    }

    /// Sends one request with a JSON body (or none) and reads the whole response.
    pub async fn send(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        request_id: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, hyper::Error> {
        self.send_with_headers(method, host, path, request_id, json, &[])
            .await
    }

    /// [`HttpClient::send`] with extra `headers` (e.g. the admin token).
    pub async fn send_with_headers(
        &mut self,
        method: &str,
        host: &str,
        path: &str,
        request_id: &str,
        json: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Result<HttpResponse, hyper::Error> {
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", host)
            .header("x-request-id", request_id);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = match json {
            Some(value) => {
                builder = builder.header("content-type", "application/json");
                Bytes::from(value.to_string())
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(body))
            .expect("a well-formed request");
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(HttpResponse { status, body })
    }
}
