//! Case photos for the console: `GET /console/photos/{sha}?photo_id=…`, authenticated by the
//! session cookie and served by the same rule as the phones' blob downloads
//! ([`crate::uploads::serve_blob`]): the photo record must be in the caller's scope, carry
//! this hash and be linked to bytes its pusher uploaded. Anything else is the console's 404,
//! the same page as for a photo that does not exist.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::session::Ctx;
use super::{Fail, Failure};
use crate::AppState;

/// The URL of a photo on a console page.
pub fn url(sha256: &str, photo_id: &str) -> String {
    format!(
        "{}/photos/{sha256}?photo_id={}",
        super::session::BASE,
        super::session::urlencode(photo_id)
    )
}

/// `GET /console/photos/{sha}?photo_id=`.
pub async fn photo(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(sha): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let photo_id = q.get("photo_id").cloned().unwrap_or_default();
    crate::uploads::serve_blob(&state, ctx.who.clone(), sha, photo_id)
        .await
        .map_err(|e| {
            if e.status == axum::http::StatusCode::NOT_FOUND {
                ctx.fail(Fail::NotFound)
            } else {
                ctx.fail(Fail::Internal)
            }
        })
}
