//! `fazt deploy DIR --name N --to URL`: the folder zipped in memory and uploaded to a
//! server's `POST /api/deploy` (multipart fields `file` and `site_name`, bearer token),
//! the counterpart of `server/upload.rs`.
//!
//! What goes in the zip: every file under DIR, hidden ones included, at its path
//! relative to DIR with `/` separators, deflated, in path order. Symbolic links are
//! followed when they point inside DIR and skipped (and listed) when they point
//! outside it; a dangling link or a link that loops back into its own ancestors is an
//! error. The server applies its own checks and limits (paths, size, entries) and
//! its refusal message is reported as is.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::cli::client::{self, ClientError, Target};
use fazt_engine::env::{timeout_at, Clock};

/// Longest wait for the whole deploy: connect, upload, the server's answer.
pub const DEPLOY_TIMEOUT: Duration = Duration::from_secs(120);

/// What to deploy where.
#[derive(Clone, Debug)]
pub struct DeployOptions {
    /// The app's folder.
    pub dir: PathBuf,
    /// The app's name (`site_name`).
    pub name: String,
    /// The admin API's base URL, e.g. `http://admin.localhost:8080`; the `Host`
    /// header is its `host[:port]`.
    pub to: String,
    /// The admin bearer token.
    pub token: String,
}

/// Why a deploy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeployClientError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Folder { path: PathBuf, reason: &'static str },
    #[error("cannot build the zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("--to: {0}")]
    Url(String),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the upload to {url} failed: {source}")]
    Upload { url: String, source: hyper::Error },
    #[error("no answer from {url} within {} s", DEPLOY_TIMEOUT.as_secs())]
    Timeout { url: String },
    #[error("the server refused the deploy (HTTP {status}): {message}")]
    Refused { status: StatusCode, message: String },
}

/// A folder as a zip archive.
#[derive(Debug)]
pub struct Zipped {
    pub bytes: Vec<u8>,
    /// The archive's paths, in order.
    pub files: Vec<String>,
    /// Symbolic links left out because they point outside the folder.
    pub skipped: Vec<PathBuf>,
}

/// What a successful deploy returned.
#[derive(Debug)]
pub struct Deployed {
    pub zipped: Zipped,
    pub status: StatusCode,
    /// The server's answer (its JSON report), as sent.
    pub answer: String,
}

/// Zips `dir` (see the module doc for what goes in).
pub fn zip_dir(dir: &Path) -> Result<Zipped, DeployClientError> {
    let read = |path: &Path| {
        let path = path.to_owned();
        move |source| DeployClientError::Read { path, source }
    };
    let root = std::fs::canonicalize(dir).map_err(read(dir))?;
    if !root.is_dir() {
        return Err(DeployClientError::Folder {
            path: dir.to_owned(),
            reason: "not a folder",
        });
    }
    let mut zipping = Zipping {
        writer: zip::ZipWriter::new(Cursor::new(Vec::new())),
        ancestors: vec![root.clone()],
        root,
        files: Vec::new(),
        skipped: Vec::new(),
    };
    zipping.add_folder(dir, "")?;
    Ok(Zipped {
        bytes: zipping.writer.finish()?.into_inner(),
        files: zipping.files,
        skipped: zipping.skipped,
    })
}

struct Zipping {
    writer: zip::ZipWriter<Cursor<Vec<u8>>>,
    /// The canonical folder being zipped.
    root: PathBuf,
    /// Canonical folders from the root to the one being read, to catch link loops.
    ancestors: Vec<PathBuf>,
    files: Vec<String>,
    skipped: Vec<PathBuf>,
}

impl Zipping {
    fn add_folder(&mut self, dir: &Path, prefix: &str) -> Result<(), DeployClientError> {
        let read = |path: &Path| {
            let path = path.to_owned();
            move |source| DeployClientError::Read { path, source }
        };
        let mut entries = std::fs::read_dir(dir)
            .map_err(read(dir))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read(dir))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| DeployClientError::Folder {
                    path: path.clone(),
                    reason: "the name is not UTF-8",
                })?;
            let kind = entry.file_type().map_err(read(&path))?;
            let is_dir = if kind.is_symlink() {
                let target = std::fs::canonicalize(&path).map_err(read(&path))?;
                if !target.starts_with(&self.root) {
                    self.skipped.push(path);
                    continue;
                }
                target.is_dir()
            } else {
                kind.is_dir()
            };
            let relative = format!("{prefix}{name}");
            if is_dir {
                let canonical = std::fs::canonicalize(&path).map_err(read(&path))?;
                if self.ancestors.contains(&canonical) {
                    return Err(DeployClientError::Folder {
                        path,
                        reason: "a symbolic link loops back to a folder that contains it",
                    });
                }
                self.ancestors.push(canonical);
                self.add_folder(&path, &format!("{relative}/"))?;
                self.ancestors.pop();
                continue;
            }
            let data = std::fs::read(&path).map_err(read(&path))?;
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            self.writer.start_file(relative.as_str(), options)?;
            self.writer
                .write_all(&data)
                .map_err(|error| DeployClientError::Zip(error.into()))?;
            self.files.push(relative);
        }
        Ok(())
    }
}

/// Zips the folder and uploads it. Reads the folder synchronously: this is a command
/// of its own, nothing else runs on its runtime.
pub async fn deploy(
    options: &DeployOptions,
    clock: &dyn Clock,
) -> Result<Deployed, DeployClientError> {
    let base = options.to.trim_end_matches('/');
    let target = Target::parse(base)?;
    if target.path.as_str() != "/" {
        return Err(DeployClientError::Url(format!(
            "expected the admin host's base URL (like http://admin.localhost:8080), not {:?}",
            options.to
        )));
    }
    let url = format!("{base}/api/deploy");
    let token = HeaderValue::from_str(&format!("Bearer {}", options.token))
        .map_err(|_| DeployClientError::Url("the token cannot be sent in an HTTP header".into()))?;
    let zipped = zip_dir(&options.dir)?;
    let boundary = boundary_for(&zipped.bytes);
    let mut request = Request::new(Full::new(Bytes::from(multipart(
        &boundary,
        &options.name,
        &zipped.bytes,
    ))));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = "/api/deploy".parse().expect("a valid path");
    let headers = request.headers_mut();
    headers.insert(header::HOST, target.host_header());
    headers.insert(header::AUTHORIZATION, token);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
            .expect("the boundary is ASCII"),
    );
    let exchange = async {
        let address = target.resolve().await?;
        let mut sender = client::connect(address).await?;
        let upload = |source| DeployClientError::Upload {
            url: url.clone(),
            source,
        };
        let response = sender.send_request(request).await.map_err(upload)?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(upload)?;
        Ok::<_, DeployClientError>((status, body.to_bytes()))
    };
    let deadline = clock.deadline_in(DEPLOY_TIMEOUT);
    let (status, body) = timeout_at(clock, deadline, exchange)
        .await
        .map_err(|_| DeployClientError::Timeout { url: url.clone() })??;
    let answer = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        return Err(DeployClientError::Refused {
            status,
            message: refusal_message(&answer),
        });
    }
    Ok(Deployed {
        zipped,
        status,
        answer,
    })
}

/// The server's `error` (and `kind`) from its JSON error body, else the body itself.
fn refusal_message(answer: &str) -> String {
    const SHOWN_CHARS_MAX: usize = 500;
    let json: Option<serde_json::Value> = serde_json::from_str(answer).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|json| json.get(name))
            .and_then(|value| value.as_str())
            .map(str::to_owned)
    };
    match (field("error"), field("kind")) {
        (Some(error), Some(kind)) => format!("{error} ({kind})"),
        (Some(error), None) => error,
        _ if answer.trim().is_empty() => "(empty answer)".into(),
        _ => answer.trim().chars().take(SHOWN_CHARS_MAX).collect(),
    }
}

/// A multipart boundary that does not occur in `data`.
fn boundary_for(data: &[u8]) -> String {
    (0u64..)
        .map(|n| format!("fazt-deploy-boundary-{n}"))
        .find(|boundary| {
            !data
                .windows(boundary.len())
                .any(|window| window == boundary.as_bytes())
        })
        .expect("some boundary is absent from finite data")
}

/// The form: `site_name`, then `file` (the zip).
fn multipart(boundary: &str, site: &str, zip: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(zip.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"site_name\"\r\n\r\n{site}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{site}.zip\"\r\n\
             Content-Type: application/zip\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn unzip(bytes: &[u8]) -> Vec<(String, String)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..archive.len())
            .map(|index| {
                let mut entry = archive.by_index(index).unwrap();
                let mut text = String::new();
                entry.read_to_string(&mut text).unwrap();
                (entry.name().to_owned(), text)
            })
            .collect()
    }

    #[test]
    fn folders_zip_with_relative_slash_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("api/lib")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<h1>hi</h1>").unwrap();
        std::fs::write(dir.path().join(".well-known"), "hidden").unwrap();
        std::fs::write(dir.path().join("api/main.js"), "handler").unwrap();
        std::fs::write(dir.path().join("api/lib/util.js"), "util").unwrap();
        let zipped = zip_dir(dir.path()).unwrap();
        assert_eq!(
            unzip(&zipped.bytes),
            [
                (".well-known".to_owned(), "hidden".to_owned()),
                ("api/lib/util.js".into(), "util".into()),
                ("api/main.js".into(), "handler".into()),
                ("index.html".into(), "<h1>hi</h1>".into()),
            ]
        );
        assert_eq!(zipped.files.len(), 4);
        assert!(zipped.skipped.is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn links_inside_are_followed_and_links_outside_skipped() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "no").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/a.css"), "css").unwrap();
        use std::os::unix::fs::symlink as link;
        link(dir.path().join("assets"), dir.path().join("static")).unwrap();
        link(outside.path().join("secret"), dir.path().join("leak")).unwrap();
        let zipped = zip_dir(dir.path()).unwrap();
        assert_eq!(zipped.files, ["assets/a.css", "static/a.css"]);
        assert_eq!(zipped.skipped, [dir.path().join("leak")]);
        link(dir.path(), dir.path().join("assets/loop")).unwrap();
        let error = zip_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains("loops back"), "{error}");
    }

    #[test]
    fn refusals_show_the_server_message() {
        assert_eq!(
            refusal_message(r#"{"error":"missing or wrong admin token","kind":"Unauthorized"}"#),
            "missing or wrong admin token (Unauthorized)"
        );
        assert_eq!(refusal_message("Bad Gateway\n"), "Bad Gateway");
        assert_eq!(refusal_message(""), "(empty answer)");
    }

    #[test]
    fn the_boundary_avoids_the_data() {
        let data = b"xx fazt-deploy-boundary-0 yy fazt-deploy-boundary-1";
        assert_eq!(boundary_for(data), "fazt-deploy-boundary-2");
        let form = String::from_utf8(multipart("B", "demo", b"ZIP")).unwrap();
        assert!(form.starts_with("--B\r\n") && form.ends_with("\r\n--B--\r\n"));
        assert!(form.contains("name=\"site_name\"\r\n\r\ndemo\r\n"));
    }
}
