//! The static pages a node serves beside JSON-RPC, on the same port and
//! origin: today the browser verifier (`web/verifier.html`, built from
//! `web/src` and committed), at `GET /verify`. Pages are compiled into the
//! binary, read-only, and carry a Content-Security-Policy that forbids
//! every request, so a page served by a node can do nothing a copy opened
//! from `file://` could not: the verifier trusts the node no more for
//! having come from it.

use http_body_util::Full;
use hyper::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};
use jsonrpsee::server::HttpBody;

/// The browser verifier, as built by `web/build.mjs`.
pub const VERIFIER_HTML: &str = include_str!("../../web/verifier.html");

/// What the page may do: run its own inline script and style, nothing else.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The page at `path`, if there is one.
#[must_use]
pub fn page(path: &str) -> Option<&'static str> {
    match path {
        "/verify" | "/verify/" | "/verifier.html" => Some(VERIFIER_HTML),
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
    let html = page(request.uri().path())?;
    let mut response = Response::new(HttpBody::new(Full::new(html.as_bytes().into())));
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}
