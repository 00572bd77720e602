//! [`HttpTransport`]: protocol v1 over HTTP with `reqwest`'s blocking client.
//!
//! The core is synchronous and the shells call sync off the UI thread, so a blocking client is
//! the simplest correct choice (no runtime to own). Bodies are JSON; push bodies are compressed
//! with zstd (`content-encoding: zstd`) because a day of visits and patrol tracks compresses
//! five- to tenfold and rural uplinks are slow. Responses are accepted zstd-compressed and
//! decompressed here rather than inside `reqwest`, so the bytes counted are the bytes that
//! crossed the network (the benchmark reports them) and a hostile or broken answer cannot
//! inflate past a fixed limit.
//!
//! Tokens are not held here: every authenticated call takes the access token from the store
//! (see `session.rs`, [`crate::Store::with_access`]). The photo uploader reuses this client
//! through [`HttpTransport::send_authorized`], which adds the same headers, limits, error
//! mapping and token refresh.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use gridwalk_protocol::{
    ErrorBody, LoginRequest, PullResponse, PushRequest, PushResponse, RefreshRequest, Session,
    HEADER_PROTOCOL, PROTOCOL_VERSION, PULL_CLOCKS_COMPACT, PULL_CLOCKS_PARAM,
};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::transport::{Transport, TransportError};
use super::SyncError;
use crate::store::Store;

/// Largest response body accepted after decompression.
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;
/// zstd level for request bodies: fast on a cheap phone, most of the gain.
const ZSTD_LEVEL: i32 = 3;

/// Timeouts and record encoding of an [`HttpTransport`].
#[derive(Debug, Clone, Copy)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Whole request, body included.
    pub request_timeout: Duration,
    /// Ask for compact records when pulling (one clock per record plus the fields whose clock
    /// differs; `docs/protocol.md`, "Pull"). On by default; off behaves as phones from before
    /// the compact encoding (every field's clock), which the tests use to stand in for them.
    pub compact_records: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            compact_records: true,
        }
    }
}

/// Protocol v1 over HTTP(S).
pub struct HttpTransport {
    base: String,
    client: Client,
    compact_records: bool,
    sent: AtomicU64,
    received: AtomicU64,
    /// Body bytes before compression (sent) and after decompression (received): what the
    /// phone encodes and parses, against what crossed the network.
    json_sent: AtomicU64,
    json_received: AtomicU64,
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn network(e: &reqwest::Error) -> TransportError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "io"
    };
    TransportError::Network { kind }
}

impl HttpTransport {
    /// A transport for the server at `base_url` (e.g. `http://127.0.0.1:8787`).
    pub fn new(base_url: &str) -> Result<HttpTransport, TransportError> {
        Self::with_options(base_url, HttpOptions::default())
    }

    pub fn with_options(
        base_url: &str,
        options: HttpOptions,
    ) -> Result<HttpTransport, TransportError> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(TransportError::Rejected {
                status: 0,
                code: "invalid_url".into(),
                message: "服务器地址须以 http:// 或 https:// 开头 / the server address must start with http:// or https://".into(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_PROTOCOL, PROTOCOL_VERSION.into());
        headers.insert(
            reqwest::header::ACCEPT_ENCODING,
            reqwest::header::HeaderValue::from_static("zstd"),
        );
        let client = Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .default_headers(headers)
            // Decompression is done by hand (see the module docs).
            .no_zstd()
            .no_gzip()
            .build()
            .map_err(|e| network(&e))?;
        Ok(HttpTransport {
            base,
            client,
            compact_records: options.compact_records,
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            json_sent: AtomicU64::new(0),
            json_received: AtomicU64::new(0),
        })
    }

    /// A transport for the server the store is signed in to.
    pub fn for_store(store: &Store) -> Result<HttpTransport, SyncError> {
        let s = store.session()?.ok_or(SyncError::NotSignedIn)?;
        Ok(HttpTransport::new(&s.server_url)?)
    }

    /// The underlying client (default headers: protocol version, `accept-encoding: zstd`).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Absolute URL of a server path such as `/v1/uploads`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Resets the byte counters (benchmarks).
    pub fn reset_counters(&self) {
        for c in [
            &self.sent,
            &self.received,
            &self.json_sent,
            &self.json_received,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Body bytes (sent, received) as the phone encodes and parses them: before compression
    /// going out, after decompression coming in. [`Transport::wire_bytes`] counts what crossed
    /// the network; the benchmark prints both.
    pub fn body_bytes(&self) -> (u64, u64) {
        (
            self.json_sent.load(Ordering::Relaxed),
            self.json_received.load(Ordering::Relaxed),
        )
    }

    /// Adds `n` to the sent-bytes counter (callers that attach their own bodies, e.g. uploads).
    pub fn count_sent(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Sends an authenticated request built by `build` (given the client and an access
    /// token), with token refresh and the same error mapping as the sync calls. A 2xx or 3xx
    /// answer is returned as is (status, headers, raw body); 4xx/5xx become [`TransportError`]s.
    /// Used by the photo uploader for `/v1/uploads` requests.
    pub fn send_authorized(
        &self,
        store: &Store,
        build: impl Fn(&Client, &str) -> RequestBuilder,
    ) -> Result<RawResponse, SyncError> {
        store.with_access(self, |token| {
            let resp = build(&self.client, token).send().map_err(|e| network(&e))?;
            self.raw(resp)
        })
    }

    /// Reads a whole answer: counts its bytes, decompresses it, maps error statuses.
    fn raw(&self, resp: Response) -> Result<RawResponse, TransportError> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let zstd = headers
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("zstd"));
        let mut wire = Vec::new();
        resp.take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut wire)
            .map_err(|_| TransportError::Network { kind: "io" })?;
        self.received
            .fetch_add(wire.len() as u64, Ordering::Relaxed);
        if wire.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(TransportError::Protocol("response too large".into()));
        }
        let body = if zstd {
            let mut out = Vec::new();
            zstd::stream::read::Decoder::new(wire.as_slice())
                .map_err(|_| TransportError::Protocol("bad zstd body".into()))?
                .take(MAX_RESPONSE_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(|_| TransportError::Protocol("bad zstd body".into()))?;
            if out.len() as u64 > MAX_RESPONSE_BYTES {
                return Err(TransportError::Protocol("response too large".into()));
            }
            out
        } else {
            wire
        };
        self.json_received
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        if status >= 400 {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(b) => (b.error.code, b.error.message),
                Err(_) => (format!("http_{status}"), String::new()),
            };
            return Err(TransportError::from_status(status, &code, &message));
        }
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    fn json<T: DeserializeOwned>(&self, rb: RequestBuilder) -> Result<T, TransportError> {
        let resp = rb.send().map_err(|e| network(&e))?;
        let raw = self.raw(resp)?;
        serde_json::from_slice(&raw.body)
            .map_err(|e| TransportError::Protocol(format!("unexpected answer: {e}")))
    }

    /// A JSON body, zstd-compressed when `compress`; counts the bytes sent.
    fn body<B: Serialize>(
        &self,
        rb: RequestBuilder,
        body: &B,
        compress: bool,
    ) -> Result<RequestBuilder, TransportError> {
        let json = serde_json::to_vec(body)
            .map_err(|e| TransportError::Protocol(format!("cannot encode request: {e}")))?;
        let rb = rb.header(CONTENT_TYPE, "application/json");
        self.json_sent
            .fetch_add(json.len() as u64, Ordering::Relaxed);
        let (rb, bytes) = if compress {
            let z = zstd::bulk::compress(&json, ZSTD_LEVEL)
                .map_err(|_| TransportError::Protocol("cannot compress request".into()))?;
            (rb.header(CONTENT_ENCODING, "zstd"), z)
        } else {
            (rb, json)
        };
        self.count_sent(bytes.len() as u64);
        Ok(rb.body(bytes))
    }
}

/// A successful answer of [`HttpTransport::send_authorized`].
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// Decompressed body.
    pub body: Vec<u8>,
}

impl Transport for HttpTransport {
    fn endpoint(&self) -> String {
        self.base.clone()
    }

    fn login(&self, req: &LoginRequest) -> Result<Session, TransportError> {
        let rb = self.client.post(self.url("/v1/auth/login"));
        self.json(self.body(rb, req, false)?)
    }

    fn refresh(&self, req: &RefreshRequest) -> Result<Session, TransportError> {
        let rb = self.client.post(self.url("/v1/auth/refresh"));
        self.json(self.body(rb, req, false)?)
    }

    fn logout(&self, access_token: &str) -> Result<(), TransportError> {
        let rb = self
            .client
            .post(self.url("/v1/auth/logout"))
            .header(AUTHORIZATION, format!("Bearer {access_token}"));
        let resp = rb.send().map_err(|e| network(&e))?;
        self.raw(resp).map(|_| ())
    }

    fn push(&self, access_token: &str, req: &PushRequest) -> Result<PushResponse, TransportError> {
        let rb = self
            .client
            .post(self.url("/v1/sync/push"))
            .header(AUTHORIZATION, format!("Bearer {access_token}"));
        self.json(self.body(rb, req, true)?)
    }

    fn pull(
        &self,
        access_token: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<PullResponse, TransportError> {
        let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string())];
        if let Some(c) = cursor {
            query.push(("cursor", c.to_string()));
        }
        if self.compact_records {
            query.push((PULL_CLOCKS_PARAM, PULL_CLOCKS_COMPACT.to_string()));
        }
        let rb = self
            .client
            .get(self.url("/v1/sync/pull"))
            .query(&query)
            .header(AUTHORIZATION, format!("Bearer {access_token}"));
        self.json(rb)
    }

    fn wire_bytes(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.received.load(Ordering::Relaxed),
        )
    }
}
