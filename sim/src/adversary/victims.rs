//! The victims' requests: route and body per operation, and the canaries every request
//! carries (in its value, its session, its cookie and its bearer token), so that any
//! of them found in another app names the request it came from.

use fazt_chaos::tenancy::isolation::canary;
use serde_json::{json, Value};

use super::tenants::{VictimApp, VictimOp};
use crate::workload::Verb;

/// Method, path and body of `op` of victim `client` of `app`, for request `request`.
pub fn route(
    app: VictimApp,
    client: usize,
    op: &VictimOp,
    request: &str,
) -> (&'static str, String, Option<Value>) {
    let value = canary(app.name(), request);
    match op {
        VictimOp::Register(operation) => {
            let (method, path) = operation.route();
            let body = (operation.writes() && operation.verb != Verb::Delete)
                .then(|| json!({ "value": value }));
            (method, path, body)
        }
        VictimOp::PostTask => (
            "POST",
            "/api/tasks".to_owned(),
            Some(json!({ "session": session(app, client), "text": value })),
        ),
        VictimOp::ListTasks => (
            "GET",
            format!("/api/tasks?session={}", session(app, client)),
            None,
        ),
    }
}

/// The session of victim `client`: a canary of its own.
fn session(app: VictimApp, client: usize) -> String {
    canary(app.name(), &format!("session-v{client}"))
}

/// The cookie and authorization headers of request `request` of `app`.
pub fn secrets(app: VictimApp, request: &str) -> (String, String) {
    let secret = canary(app.name(), request);
    (format!("session={secret}"), format!("Bearer {secret}"))
}

/// Whether `status` is one of the app's documented answers to `op` (a duplicate
/// insert's 409 included): anything else is a failure of the victim.
pub fn succeeded(op: &VictimOp, status: u16) -> bool {
    let conflict = matches!(op, VictimOp::Register(o) if o.verb == Verb::Put) && status == 409;
    (200..300).contains(&status) || conflict
}
