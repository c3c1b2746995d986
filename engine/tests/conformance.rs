//! Conformance with upstream fazt (issue 18): small apps, and upstream's own template
//! apps unchanged (`fixtures/upstream/`), run through the real server over loopback.
//! Each module is one area of the API.

#[path = "server/support.rs"]
#[allow(dead_code)]
mod support;

#[path = "conformance/app.rs"]
mod app;

#[path = "conformance/storage_arguments.rs"]
mod storage_arguments;

#[path = "conformance/documents.rs"]
mod documents;

#[path = "conformance/responses.rs"]
mod responses;

#[path = "conformance/templates.rs"]
mod templates;

#[path = "conformance/request.rs"]
mod request;

#[path = "conformance/globals.rs"]
mod globals;

#[path = "conformance/env_vars.rs"]
mod env_vars;

#[path = "conformance/libraries.rs"]
mod libraries;

#[path = "conformance/upstream_cases.rs"]
mod upstream_cases;
