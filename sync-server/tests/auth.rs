//! Sign-in, refresh rotation and the per-request checks.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn login_returns_scope_and_bad_password_is_refused() {
    let t = start().await;
    let s = t.login("wangfang", "dev-a").await;
    assert_eq!(s.user.grids, vec![DEMO_GRID.to_string()]);
    assert!(s
        .user
        .org
        .iter()
        .any(|u| u.code == DEMO_GRID && u.boundary.is_some()));
    assert!(s.user.org.iter().any(|u| u.level == "district"));

    let (st, body) = t
        .post(
            "/v1/auth/login",
            None,
            &json!({"username": "wangfang", "password": "wrong-password", "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "bad_credentials");
    // Unknown users get the same answer.
    let (st, body) = t
        .post(
            "/v1/auth/login",
            None,
            &json!({"username": "nobody", "password": "wrong-password", "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "bad_credentials");

    // A community admin sees all six grids of the community.
    let s = t.login("chenjing", "dev-c").await;
    assert_eq!(s.user.grids.len(), 6);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let t = start().await;
    let s1 = t.login("wangfang", "dev-a").await;
    let (st, body) = t
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": s1.refresh_token, "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let s2: gridwalk_protocol::Session = serde_json::from_value(body).unwrap();
    assert_ne!(s2.refresh_token, s1.refresh_token);
    // The new access token works; the old one was replaced.
    assert_eq!(
        t.get("/v1/sync/pull", Some(&s2.access_token)).await.0,
        StatusCode::OK
    );
    assert_eq!(
        t.get("/v1/sync/pull", Some(&s1.access_token)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Wrong device: refused.
    let (st, body) = t
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": s2.refresh_token, "device_id": "other"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "session_ended");

    // The old refresh token comes back: the whole family ends, including s2.
    let (st, body) = t
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": s1.refresh_token, "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "session_ended");
    let (st, body) = t.get("/v1/sync/pull", Some(&s2.access_token)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    let (st, _) = t
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": s2.refresh_token, "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Logging in again works.
    t.login("wangfang", "dev-a").await;
}

#[tokio::test]
async fn disabled_user_and_revoked_device_are_refused_on_the_next_request() {
    let t = start().await;
    let s = t.login("wangfang", "dev-a").await;
    let admin = t.server.admin();
    admin.disable_user("wangfang").unwrap();
    let (st, body) = t.get("/v1/sync/pull", Some(&s.access_token)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "user_disabled");
    let (st, body) = t
        .post(
            "/v1/auth/login",
            None,
            &json!({"username": "wangfang", "password": DEMO_PASSWORD, "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "user_disabled");
    admin.enable_user("wangfang").unwrap();
    // Enabled again, but the sessions of before stay ended.
    let (st, body) = t.get("/v1/sync/pull", Some(&s.access_token)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    let (st, body) = t
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": s.refresh_token, "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "session_ended");
    let s = t.login("wangfang", "dev-a").await;
    assert_eq!(
        t.get("/v1/sync/pull", Some(&s.access_token)).await.0,
        StatusCode::OK
    );

    admin.revoke_device("dev-a").unwrap();
    let (st, body) = t.get("/v1/sync/pull", Some(&s.access_token)).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "device_revoked");
    let (st, body) = t
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": s.refresh_token, "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "device_revoked");
    let (st, body) = t
        .post(
            "/v1/auth/login",
            None,
            &json!({"username": "wangfang", "password": DEMO_PASSWORD, "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "device_revoked");
    // Another device of the same user still works.
    t.login("wangfang", "dev-b").await;
}

#[tokio::test]
async fn expired_access_token_is_401_and_refresh_recovers() {
    let t = start_with(|mut c| {
        c.access_ttl_secs = 1;
        c
    })
    .await;
    let s = t.login("wangfang", "dev-a").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (st, body) = t.get("/v1/sync/pull", Some(&s.access_token)).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    let (st, body) = t.get("/v1/sync/pull", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    let (st, body) = t
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": s.refresh_token, "device_id": "dev-a"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(t.get("/v1/sync/pull", Some(token)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn admin_users_and_passwords() {
    let t = start().await;
    let admin = t.server.admin();
    admin
        .add_user(&gridwalk_sync_server::UserSpec {
            username: "sunli".into(),
            display_name: "孙丽".into(),
            role: gridwalk_protocol::Role::GridWorker,
            org_code: DEMO_GRID_2.into(),
            grids: vec![DEMO_GRID.into()],
            password: "first-pass".into(),
        })
        .unwrap();
    admin.set_password("sunli", "second-pass").unwrap();
    let (st, body) = t
        .post(
            "/v1/auth/login",
            None,
            &json!({"username": "sunli", "password": "second-pass", "device_id": "d1"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // Attached to one grid and working a second one.
    assert_eq!(body["user"]["grids"], json!([DEMO_GRID, DEMO_GRID_2]));
    // Duplicate user names are refused with a field and a code.
    let err = admin
        .add_user(&gridwalk_sync_server::UserSpec {
            username: "sunli".into(),
            display_name: "x".into(),
            role: gridwalk_protocol::Role::GridWorker,
            org_code: DEMO_GRID.into(),
            grids: vec![],
            password: "whatever-pass".into(),
        })
        .unwrap_err();
    assert!(
        matches!(err, gridwalk_sync_server::Error::Invalid { ref field, code: "duplicate" } if field == "username")
    );
}

/// A login answer: status, `Retry-After` (seconds) and the JSON body.
async fn try_login(
    t: &TestServer,
    user: &str,
    password: &str,
    device: &str,
    hand_over: bool,
) -> (StatusCode, Option<u64>, serde_json::Value) {
    let res = t
        .req(reqwest::Method::POST, "/v1/auth/login", None)
        .json(
            &json!({"username": user, "password": password, "device_id": device,
            "hand_over": hand_over}),
        )
        .send()
        .await
        .unwrap();
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
    (status, retry, res.json().await.unwrap())
}

async fn refresh(t: &TestServer, s: &gridwalk_protocol::Session, device: &str) -> StatusCode {
    let (st, body) = t
        .post(
            "/v1/auth/refresh",
            None,
            &json!({"refresh_token": s.refresh_token, "device_id": device}),
        )
        .await;
    if st != StatusCode::OK {
        assert_eq!(body["error"]["code"], "session_ended", "{body}");
    }
    st
}

async fn pull_status(t: &TestServer, s: &gridwalk_protocol::Session) -> StatusCode {
    t.get("/v1/sync/pull", Some(&s.access_token)).await.0
}

#[tokio::test]
async fn a_password_change_ends_every_session() {
    let t = start().await;
    let a = t.login("wangfang", "dev-a").await;
    let b = t.login("wangfang", "dev-b").await;
    let other = t.login("lijun", "dev-l").await;
    t.server
        .admin()
        .set_password("wangfang", "brand-new-pass")
        .unwrap();
    for (s, dev) in [(&a, "dev-a"), (&b, "dev-b")] {
        let (st, body) = t.get("/v1/sync/pull", Some(&s.access_token)).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"]["code"], "token_expired");
        assert_eq!(refresh(&t, s, dev).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(pull_status(&t, &other).await, StatusCode::OK);
    let (st, _, _) = try_login(&t, "wangfang", DEMO_PASSWORD, "dev-a", false).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _, _) = try_login(&t, "wangfang", "brand-new-pass", "dev-a", false).await;
    assert_eq!(st, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_that_session_only() {
    let t = start().await;
    let a = t.login("wangfang", "dev-a").await;
    let b = t.login("wangfang", "dev-b").await;
    let res = t
        .req(
            reqwest::Method::POST,
            "/v1/auth/logout",
            Some(&a.access_token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(pull_status(&t, &a).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&t, &a, "dev-a").await, StatusCode::UNAUTHORIZED);
    assert_eq!(pull_status(&t, &b).await, StatusCode::OK);
    assert_eq!(refresh(&t, &b, "dev-b").await, StatusCode::OK);
    // A second logout with the dead token, or none: 401 JSON.
    let (st, body) = t
        .post("/v1/auth/logout", Some(&a.access_token), &json!({}))
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    let (st, body) = t.post("/v1/auth/logout", None, &json!({})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "token_expired");
    // Signing in again on the device works.
    let a2 = t.login("wangfang", "dev-a").await;
    assert_eq!(pull_status(&t, &a2).await, StatusCode::OK);
}
