//! Pantheon's JSON-RPC API: the methods of `PRODUCT.md` over HTTP and
//! WebSocket on one port.
//!
//! - [`api`]: the jsonrpsee method trait and its implementation over a
//!   [`api::Backend`] that the node provides. This crate never reaches into
//!   node internals: it parses and validates input, calls the backend on the
//!   blocking pool, and maps failures to stable codes.
//! - [`types`]: the JSON shapes of answers.
//! - [`error`]: the stable error codes.
//! - [`envelope`]: the JSON-RPC 2.0 envelope check (ids, members, the
//!   number and names of parameters), a pure core run before jsonrpsee.
//! - [`server`]: the server with request-size, response-size, batch,
//!   connection and subscription limits, and header and body timeouts.
//! - [`admission`]: which connections the server accepts (per-address
//!   limits and a reserve), a pure core.
//! - [`metrics`]: per-method call latency, recorded lock-free by a
//!   jsonrpsee middleware, read by the node's `/metrics`.
//! - [`openrpc`]: the document served at `rpc.discover`.
//! - [`pages`]: the static pages served on the same port (`GET /verify`,
//!   the browser verifier of `web/`; `GET /explorer`, the explorer).

pub mod admission;
pub mod api;
pub mod envelope;
pub mod error;
pub mod metrics;
pub mod openrpc;
pub mod pages;
pub mod server;
pub mod types;

pub use api::{Backend, parse_hash, parse_tx};
pub use error::ApiError;
pub use server::{Limits, start, start_timed};
