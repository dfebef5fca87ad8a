//! Global Privacy Control (W3C GPC): a `Sec-GPC: 1` header is the person's request to opt out of
//! the sale and sharing of their data and of targeted advertising.

use axum::http::HeaderMap;

/// Whether the request carries the signal. Only the exact value `1` counts (the specification
/// gives no other value a meaning); when the header is repeated, any `1` among them counts.
pub fn signalled(headers: &HeaderMap) -> bool {
    headers.get_all("sec-gpc").iter().any(|v| v.as_bytes() == b"1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(values: &[&str], expect: bool) {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("sec-gpc", HeaderValue::from_str(v).unwrap());
        }
        assert_eq!(signalled(&h), expect, "{values:?}");
    }

    #[test]
    fn only_the_exact_value_one_counts() {
        check(&[], false);
        check(&["1"], true);
        check(&["0"], false);
        check(&["1 "], false);
        check(&["true"], false);
        check(&["01"], false);
        check(&[""], false);
        check(&["0", "1"], true);
        check(&["x", "0"], false);
    }
}
