//! What a handler execution takes and gives: fazt's handler contract in Rust types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `request` global of an execution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HandlerRequest {
    pub method: String,
    pub path: String,
    /// First value per key.
    pub query: BTreeMap<String, String>,
    /// Lowercase header names.
    pub headers: BTreeMap<String, String>,
    /// Parsed JSON when the content type is JSON, the form's fields (first value each,
    /// strings) for `multipart/form-data`, else the text, or null.
    pub body: Value,
    /// The uploads of a `multipart/form-data` body, by field (the first file of each),
    /// as upstream fazt's `request.files`: absent when there are none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, Upload>,
}

/// One uploaded file: `request.files.<field>` is `{name, type, size, data}`, `data` an
/// `ArrayBuffer`, as upstream gives it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    /// The file name the client sent.
    pub name: String,
    /// Its `Content-Type` (empty when the part had none).
    #[serde(rename = "type")]
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The response a handler produced (from `respond(...)` or a plain completion value).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct HandlerResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    /// True when there is no body at all (`respond(204)`, no completion value).
    pub empty: bool,
}

/// Severity of a console line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `console.log` and `console.info` (upstream logs `console.log` at info).
    Info,
    Warn,
    Error,
    Debug,
}

impl LogLevel {
    pub fn parse(level: &str) -> LogLevel {
        match level {
            "warn" => LogLevel::Warn,
            "error" => LogLevel::Error,
            "debug" => LogLevel::Debug,
            _ => LogLevel::Info,
        }
    }
}

/// One captured console line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub level: LogLevel,
    pub message: String,
}

/// An app's code and settings, as the runtime sees them.
#[derive(Clone, Debug, Default)]
pub struct AppCode {
    pub id: String,
    pub name: String,
    /// Files by path (`api/main.js`, `api/lib.js`, ...).
    pub files: BTreeMap<String, String>,
    /// What `fazt.env.get` answers.
    pub env: BTreeMap<String, String>,
}

impl AppCode {
    /// The handler's entry point.
    pub const MAIN: &'static str = "api/main.js";

    pub fn main(&self) -> Option<&str> {
        self.files.get(Self::MAIN).map(String::as_str)
    }
}
