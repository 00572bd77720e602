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
async fn failed_sign_ins_lock_the_user_name_known_or_not() {
    let t = start().await;
    for user in ["wangfang", "nobody"] {
        for i in 0..5 {
            let (st, retry, body) = try_login(&t, user, "wrong-password", "dev-a", false).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED, "{user} attempt {i}: {body}");
            assert_eq!(body["error"]["code"], "bad_credentials");
            assert_eq!(retry, None);
        }
        let (st, retry, body) = try_login(&t, user, "wrong-password", "dev-a", false).await;
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{user}: {body}");
        assert_eq!(body["error"]["code"], "too_many_attempts");
        let retry = retry.expect("Retry-After");
        assert!((890..=900).contains(&retry), "{retry}");
    }
    // Locked: even the right password is refused, and says nothing more.
    let (st, _, locked_known) = try_login(&t, "wangfang", DEMO_PASSWORD, "dev-a", false).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    let (_, _, locked_unknown) = try_login(&t, "nobody", DEMO_PASSWORD, "dev-a", false).await;
    let strip = |mut v: serde_json::Value| {
        // The message carries the seconds left, which may differ by one.
        v["error"]["message"] = json!(null);
        v
    };
    assert_eq!(strip(locked_known), strip(locked_unknown));
    // Other user names are not affected.
    t.login("lijun", "dev-l").await;
}

#[tokio::test]
async fn unknown_and_known_user_names_answer_the_same() {
    let t = start().await;
    let (st1, r1, known) = try_login(&t, "wangfang", "wrong-password", "dev-a", false).await;
    let (st2, r2, unknown) = try_login(&t, "nobody", "wrong-password", "dev-a", false).await;
    assert_eq!((st1, r1), (st2, r2));
    assert_eq!(known, unknown);
}

#[tokio::test]
async fn a_locked_sign_in_does_not_hash_the_password() {
    // A costly hash (in an unoptimised test build) against a refusal that must not hash at all.
    let t = start_with(|mut c| {
        c.argon2 = gridwalk_sync_server::Argon2Config {
            m_cost: 8 * 1024,
            t_cost: 2,
            p_cost: 1,
        };
        c.login_throttle.account.max_failures = 1;
        c
    })
    .await;
    let started = std::time::Instant::now();
    let (st, _, _) = try_login(&t, "wangfang", "wrong-password", "dev-a", false).await;
    let hashed = started.elapsed();
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let mut fastest = std::time::Duration::MAX;
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let (st, _, _) = try_login(&t, "wangfang", "wrong-password", "dev-a", false).await;
        fastest = fastest.min(started.elapsed());
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(
        fastest * 5 < hashed,
        "refused in {fastest:?}, a hashed attempt took {hashed:?}"
    );
}

#[tokio::test]
async fn a_successful_sign_in_resets_the_count_and_lockouts_grow() {
    let t = start_with(|mut c| {
        c.login_throttle.account.lockout_secs = 1;
        c
    })
    .await;
    for _ in 0..4 {
        let (st, _, _) = try_login(&t, "wangfang", "wrong-password", "dev-a", false).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    t.login("wangfang", "dev-a").await;
    // Five fresh failures are allowed again.
    for _ in 0..5 {
        let (st, _, _) = try_login(&t, "wangfang", "wrong-password", "dev-a", false).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, retry, _) = try_login(&t, "wangfang", "wrong-password", "dev-a", false).await;
    assert_eq!((st, retry), (StatusCode::TOO_MANY_REQUESTS, Some(1)));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The next lockout in a row lasts twice as long.
    for _ in 0..5 {
        let (st, _, _) = try_login(&t, "wangfang", "wrong-password", "dev-a", false).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, retry, _) = try_login(&t, "wangfang", "wrong-password", "dev-a", false).await;
    assert_eq!((st, retry), (StatusCode::TOO_MANY_REQUESTS, Some(2)));
}

#[tokio::test]
async fn one_address_may_fail_twenty_times_across_user_names() {
    let t = start().await;
    for i in 0..20 {
        let (st, _, _) = try_login(&t, &format!("guess{i}"), "wrong-password", "d", false).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let (st, retry, body) = try_login(&t, "guess99", "wrong-password", "d", false).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"]["code"], "too_many_attempts");
    assert!(retry.is_some_and(|r| r > 0));
    // The address is locked for everyone behind it, right password or not.
    let (st, _, _) = try_login(&t, "wangfang", DEMO_PASSWORD, "dev-a", false).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn successful_sign_ins_do_not_use_up_the_address_allowance() {
    let t = start_with(|mut c| {
        c.login_throttle.address.max_failures = 3;
        c
    })
    .await;
    for _ in 0..10 {
        t.login("wangfang", "dev-a").await;
    }
    for i in 0..3 {
        let (st, _, _) = try_login(&t, &format!("guess{i}"), "wrong-password", "d", false).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, _, _) = try_login(&t, "guess9", "wrong-password", "d", false).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_device_belongs_to_its_user_until_handed_over() {
    let t = start().await;
    let wang = t.login("wangfang", "shared").await;
    // Li signs in on Wang's phone: refused, and Wang is not signed out.
    let (st, _, body) = try_login(&t, "lijun", DEMO_PASSWORD, "shared", false).await;
    assert_eq!(st, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "device_in_use");
    assert_eq!(pull_status(&t, &wang).await, StatusCode::OK);
    // A wrong password learns nothing about the device.
    let (st, _, body) = try_login(&t, "lijun", "wrong-password", "shared", true).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "bad_credentials");
    assert_eq!(pull_status(&t, &wang).await, StatusCode::OK);

    // With the hand-over confirmed: Li is in, every token of Wang's on the phone is dead.
    let (st, _, body) = try_login(&t, "lijun", DEMO_PASSWORD, "shared", true).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let li: gridwalk_protocol::Session = serde_json::from_value(body).unwrap();
    assert_eq!(pull_status(&t, &li).await, StatusCode::OK);
    assert_eq!(pull_status(&t, &wang).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&t, &wang, "shared").await, StatusCode::UNAUTHORIZED);
    assert_eq!(pull_status(&t, &li).await, StatusCode::OK);

    // The phone is Li's now: Wang needs a hand-over back. Her other devices are untouched.
    let (st, _, body) = try_login(&t, "wangfang", DEMO_PASSWORD, "shared", false).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "device_in_use");
    t.login("wangfang", "her-tablet").await;
    // Li signing in again on his own phone needs no hand-over.
    let li2 = t.login("lijun", "shared").await;
    assert_eq!(pull_status(&t, &li2).await, StatusCode::OK);

    // The hand-over is on record (read from whichever database the server runs on).
    let sql = "SELECT h.device_id, f.username, n.username, h.sessions_ended
             FROM device_handovers h JOIN users f ON f.id = h.from_user
             JOIN users n ON n.id = h.to_user";
    let rows: Vec<(String, String, String, i64)> = match t.server.config().database.clone() {
        Some(url) => {
            let (c, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            c.query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect()
        }
        None => {
            let db = rusqlite::Connection::open(t.server.config().db_path()).unwrap();
            let mut stmt = db.prepare(sql).unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        }
    };
    assert_eq!(
        rows,
        vec![("shared".into(), "wangfang".into(), "lijun".into(), 1)]
    );
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
