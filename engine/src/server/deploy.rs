//! What a deploy may contain: site names, file paths, and zip archives unpacked within
//! limits that hold for the bytes actually decompressed, not only the sizes the archive
//! declares (a zip bomb can lie about those).

use std::collections::BTreeSet;
use std::io::{Cursor, Read};
use std::time::Duration;

use super::mime;
use crate::storage::SiteFile;

/// Bounds on one deploy.
#[derive(Clone, Debug)]
pub struct DeployLimits {
    /// The upload (multipart body). Default 32 MiB.
    pub body_bytes_max: usize,
    /// All files of the app, uncompressed. Default 64 MiB.
    pub unpacked_bytes_max: u64,
    /// Entries in the archive (directories included). Default 10,000.
    pub entries_max: usize,
    /// Longest file path, in bytes. Default 512 (the storage key limit).
    pub path_bytes_max: usize,
    /// The whole upload must arrive within this (at the minimum rate of
    /// [`super::ServerConfig::body_pace`]). Longer than an app request's 30 s: an
    /// upload is up to 32 MiB, and only a holder of the admin token can send one.
    /// Default 10 minutes.
    pub upload_timeout: Duration,
}

impl Default for DeployLimits {
    fn default() -> Self {
        DeployLimits {
            body_bytes_max: 32 << 20,
            unpacked_bytes_max: 64 << 20,
            entries_max: 10_000,
            path_bytes_max: 512,
            upload_timeout: Duration::from_secs(600),
        }
    }
}

/// Why a deploy was refused (each is a 400 with the kind and message).
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("site name {0:?} must be a DNS label (1-63 characters of a-z, 0-9 and '-', not starting or ending with '-') and not \"admin\"")]
    InvalidSiteName(String),
    #[error("file path {path:?} is refused: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("the archive unpacks to more than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the archive has more than {limit} entries")]
    TooManyEntries { limit: usize },
    #[error("the archive holds {0:?} more than once")]
    DuplicateEntry(String),
    #[error("the archive contains no files")]
    Empty,
    #[error("file {0:?} is encrypted; upload a plain zip")]
    Encrypted(String),
    #[error("not a readable zip archive: {0}")]
    InvalidZip(String),
    #[error("the upload is not valid: {0}")]
    InvalidUpload(String),
}

impl DeployError {
    /// The `kind` of the JSON error body.
    pub fn kind(&self) -> &'static str {
        match self {
            DeployError::InvalidSiteName(_) => "InvalidSiteName",
            DeployError::InvalidPath { .. } => "InvalidPath",
            DeployError::TooLarge { .. } => "ArchiveTooLarge",
            DeployError::TooManyEntries { .. } => "TooManyEntries",
            DeployError::DuplicateEntry(_) => "DuplicateEntry",
            DeployError::Empty => "EmptyArchive",
            DeployError::Encrypted(_) => "EncryptedEntry",
            DeployError::InvalidZip(_) => "InvalidZip",
            DeployError::InvalidUpload(_) => "InvalidUpload",
        }
    }
}

/// Site names are DNS labels: `[a-z0-9-]{1,63}`, neither starting nor ending with
/// `-` (RFC 1123); `admin` is the admin API's.
pub fn check_site_name(name: &str) -> Result<(), DeployError> {
    let valid = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name != "admin";
    if valid {
        Ok(())
    } else {
        Err(DeployError::InvalidSiteName(name.to_owned()))
    }
}

/// The normalised form of a file path from an archive or a folder: relative,
/// `/`-separated, no `..`, no backslashes, no empty segments (`./` segments dropped).
pub fn check_path(path: &str, limits: &DeployLimits) -> Result<String, DeployError> {
    let refuse = |reason| {
        Err(DeployError::InvalidPath {
            path: path.chars().take(200).collect(),
            reason,
        })
    };
    if path.contains('\\') {
        return refuse("backslashes are not allowed");
    }
    if path.starts_with('/') || path.as_bytes().get(1) == Some(&b':') {
        return refuse("absolute paths are not allowed");
    }
    if path.chars().any(char::is_control) {
        return refuse("control characters are not allowed");
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            ".." => return refuse("'..' is not allowed"),
            "." => {}
            "" => return refuse("empty path segments are not allowed"),
            segment => segments.push(segment),
        }
    }
    if segments.is_empty() {
        return refuse("the path is empty");
    }
    let normalised = segments.join("/");
    if normalised.len() > limits.path_bytes_max {
        return refuse("the path is too long");
    }
    Ok(normalised)
}

/// Unpacks a zip archive into the files of an app, refusing hostile content: bad
/// paths, too many entries, more than `unpacked_bytes_max` decompressed (counted on
/// the bytes read), encryption.
pub fn unpack_zip(archive: &[u8], limits: &DeployLimits) -> Result<Vec<SiteFile>, DeployError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(archive))
        .map_err(|error| DeployError::InvalidZip(error.to_string()))?;
    if zip.len() > limits.entries_max {
        return Err(DeployError::TooManyEntries {
            limit: limits.entries_max,
        });
    }
    let start = usize::try_from(zip.central_directory_start()).unwrap_or(usize::MAX);
    if let Some(name) = duplicate_name(archive.get(start..).unwrap_or_default(), limits) {
        return Err(DeployError::DuplicateEntry(name));
    }
    let mut paths = BTreeSet::new();
    let mut budget = limits.unpacked_bytes_max;
    let mut files: Vec<SiteFile> = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip
            .by_index(index)
            .map_err(|error| DeployError::InvalidZip(error.to_string()))?;
        let raw_name = entry.name().to_owned();
        if entry.is_dir() {
            check_path(raw_name.trim_end_matches('/'), limits)?;
            continue;
        }
        let path = check_path(&raw_name, limits)?;
        if entry.encrypted() {
            return Err(DeployError::Encrypted(path));
        }
        if entry.size() > budget {
            return Err(DeployError::TooLarge {
                limit: limits.unpacked_bytes_max,
            });
        }
        // Read at most one byte more than the budget: the declared size may lie.
        let mut data = Vec::new();
        (&mut entry)
            .take(budget + 1)
            .read_to_end(&mut data)
            .map_err(|error| DeployError::InvalidZip(format!("{path}: {error}")))?;
        if data.len() as u64 > budget {
            return Err(DeployError::TooLarge {
                limit: limits.unpacked_bytes_max,
            });
        }
        budget -= data.len() as u64;
        if !paths.insert(path.clone()) {
            return Err(DeployError::DuplicateEntry(path));
        }
        let mime = mime::for_path(&path);
        files.push(SiteFile::new(path, data, mime));
    }
    if files.is_empty() {
        return Err(DeployError::Empty);
    }
    Ok(files)
}

/// Signature of a central directory header, and its fixed part's length.
const CENTRAL_HEADER: &[u8] = b"PK\x01\x02";
const CENTRAL_HEADER_BYTES: usize = 46;

/// The first entry name that the central directory starting at `directory` lists
/// twice. The zip crate keeps entries in a map by name, so a second entry of one name
/// silently replaces the first: the directory is read here to refuse that. Reads at
/// most [`DeployLimits::entries_max`] + 1 headers (more are refused anyway).
fn duplicate_name(directory: &[u8], limits: &DeployLimits) -> Option<String> {
    let mut names = BTreeSet::new();
    let mut at = 0;
    for _ in 0..=limits.entries_max {
        let header = directory.get(at..at + CENTRAL_HEADER_BYTES)?;
        if !header.starts_with(CENTRAL_HEADER) {
            return None;
        }
        let field =
            |offset: usize| usize::from(u16::from_le_bytes([header[offset], header[offset + 1]]));
        let (name_bytes, extra_bytes, comment_bytes) = (field(28), field(30), field(32));
        let name =
            directory.get(at + CENTRAL_HEADER_BYTES..at + CENTRAL_HEADER_BYTES + name_bytes)?;
        if !names.insert(name) {
            return Some(String::from_utf8_lossy(name).chars().take(200).collect());
        }
        at += CENTRAL_HEADER_BYTES + name_bytes + extra_bytes + comment_bytes;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn site_names() {
        assert!(check_site_name("momentum").is_ok());
        assert!(check_site_name("a-1").is_ok());
        for bad in [
            "",
            "admin",
            "Upper",
            "a.b",
            "a_b",
            "-x",
            "x-",
            "-",
            &"x".repeat(64),
        ] {
            assert!(check_site_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paths() {
        let limits = DeployLimits::default();
        assert_eq!(check_path("./css/app.css", &limits).unwrap(), "css/app.css");
        for bad in [
            "../x",
            "a/../../x",
            "/abs",
            "a\\b",
            "C:/x",
            "a//b",
            "",
            "a\u{0}b",
        ] {
            assert!(check_path(bad, &limits).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_plain_archive_unpacks_with_types() {
        let files = unpack_zip(
            &archive(&[("index.html", b"<h1>hi</h1>"), ("api/main.js", b"1")]),
            &DeployLimits::default(),
        )
        .unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].mime, "text/html; charset=utf-8");
        assert_eq!(files[1].path, "api/main.js");
    }

    #[test]
    fn hostile_archives_are_refused() {
        let limits = DeployLimits {
            unpacked_bytes_max: 1000,
            ..DeployLimits::default()
        };
        let kind =
            |entries: &[(&str, &[u8])]| unpack_zip(&archive(entries), &limits).unwrap_err().kind();
        assert_eq!(kind(&[("../x", b"1")]), "InvalidPath");
        assert_eq!(kind(&[("/abs", b"1")]), "InvalidPath");
        assert_eq!(kind(&[("a\\b", b"1")]), "InvalidPath");
        assert_eq!(kind(&[("big", &[0u8; 2000])]), "ArchiveTooLarge");
        assert_eq!(
            kind(&[("a", &[0u8; 600]), ("b", &[0u8; 600])]),
            "ArchiveTooLarge"
        );
        assert_eq!(kind(&[]), "EmptyArchive");
        assert_eq!(kind(&[("a", b"1"), ("./a", b"2")]), "DuplicateEntry");
        // The zip crate keeps one entry per name: a second "a" is found in the
        // central directory itself.
        let mut twice = archive(&[("a", b"1"), ("b", b"2")]);
        let central = twice.windows(4).rposition(|w| w == CENTRAL_HEADER).unwrap();
        twice[central + CENTRAL_HEADER_BYTES] = b'a';
        assert_eq!(
            unpack_zip(&twice, &limits).unwrap_err().kind(),
            "DuplicateEntry"
        );
        assert_eq!(
            unpack_zip(b"not a zip", &limits).unwrap_err().kind(),
            "InvalidZip"
        );
        let few = DeployLimits {
            entries_max: 1,
            ..limits
        };
        assert_eq!(
            unpack_zip(&archive(&[("a", b"1"), ("b", b"2")]), &few)
                .unwrap_err()
                .kind(),
            "TooManyEntries"
        );
    }
}
