//! The request as upstream hands it over: headers by canonical or lowercase name,
//! multipart forms as fields in `request.body` and uploads in `request.files`.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::json;

use crate::app::App;
use crate::support::Reply;

const SOURCE: &str = r#"
var f = request.files || {};
({
  canonical: request.headers['Content-Type'], lower: request.headers['content-type'],
  custom: request.headers['X-Fazt-Test'], listed: Object.keys(request.headers).filter(function (k) { return k !== 'x-request-id' && k !== 'host' && k !== 'content-length'; }),
  body: request.body, hasFiles: request.files !== undefined,
  pic: f.pic ? {name: f.pic.name, type: f.pic.type, size: f.pic.size, bytes: Array.from(new Uint8Array(f.pic.data))} : null
});
"#;

async fn post(app: &App, content_type: &str, body: Vec<u8>) -> Reply {
    let request = Request::builder()
        .method("POST")
        .uri("/api/x")
        .header("host", App::host())
        .header("content-type", content_type)
        .header("x-fazt-test", "yes")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    app.server.client().send(request).await.unwrap()
}

/// One form part: field name, file name and type (for a file), data.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, data) in parts {
        let disposition = match file {
            Some((file_name, mime)) => format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {mime}"),
            None => format!("Content-Disposition: form-data; name=\"{name}\""),
        };
        body.extend_from_slice(format!("--BND\r\n{disposition}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--BND--\r\n");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_answer_to_canonical_and_lowercase_names() {
    let app = App::new(SOURCE).await;
    let answer = post(&app, "text/plain", b"hi".to_vec()).await.json();
    assert_eq!(
        (&answer["canonical"], &answer["lower"], &answer["custom"]),
        (&json!("text/plain"), &json!("text/plain"), &json!("yes"))
    );
    // Listing shows each header once.
    assert_eq!(answer["listed"], json!(["content-type", "x-fazt-test"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_fields_in_the_body_and_uploads_in_files() {
    let app = App::new(SOURCE).await;
    let body = form(&[
        ("title", None, b"hello"),
        ("pic", Some(("a.png", "image/png")), &[0, 255, 7]),
    ]);
    let answer = post(&app, "multipart/form-data; boundary=BND", body)
        .await
        .json();
    assert_eq!(answer["body"], json!({"title": "hello"}));
    assert_eq!(
        answer["pic"],
        json!({"name": "a.png", "type": "image/png", "size": 3, "bytes": [0, 255, 7]})
    );
    let fields_only = post(
        &app,
        "multipart/form-data; boundary=BND",
        form(&[("a", None, b"1")]),
    )
    .await
    .json();
    assert_eq!(
        (fields_only["body"].clone(), fields_only["hasFiles"].clone()),
        (json!({"a": "1"}), json!(false))
    );
    let malformed = post(
        &app,
        "multipart/form-data; boundary=BND",
        b"--BND\r\nno end".to_vec(),
    )
    .await;
    assert_eq!(malformed.status.as_u16(), 400, "{}", malformed.text());
}
