//! The request journal of `fazt server start --journal DIR`: each request of the chosen
//! apps, one JSON object per line, so that `fazt-sim replay` can run production traffic
//! against the app in the simulator (issue 21).
//!
//! A line ([`JournalEntry`]):
//!
//! ```json
//! {"run":1,"at_us":1520,"request_id":"…","app":"shop","method":"POST","path":"/api/orders?x=1",
//!  "headers":[["content-type","application/json"]],"body":"{\"sku\":7}","status":201}
//! ```
//!
//! `at_us` is the arrival on the server's Clock, in µs since the server started; `run`
//! tells server runs apart (the number of the run's first file). Lines are written as
//! requests end, so within a run they are not in arrival order. Secret
//! headers are left out ([`is_secret_header`]). The body is `body` when it is UTF-8,
//! else `body_base64`; neither when it is empty; at most the server's body limit is
//! kept, with `body_truncated` set past it.
//!
//! The request path never waits on the disk: a line is handed to a writer thread
//! through a bounded queue ([`QUEUE_LINES`]); a full queue drops the line, and a write
//! error drops it too, both counted ([`JournalCounts`]) and logged, never failing the
//! request. The writer appends to `DIR/journal-N.jsonl` and starts `journal-N+1.jsonl`
//! before a file would pass [`JournalConfig::max_bytes`], keeping the newest
//! [`JournalConfig::max_files`].

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use http::HeaderMap;
use serde::{Deserialize, Serialize};

/// Lines waiting for the writer at most; past that a line is dropped (counted). 4,096
/// lines of ~1 KiB: a few MiB of memory, seconds of a slow disk at thousands of
/// requests per second.
pub const QUEUE_LINES: usize = 4096;

/// A journal file's size bound when none is given: 64 MiB.
pub const MAX_BYTES_DEFAULT: u64 = 64 << 20;

/// Journal files kept when no count is given: with [`MAX_BYTES_DEFAULT`], 640 MiB.
pub const MAX_FILES_DEFAULT: usize = 10;

/// What to journal and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalConfig {
    pub dir: PathBuf,
    /// The apps whose requests are journaled; `None`: every app.
    pub apps: Option<BTreeSet<String>>,
    /// A file is rotated before it would grow past this many bytes.
    pub max_bytes: u64,
    /// Files kept; the oldest is deleted when a new one would pass this.
    pub max_files: usize,
}

impl JournalConfig {
    /// Every app, with the default bounds.
    pub fn new(dir: impl Into<PathBuf>) -> JournalConfig {
        JournalConfig {
            dir: dir.into(),
            apps: None,
            max_bytes: MAX_BYTES_DEFAULT,
            max_files: MAX_FILES_DEFAULT,
        }
    }
}

/// One journaled request: a line of the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalEntry {
    /// The server run: the number of the first journal file it wrote. A restart starts
    /// a new run, whose `at_us` counts from 0 again.
    pub run: u64,
    /// Arrival, µs since the server started (its Clock).
    pub at_us: u64,
    pub request_id: String,
    pub app: String,
    pub method: String,
    /// Path and query, as requested.
    pub path: String,
    /// Header fields in arrival order, secrets left out.
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// The body was longer than the server's body limit; the part kept is its start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
    /// The response's status.
    pub status: u16,
}

/// True for a header whose value must not reach the journal: credentials
/// (`Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`) and anything whose
/// name holds `token`, `secret`, `key`, `password`, `auth` or `session` (admin and
/// deploy tokens, API keys).
pub fn is_secret_header(name: &str) -> bool {
    const NAMES: [&str; 3] = ["cookie", "set-cookie", "proxy-authorization"];
    const PARTS: [&str; 6] = ["token", "secret", "key", "password", "auth", "session"];
    let name = name.to_ascii_lowercase();
    NAMES.contains(&name.as_str()) || PARTS.iter().any(|part| name.contains(part))
}

/// `headers` without the secret ones, as (name, value) pairs; values that are not
/// visible ASCII are kept lossily.
pub fn journaled_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !is_secret_header(name.as_str()))
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect()
}

impl JournalEntry {
    /// Sets the body: text when UTF-8, else base64.
    pub fn set_body(&mut self, bytes: &[u8], truncated: bool) {
        self.body_truncated = truncated;
        if bytes.is_empty() {
            return;
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => self.body = Some(text.to_owned()),
            Err(_) => {
                self.body_base64 = Some(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }
}

/// Lines dropped, and why.
#[derive(Debug, Default)]
pub struct JournalCounts {
    pub written: AtomicU64,
    /// The queue was full: the writer is behind the disk.
    pub dropped_full: AtomicU64,
    /// The file could not be written (full disk, I/O error).
    pub dropped_error: AtomicU64,
}

enum Message {
    Line(String),
    /// Answers once every line sent before it is written and flushed.
    Flush(Sender<()>),
}

/// The journal of a running server: [`Journal::record`] queues, the writer thread writes.
pub struct Journal {
    config: JournalConfig,
    /// This server run's [`JournalEntry::run`].
    run: u64,
    queue: Sender<Message>,
    counts: Arc<JournalCounts>,
}

impl Journal {
    /// Creates `config.dir` and starts the writer, after any journal files already
    /// there (a restart appends new files, it overwrites none).
    pub fn open(config: JournalConfig) -> std::io::Result<Journal> {
        if config.max_bytes == 0 || config.max_files == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the journal's size and file count bounds must be at least 1",
            ));
        }
        std::fs::create_dir_all(&config.dir)?;
        let (queue, lines) = crossbeam_channel::bounded(QUEUE_LINES);
        let counts = Arc::new(JournalCounts::default());
        let mut files = Files::new(&config)?;
        let run = *files.numbers.last().expect("one file at least");
        let writer_counts = counts.clone();
        std::thread::Builder::new()
            .name("fazt-journal".into())
            .spawn(move || write_lines(&lines, &mut files, &writer_counts))?;
        Ok(Journal {
            config,
            run,
            queue,
            counts,
        })
    }

    /// True when requests of `app` are journaled.
    pub fn wants(&self, app: &str) -> bool {
        self.config
            .apps
            .as_ref()
            .is_none_or(|apps| apps.contains(app))
    }

    /// Queues `entry` for the writer; never waits. A full queue drops it (counted).
    pub fn record(&self, entry: &JournalEntry) {
        let line = serde_json::to_string(entry).expect("a journal entry serializes");
        match self.queue.try_send(Message::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let dropped = self.counts.dropped_full.fetch_add(1, Ordering::Relaxed);
                if dropped.is_power_of_two() || dropped == 0 {
                    tracing::warn!(dropped = dropped + 1, "journal queue full: lines dropped");
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counts.dropped_error.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Records one request of `app` that arrived `since_start` after the server started
    /// and was answered with `status`, with the body `copy` holds.
    pub fn record_request(
        &self,
        since_start: std::time::Duration,
        request_id: &str,
        app: &str,
        parts: &http::request::Parts,
        copy: &BodyCopy,
        status: u16,
    ) {
        let mut entry = JournalEntry {
            run: self.run,
            at_us: u64::try_from(since_start.as_micros()).unwrap_or(u64::MAX),
            request_id: request_id.to_owned(),
            app: app.to_owned(),
            method: parts.method.to_string(),
            path: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
            headers: journaled_headers(&parts.headers),
            body: None,
            body_base64: None,
            body_truncated: false,
            status,
        };
        let (body, truncated) = copy.take();
        entry.set_body(&body, truncated);
        self.record(&entry);
    }

    /// Waits until every line recorded so far is written and flushed (at shutdown, and
    /// for tests). Blocks the calling thread.
    pub fn flush(&self) {
        let (done, wait) = crossbeam_channel::bounded(1);
        if self.queue.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    pub fn counts(&self) -> &JournalCounts {
        &self.counts
    }
}

/// The writer thread: lines in order, a flush whenever the queue runs empty.
fn write_lines(lines: &Receiver<Message>, files: &mut Files, counts: &JournalCounts) {
    while let Ok(message) = lines.recv() {
        match message {
            Message::Line(line) => match files.append(&line) {
                Ok(()) => {
                    counts.written.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    let dropped = counts.dropped_error.fetch_add(1, Ordering::Relaxed);
                    if dropped.is_power_of_two() || dropped == 0 {
                        tracing::warn!(%error, dropped = dropped + 1, "journal write failed: lines dropped");
                    }
                }
            },
            Message::Flush(done) => {
                files.flush();
                let _ = done.send(());
            }
        }
        if lines.is_empty() {
            files.flush();
        }
    }
    files.flush();
}

/// The journal's files: the one being written and the rotation.
struct Files {
    dir: PathBuf,
    max_bytes: u64,
    max_files: usize,
    /// The number of the file being written, and the older ones kept.
    numbers: Vec<u64>,
    current: Option<(BufWriter<File>, u64)>,
    /// The last write failed: the next line opens the file again.
    failed: bool,
}

impl Files {
    fn new(config: &JournalConfig) -> std::io::Result<Files> {
        let mut numbers = journal_files(&config.dir)?
            .into_iter()
            .map(|(number, _)| number)
            .collect::<Vec<_>>();
        let next = numbers.last().map_or(1, |last| last + 1);
        numbers.push(next);
        let mut files = Files {
            dir: config.dir.clone(),
            max_bytes: config.max_bytes,
            max_files: config.max_files,
            numbers,
            current: None,
            failed: false,
        };
        files.prune();
        Ok(files)
    }

    fn path(&self, number: u64) -> PathBuf {
        file_path(&self.dir, number)
    }

    /// Writes one line (and its newline), rotating first if it would not fit.
    fn append(&mut self, line: &str) -> std::io::Result<()> {
        let size = line.len() as u64 + 1;
        if let Some((_, written)) = &self.current {
            if *written > 0 && written + size > self.max_bytes {
                self.rotate();
            }
        }
        if self.current.is_none() || self.failed {
            let number = *self.numbers.last().expect("one file at least");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.path(number))?;
            let written = file.metadata()?.len();
            self.current = Some((BufWriter::new(file), written));
            self.failed = false;
        }
        let (writer, written) = self.current.as_mut().expect("opened above");
        let result = writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.write_all(b"\n"));
        match result {
            Ok(()) => {
                *written += size;
                Ok(())
            }
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }

    fn rotate(&mut self) {
        self.flush();
        self.current = None;
        let next = self.numbers.last().expect("one file at least") + 1;
        self.numbers.push(next);
        self.prune();
    }

    /// Deletes the oldest files past the count kept.
    fn prune(&mut self) {
        while self.numbers.len() > self.max_files {
            let oldest = self.numbers.remove(0);
            if let Err(error) = std::fs::remove_file(self.path(oldest)) {
                tracing::warn!(%error, file = oldest, "cannot delete an old journal file");
            }
        }
    }

    fn flush(&mut self) {
        if let Some((writer, _)) = &mut self.current {
            if let Err(error) = writer.flush() {
                tracing::warn!(%error, "journal flush failed");
                self.failed = true;
            }
        }
    }
}

/// `DIR/journal-N.jsonl`.
pub fn file_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("journal-{number}.jsonl"))
}

/// The journal files in `dir` (`journal-N.jsonl`), oldest (lowest N) first.
pub fn journal_files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|name| name.strip_prefix("journal-"))
            .and_then(|rest| rest.strip_suffix(".jsonl"))
            .and_then(|number| number.parse::<u64>().ok());
        if let Some(number) = number {
            files.push((number, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// The part of a request body a journal keeps, copied as the body is read by whoever
/// serves the request: at most `limit` bytes.
#[derive(Clone, Debug, Default)]
pub struct BodyCopy(Arc<Mutex<(Vec<u8>, bool)>>);

impl BodyCopy {
    fn push(&self, data: &[u8], limit: usize) {
        let mut copy = self.0.lock().expect("the body copy is not poisoned");
        let room = limit.saturating_sub(copy.0.len());
        copy.0.extend_from_slice(&data[..data.len().min(room)]);
        copy.1 |= data.len() > room;
    }

    /// The bytes copied and whether more came than were kept.
    pub fn take(&self) -> (Vec<u8>, bool) {
        std::mem::take(&mut *self.0.lock().expect("the body copy is not poisoned"))
    }
}

/// A request body that copies its data into a [`BodyCopy`] as it is read: the
/// request's reader (handler, deploy) sees exactly the original.
pub struct TeeBody<B> {
    inner: std::pin::Pin<Box<B>>,
    copy: BodyCopy,
    limit: usize,
}

impl<B> TeeBody<B> {
    pub fn new(inner: B, copy: BodyCopy, limit: usize) -> TeeBody<B> {
        TeeBody {
            inner: Box::pin(inner),
            copy,
            limit,
        }
    }
}

impl<B> hyper::body::Body for TeeBody<B>
where
    B: hyper::body::Body<Data = bytes::Bytes>,
{
    type Data = bytes::Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = this.inner.as_mut().poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                this.copy.push(data, this.limit);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u64) -> JournalEntry {
        JournalEntry {
            run: 1,
            at_us: n,
            request_id: format!("r-{n}"),
            app: "shop".into(),
            method: "POST".into(),
            path: "/api/orders".into(),
            headers: Vec::new(),
            body: Some("x".repeat(40)),
            body_base64: None,
            body_truncated: false,
            status: 200,
        }
    }

    #[test]
    fn secret_headers_are_left_out() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("Authorization", "Bearer admin"),
            ("Cookie", "sid=1"),
            ("Set-Cookie", "sid=1"),
            ("X-Deploy-Token", "t"),
            ("X-Api-Key", "k"),
            ("X-Client-Secret", "s"),
            ("X-Password", "p"),
            ("Content-Type", "application/json"),
            ("User-Agent", "curl/8"),
        ] {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let kept = journaled_headers(&headers);
        assert_eq!(
            kept,
            [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("user-agent".to_owned(), "curl/8".to_owned())
            ]
        );
    }

    #[test]
    fn bodies_are_text_or_base64() {
        let mut text = entry(1);
        text.body = None;
        text.set_body(b"{\"a\":1}", false);
        assert_eq!(text.body.as_deref(), Some("{\"a\":1}"));
        let mut binary = entry(2);
        binary.body = None;
        binary.set_body(&[0xff, 0x00], true);
        assert_eq!(binary.body, None);
        assert_eq!(binary.body_base64.as_deref(), Some("/wA="));
        assert!(binary.body_truncated);
    }

    #[test]
    fn a_body_copy_keeps_at_most_the_limit() {
        let copy = BodyCopy::default();
        copy.push(b"abcd", 6);
        copy.push(b"efgh", 6);
        assert_eq!(copy.take(), (b"abcdef".to_vec(), true));
    }

    #[test]
    fn files_rotate_at_the_bound_and_the_oldest_go() {
        let dir = tempfile::tempdir().unwrap();
        let line_bytes = serde_json::to_string(&entry(1)).unwrap().len() as u64 + 1;
        let journal = Journal::open(JournalConfig {
            dir: dir.path().to_owned(),
            apps: None,
            max_bytes: line_bytes * 2,
            max_files: 3,
        })
        .unwrap();
        for n in 1..=9 {
            journal.record(&entry(n));
        }
        journal.flush();
        let files = journal_files(dir.path()).unwrap();
        let numbers: Vec<u64> = files.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [3, 4, 5], "two lines a file, three files kept");
        let kept: Vec<u64> = files
            .iter()
            .flat_map(|(_, path)| {
                std::fs::read_to_string(path)
                    .unwrap()
                    .lines()
                    .map(|line| serde_json::from_str::<JournalEntry>(line).unwrap().at_us)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(kept, [5, 6, 7, 8, 9]);
        assert_eq!(journal.counts().written.load(Ordering::Relaxed), 9);
        drop(journal);
        // A restart starts a new file after the last.
        let again = Journal::open(JournalConfig::new(dir.path())).unwrap();
        again.record(&entry(10));
        again.flush();
        assert!(file_path(dir.path(), 6).is_file());
    }

    #[test]
    fn a_write_error_drops_the_line_and_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(JournalConfig::new(dir.path().join("j"))).unwrap();
        // The directory goes away under the writer: opening the file fails.
        std::fs::remove_dir_all(dir.path().join("j")).unwrap();
        journal.record(&entry(1));
        journal.flush();
        assert_eq!(journal.counts().dropped_error.load(Ordering::Relaxed), 1);
        assert_eq!(journal.counts().written.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn apps_are_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = JournalConfig::new(dir.path());
        config.apps = Some(["a".to_owned()].into());
        let journal = Journal::open(config).unwrap();
        assert!(journal.wants("a"));
        assert!(!journal.wants("b"));
    }
}
