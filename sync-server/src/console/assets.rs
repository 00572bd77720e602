//! The console's static files, embedded in the binary (`include_str!`): the server needs no
//! asset folder, no second process and no network at run time. Plain CSS and a few lines of
//! JavaScript without a build step; fonts are the system's (a CJK font such as Noto Sans CJK
//! renders the Chinese).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// (name, content type, bytes) of every asset.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console-assets/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console-assets/console.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console-assets/map.js"),
    ),
];

/// `GET /console/assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let Some((_, mime, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut res = (*body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    // Assets change only with the binary; an hour of caching is safe across upgrades.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
