//! A request's arrival and the one deadline born from it. The router makes an
//! [`Arrival`] when the request's head is read; every path after it (an `/api`
//! handler, a deploy upload, `/api/envvars`) runs under that deadline instead of
//! making its own from the clock later.

use http::request::Parts;
use http::Method;

use super::config::ServerConfig;
use super::host::Route;
use crate::env::{Deadline, Instant};

/// The path of the deploy upload on the admin host.
pub const DEPLOY_PATH: &str = "/api/deploy";

/// When a request arrived and when it must be answered by.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    /// When its head was read: its body's pace is counted from here.
    pub at: Instant,
    /// `at` plus the request's budget: the deadline of its execution and storage calls.
    pub deadline: Deadline,
}

impl Arrival {
    /// The arrival at `at` of a request routed to `route`. A deploy upload's budget is
    /// [`super::DeployLimits::upload_timeout`] (its body and then its deploy, up to
    /// 32 MiB from an admin); every other request's is
    /// [`ServerConfig::request_timeout`].
    pub fn new(at: Instant, route: &Route, parts: &Parts, config: &ServerConfig) -> Arrival {
        let upload = *route == Route::Admin
            && parts.method == Method::POST
            && parts.uri.path() == DEPLOY_PATH;
        let budget = if upload {
            config.deploy.upload_timeout
        } else {
            config.request_timeout
        };
        Arrival {
            at,
            deadline: Deadline::at(at + budget),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Request;

    use super::*;
    use crate::env::{Clock, RealClock};

    fn arrival(method: Method, path: &str, route: &Route) -> Arrival {
        let (parts, ()) = Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
            .into_parts();
        let config = ServerConfig::new("fazt.test", "token");
        Arrival::new(RealClock::new().now(), route, &parts, &config)
    }

    fn budget(arrival: &Arrival) -> Duration {
        arrival.deadline.remaining(arrival.at).unwrap()
    }

    /// A deploy upload's deadline covers its upload and its deploy: born at arrival with
    /// the upload's budget, not made from the clock after the body was read.
    #[test]
    fn a_deploy_upload_gets_the_upload_budget_from_its_arrival() {
        let config = ServerConfig::new("fazt.test", "token");
        let upload = arrival(Method::POST, DEPLOY_PATH, &Route::Admin);
        assert_eq!(budget(&upload), config.deploy.upload_timeout);
        for (method, path, route) in [
            (Method::GET, DEPLOY_PATH, Route::Admin),
            (Method::POST, "/api/envvars", Route::Admin),
            (Method::POST, DEPLOY_PATH, Route::App("momentum".into())),
        ] {
            let other = arrival(method, path, &route);
            assert_eq!(
                budget(&other),
                config.request_timeout,
                "{path} on {route:?}"
            );
        }
    }
}
