//! `POST /api/deploy` on the admin host: a multipart form with the zip (`file`) and
//! the app's name (`site_name`), checked, unpacked within limits, and deployed
//! atomically. Any refusal leaves the deployed version serving.

use std::convert::Infallible;

use bytes::Bytes;
use http::request::Parts;
use http::{header, StatusCode};
use serde_json::json;

use super::arrival::Arrival;
use super::body::{json_response, read_limited, Body, Timing};
use super::deploy::{check_site_name, unpack_zip, DeployError};
use super::errors::ApiError;
use super::state::Server;
use crate::env::{run_blocking, Work};

/// Longest `site_name` field read.
const SITE_NAME_BYTES_MAX: u64 = 256;

fn refused(error: &DeployError) -> ApiError {
    ApiError::bad_request(error.kind(), error.to_string())
}

/// Handles a deploy upload (the caller has checked the admin token).
pub async fn deploy<B>(
    server: &Server,
    parts: &Parts,
    body: B,
    arrival: Arrival,
) -> Result<http::Response<Body>, ApiError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limits = server.config.deploy.clone();
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| multer::parse_boundary(value).ok())
        .ok_or_else(|| {
            refused(&DeployError::InvalidUpload(
                "expected a multipart/form-data body with fields `file` (zip) and `site_name`"
                    .into(),
            ))
        })?;
    let timing = Timing {
        clock: server.env.clock.as_ref(),
        started: arrival.at,
        pace: server.config.body_pace.with_timeout(limits.upload_timeout),
    };
    let upload = read_limited(
        &parts.headers,
        body,
        limits.body_bytes_max,
        "the deploy upload",
        &timing,
    )
    .await?;
    let (site, archive) = read_form(upload, boundary)
        .await
        .map_err(|error| refused(&error))?;
    check_site_name(&site).map_err(|error| refused(&error))?;
    let files = run_blocking(server.env.executor.as_ref(), move || {
        (unpack_zip(&archive, &limits), Work::default())
    })
    .await
    .map_err(|error| {
        tracing::warn!(site, %error, "deploy refused");
        refused(&error)
    })?;
    let deployed = server
        .deploy(&site, files, arrival.deadline)
        .await
        .map_err(|error| ApiError::from_storage(&error, server.config.retry_after_secs))?;
    let mut answer = serde_json::to_value(&deployed).expect("a deploy report serializes");
    answer["ok"] = json!(true);
    Ok(json_response(StatusCode::OK, &answer))
}

/// The `site_name` and `file` fields of the form.
async fn read_form(upload: Bytes, boundary: String) -> Result<(String, Bytes), DeployError> {
    let invalid = |error: multer::Error| DeployError::InvalidUpload(error.to_string());
    let constraints = multer::Constraints::new()
        .allowed_fields(vec!["file", "site_name"])
        .size_limit(multer::SizeLimit::new().for_field("site_name", SITE_NAME_BYTES_MAX));
    let stream = futures::stream::once(async move { Ok::<Bytes, Infallible>(upload) });
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
    let (mut site, mut archive) = (None, None);
    let repeated = |name: &str| {
        DeployError::InvalidUpload(format!("the form has more than one `{name}` field"))
    };
    while let Some(field) = form.next_field().await.map_err(invalid)? {
        match field.name() {
            Some("site_name") if site.is_some() => return Err(repeated("site_name")),
            Some("file") if archive.is_some() => return Err(repeated("file")),
            Some("site_name") => {
                site = Some(field.text().await.map_err(invalid)?.trim().to_owned())
            }
            Some("file") => archive = Some(field.bytes().await.map_err(invalid)?),
            _ => {}
        }
    }
    match (site, archive) {
        (Some(site), Some(archive)) => Ok((site, archive)),
        (None, _) => Err(DeployError::InvalidUpload(
            "the form has no `site_name` field".into(),
        )),
        (_, None) => Err(DeployError::InvalidUpload(
            "the form has no `file` field (the zip)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &[u8])]) -> Bytes {
        let mut body = Vec::new();
        for (name, data) in fields {
            body.extend_from_slice(format!("--XX\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"f\"\r\n\r\n").as_bytes());
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XX--\r\n");
        Bytes::from(body)
    }

    #[tokio::test]
    async fn the_form_needs_both_fields() {
        let (site, archive) = read_form(
            form(&[("site_name", b" demo "), ("file", b"zip")]),
            "XX".into(),
        )
        .await
        .unwrap();
        assert_eq!(
            (site.as_str(), archive.as_ref()),
            ("demo", b"zip".as_slice())
        );
        assert!(read_form(form(&[("file", b"zip")]), "XX".into())
            .await
            .is_err());
        assert!(read_form(form(&[("site_name", b"demo")]), "XX".into())
            .await
            .is_err());
        assert!(read_form(form(&[("other", b"1")]), "XX".into())
            .await
            .is_err());
        let twice = form(&[("site_name", b"a"), ("site_name", b"b"), ("file", b"zip")]);
        assert!(read_form(twice, "XX".into()).await.is_err());
    }
}
