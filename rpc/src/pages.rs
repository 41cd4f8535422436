//! The static pages a node serves beside JSON-RPC, on the same port and
//! origin, both built from `web/src` by `web/build.mjs` and committed:
//!
//! - `GET /verify`: the browser verifier (`web/verifier.html`). Its
//!   Content-Security-Policy forbids every request, so a verifier served by
//!   a node can do nothing a copy opened from `file://` could not: it trusts
//!   the node no more for having come from it.
//! - `GET /explorer`: the explorer (`web/explorer.html`), which reads this
//!   node's JSON-RPC (POST) and its finalized-head subscription (WebSocket).
//!   Its policy allows exactly that, `connect-src 'self'` (same-origin HTTP
//!   and WebSocket), besides its own inline script and style: it can make
//!   no request to any other origin, load no script, style, font or frame
//!   from anywhere, and submit no form.
//!
//! Pages are compiled into the binary and read-only; their bytes are the
//! committed files (`node build.mjs --check` fails when one is stale).

use http_body_util::Full;
use hyper::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};
use jsonrpsee::server::HttpBody;

/// The browser verifier, as built by `web/build.mjs`.
pub const VERIFIER_HTML: &str = include_str!("../../web/verifier.html");

/// The explorer, as built by `web/build.mjs`.
pub const EXPLORER_HTML: &str = include_str!("../../web/explorer.html");

/// What the verifier may do: run its own inline script and style, nothing
/// else.
pub const VERIFIER_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
                                style-src 'unsafe-inline'; img-src data:; form-action 'none'; \
                                base-uri 'none'; frame-ancestors 'none'";

/// What the explorer may do: run its own inline script and style, and
/// connect to this origin (JSON-RPC over HTTP and WebSocket), nothing else.
pub const EXPLORER_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
                                style-src 'unsafe-inline'; connect-src 'self'; img-src data:; \
                                form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// A page and the policy it is served with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// The HTML.
    pub html: &'static str,
    /// Its `Content-Security-Policy` header.
    pub csp: &'static str,
}

/// The page at `path`, if there is one.
#[must_use]
pub fn page(path: &str) -> Option<Page> {
    match path {
        "/verify" | "/verify/" | "/verifier.html" => Some(Page {
            html: VERIFIER_HTML,
            csp: VERIFIER_CSP,
        }),
        "/explorer" | "/explorer/" | "/explorer.html" => Some(Page {
            html: EXPLORER_HTML,
            csp: EXPLORER_CSP,
        }),
        _ => None,
    }
}

/// Answers a `GET` or `HEAD` of a page; `None` for every other request
/// (JSON-RPC, WebSocket upgrades), which goes to jsonrpsee.
pub fn answer<B>(request: &Request<B>) -> Option<Response<HttpBody>> {
    // hyper writes no body in answer to HEAD, with the GET's length.
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return None;
    }
    let page = page(request.uri().path())?;
    let mut response = Response::new(HttpBody::new(Full::new(page.html.as_bytes().into())));
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(page.csp));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn get(path: &str) -> Option<Response<HttpBody>> {
        answer(&Request::get(path).body(()).expect("a valid request"))
    }

    fn header(r: &Response<HttpBody>, name: hyper::header::HeaderName) -> &str {
        r.headers()
            .get(name)
            .expect("header present")
            .to_str()
            .expect("ASCII header")
    }

    async fn body(r: Response<HttpBody>) -> String {
        let bytes = r
            .into_body()
            .collect()
            .await
            .expect("a full body")
            .to_bytes();
        String::from_utf8(bytes.to_vec()).expect("UTF-8 page")
    }

    /// The policy's directives, by name.
    fn directives(csp: &str) -> std::collections::BTreeMap<&str, &str> {
        csp.split(';')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| d.split_once(' ').unwrap_or((d, "")))
            .collect()
    }

    #[tokio::test]
    async fn the_explorer_is_served_with_a_policy_that_allows_only_its_own_origin() {
        for path in ["/explorer", "/explorer/", "/explorer.html"] {
            let r = get(path).expect("the explorer is served");
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, CONTENT_TYPE), "text/html; charset=utf-8");
            assert_eq!(header(&r, X_CONTENT_TYPE_OPTIONS), "nosniff");
            let csp = directives(header(&r, CONTENT_SECURITY_POLICY));
            assert_eq!(csp["default-src"], "'none'", "{csp:?}");
            assert_eq!(csp["connect-src"], "'self'", "{csp:?}");
            assert_eq!(csp["script-src"], "'unsafe-inline'", "{csp:?}");
            assert_eq!(csp["style-src"], "'unsafe-inline'", "{csp:?}");
            assert_eq!(csp["img-src"], "data:", "{csp:?}");
            assert_eq!(csp["form-action"], "'none'", "{csp:?}");
            assert_eq!(csp["base-uri"], "'none'", "{csp:?}");
            assert_eq!(csp["frame-ancestors"], "'none'", "{csp:?}");
            assert_eq!(csp.len(), 8, "no other source is allowed anything: {csp:?}");
            let html = body(r).await;
            assert_eq!(html, EXPLORER_HTML);
            assert!(html.contains("<title>Pantheon explorer</title>"));
            // The page names no other origin to load from.
            for needle in ["http://", "https://", "ws://", "wss://", " src="] {
                assert!(!html.contains(needle), "the explorer contains {needle:?}");
            }
        }
    }

    #[tokio::test]
    async fn the_verifier_may_connect_nowhere() {
        let r = get("/verify").expect("the verifier is served");
        let csp = directives(header(&r, CONTENT_SECURITY_POLICY));
        assert_eq!(csp["default-src"], "'none'");
        assert!(!csp.contains_key("connect-src"), "{csp:?}");
        assert_eq!(body(r).await, VERIFIER_HTML);
    }

    #[test]
    fn other_paths_and_methods_go_to_json_rpc() {
        assert!(get("/").is_none());
        assert!(get("/explorer/block/1").is_none());
        let post = Request::post("/explorer")
            .body(())
            .expect("a valid request");
        assert!(answer(&post).is_none());
        let head = Request::head("/explorer")
            .body(())
            .expect("a valid request");
        assert!(answer(&head).is_some());
    }
}
