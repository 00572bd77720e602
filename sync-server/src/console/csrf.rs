//! Cross-site request forgery protection: a synchronizer token per browser session.
//!
//! Every state-changing request of the console is a POST form carrying the session's token in
//! a hidden `csrf` field; the server compares it (in constant time) with the token stored with
//! the session and refuses a missing or wrong one with `403 csrf_refused`, changing nothing.
//! The session cookie is also `SameSite=Strict`, and a request the browser marks
//! `Sec-Fetch-Site: cross-site` is refused outright: three independent locks.
//!
//! Sign-in has no session yet, so its form uses a double-submit token instead: a random
//! `gw_login_csrf` cookie set with the form and echoed in the form body, which another site can
//! neither read nor set (login CSRF would sign a victim into the attacker's account).

use axum::http::HeaderMap;

/// Name of the hidden form field.
pub const FIELD: &str = "csrf";
/// Cookie of the sign-in form's double-submit token.
pub const LOGIN_COOKIE: &str = "gw_login_csrf";
/// Error code of a refused token (also the `x-gridwalk-error` header of the answer).
pub const REFUSED: &str = "csrf_refused";

/// A new token (256 random bits).
pub fn new_token() -> String {
    crate::auth::new_token()
}

/// Whether `given` is exactly `expected`, compared in time independent of where they differ.
pub fn matches(expected: &str, given: Option<&str>) -> bool {
    let Some(given) = given else {
        return false;
    };
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    if a.is_empty() || a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the browser says the request comes from another site (Fetch Metadata).
pub fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_must_match_exactly() {
        let t = new_token();
        assert!(matches(&t, Some(&t)));
        assert!(!matches(&t, None));
        assert!(!matches(&t, Some("")));
        assert!(!matches(&t, Some(&t[1..])));
        let mut other = t.clone();
        other.replace_range(0..1, if t.starts_with('A') { "B" } else { "A" });
        assert!(!matches(&t, Some(&other)));
        assert!(
            !matches("", Some("")),
            "an empty expected token never matches"
        );
    }

    #[test]
    fn fetch_metadata_cross_site_is_spotted() {
        let mut h = HeaderMap::new();
        assert!(!cross_site(&h));
        h.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(!cross_site(&h));
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(cross_site(&h));
    }
}
