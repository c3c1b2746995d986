//! An app's `Set-Cookie` may not reach other apps: all apps share the server's domain,
//! so a cookie with `Domain=<domain>` (or any name but the app's own host) would be
//! sent to every other app on it. Such a `Domain` attribute is dropped, which leaves a
//! host-only cookie: the browser sends it back to the app's own host alone. The
//! cookie itself is kept, so the app still works.

/// `set_cookie` without a `Domain` attribute naming anything but `own_host` (the
/// request's host, lowercase, without port). Attributes are rejoined with `"; "`.
pub fn confine_to_host(set_cookie: &str, own_host: &str) -> String {
    set_cookie
        .split(';')
        .enumerate()
        .map(|(index, part)| (index, part.trim()))
        .filter(|(index, attribute)| *index == 0 || names_only(attribute, own_host))
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join("; ")
}

/// False for a `Domain` attribute naming another host than `own_host`.
fn names_only(attribute: &str, own_host: &str) -> bool {
    let (name, value) = attribute.split_once('=').unwrap_or((attribute, ""));
    if !name.trim().eq_ignore_ascii_case("domain") {
        return true;
    }
    let domain = value.trim().trim_start_matches('.').trim_end_matches('.');
    !own_host.is_empty() && domain.eq_ignore_ascii_case(own_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_other_than_the_own_host_are_dropped() {
        let own = "app.example.com";
        assert_eq!(
            confine_to_host("a=1; Domain=example.com; Path=/", own),
            "a=1; Path=/"
        );
        assert_eq!(confine_to_host("a=1;domain=.COM", own), "a=1");
        assert_eq!(confine_to_host("a=1; Domain", own), "a=1");
        assert_eq!(
            confine_to_host("a=1; Domain=App.Example.com; Secure", own),
            "a=1; Domain=App.Example.com; Secure"
        );
        assert_eq!(
            confine_to_host("domain=x; HttpOnly", own),
            "domain=x; HttpOnly"
        );
        assert_eq!(confine_to_host("a=1; Domain=x.com", ""), "a=1");
    }
}
