//! The page shell every console page shares: head, header with navigation, user and language
//! switch, the sign-out form, and the security headers of every console answer.
//!
//! Pages are maud templates (compile-time checked, every interpolation HTML-escaped). No inline
//! script or style anywhere, so the Content-Security-Policy can forbid both: scripts and styles
//! come only from `/console/assets/` (embedded in the binary, [`super::assets`]).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::i18n::Lang;
use super::session::{urlencode, Ctx, BASE};

/// The policy of every console page: nothing but this origin's own scripts, styles and images;
/// no framing, no plugins, forms post only here.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Navigation entries (the current one is highlighted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Queue,
    Tasks,
    Deadlines,
    Warnings,
    Map,
    Workers,
    Ledgers,
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (lang.texts().app_name) }
            link rel="stylesheet" href={(BASE) "/assets/console.css"};
            script src={(BASE) "/assets/console.js"} defer {}
        }
    }
}

/// A full page for a signed-in user.
pub fn page(ctx: &Ctx, nav: Nav, title: &str, body: Markup) -> Response {
    let t = ctx.t();
    let other = ctx.lang.other();
    let items = [
        (Nav::Queue, "queue", t.nav_queue),
        (Nav::Tasks, "tasks", t.nav_tasks),
        (Nav::Deadlines, "deadlines", t.nav_deadlines),
        (Nav::Warnings, "warnings", t.nav_warnings),
        (Nav::Map, "map", t.nav_map),
        (Nav::Workers, "workers", t.nav_workers),
        (Nav::Ledgers, "ledgers", t.nav_ledgers),
    ];
    let markup = html! {
        (DOCTYPE)
        html lang=(ctx.lang.html_lang()) {
            (head(ctx.lang, title))
            body {
                a.skip href="#main" { (t.skip_to_content) }
                header.top {
                    a.brand href={(BASE) "/queue"} { (t.app_name) }
                    nav aria-label=(t.app_name) {
                        ul {
                            @for (n, path, label) in items {
                                li {
                                    a href={(BASE) "/" (path)}
                                        aria-current=[(n == nav).then_some("page")] { (label) }
                                }
                            }
                        }
                    }
                    div.user {
                        span.who data-username=(ctx.user.username) {
                            (ctx.user.display_name) " · " (ctx.lang.role(ctx.user.role))
                        }
                        a.lang href={(BASE) "/lang?to=" (other.code()) "&next=" (urlencode(&ctx.path))}
                            lang=(other.html_lang()) { (t.switch_to) }
                        form.logout method="post" action={(BASE) "/logout"} {
                            input type="hidden" name="csrf" value=(ctx.csrf);
                            button type="submit" { (t.sign_out) }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    };
    html_response(markup, StatusCode::OK)
}

/// A page without navigation (sign-in, refusals, errors).
pub fn bare(lang: Lang, title: &str, body: Markup, status: StatusCode) -> Response {
    let t = lang.texts();
    let other = lang.other();
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            (head(lang, title))
            body.bare {
                header.top {
                    a.brand href={(BASE) "/queue"} { (t.app_name) }
                    div.user {
                        a.lang href={(BASE) "/lang?to=" (other.code()) "&next=/console/login"}
                            lang=(other.html_lang()) { (t.switch_to) }
                    }
                }
                (body)
            }
        }
    };
    html_response(markup, status)
}

/// An HTML answer.
pub fn html_response(markup: Markup, status: StatusCode) -> Response {
    let mut res = (status, markup.into_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

/// Security headers on every console answer (pages, assets, photos, errors).
pub async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
