//! The supervisors' web console over real HTTP: browser sessions, CSRF, scope, the queue's
//! order, paging and lights, evaluation and the satisfaction call-back, tasks and deadlines.

mod common;

use common::*;
use gridwalk_protocol::{Op, Outcome};
use gridwalk_sync_server::cases::{Action, ActionRequest};
use gridwalk_sync_server::console::store::{PageAt, QueueFilter};
use gridwalk_sync_server::Principal;
use reqwest::{header, Method, StatusCode};

/// A browser: cookies kept by hand, redirects not followed.
struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
}

struct Page {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Page {
    fn error_code(&self) -> Option<String> {
        self.headers
            .get("x-gridwalk-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The first hidden CSRF token on the page.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a token")
            + 19;
        self.body[at..].split('"').next().unwrap().to_string()
    }

    fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
}

impl Browser {
    fn new(t: &TestServer) -> Browser {
        Browser {
            base: t.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|c| c.1.clone())
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        extra: &[(&str, &str)],
    ) -> Page {
        let mut r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header());
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        if let Some(f) = form {
            r = r.form(f);
        }
        let res = r.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        for sc in headers.get_all(header::SET_COOKIE) {
            let sc = sc.to_str().unwrap();
            let (kv, _) = sc.split_once(';').unwrap_or((sc, ""));
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !sc.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        Page {
            status,
            headers,
            body: res.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None, &[]).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form), &[]).await
    }

    /// Signs in; returns the answer of the sign-in POST.
    async fn sign_in(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/console/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let token = form.csrf();
        self.post(
            "/console/login",
            &[
                ("csrf", &token),
                ("username", user),
                ("password", password),
                ("next", "/console/queue"),
            ],
        )
        .await
    }

    async fn signed_in(t: &TestServer, user: &str) -> Browser {
        let mut b = Browser::new(t);
        let res = b.sign_in(user, DEMO_PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert!(b.cookie("gw_console").is_some());
        b
    }

    /// The CSRF token of the session (from the queue page).
    async fn token(&mut self) -> String {
        self.get("/console/queue").await.csrf()
    }
}

/// A case filed by wangfang in `grid`; returns its id.
async fn file_case(t: &TestServer, token: &str, grid: &str) -> String {
    let ms = now();
    let c = id();
    let res = t
        .push(
            token,
            vec![change(
                "case",
                &c,
                Op::Create,
                &hlc(ms, "w"),
                case_payload(grid),
            )],
        )
        .await;
    assert_eq!(
        res.results[0].outcome,
        Outcome::Applied,
        "{:?}",
        res.results
    );
    c
}

fn principal(t: &TestServer, user: &str) -> Principal {
    let s = t
        .server
        .admin()
        .issue_session_for_tests(user, &format!("p-{user}"))
        .unwrap();
    t.server
        .storage()
        .authenticate(
            &gridwalk_sync_server::auth::token_hash(&s.access_token),
            now(),
        )
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn sign_in_session_cookie_and_sign_out() {
    let t = start().await;
    let mut b = Browser::new(&t);
    // No session: pages go to sign-in, keeping where they were going.
    let res = b.get("/console/queue?status=handling").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(
        res.location()
            .starts_with("/console/login?next=/console/queue%3Fstatus"),
        "{}",
        res.location()
    );

    // Wrong password: the form again, typed, no session.
    let res = b.sign_in("zhaomin", "wrong-password").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("data-error-code=\"bad_credentials\""));
    assert!(b.cookie("gw_console").is_none());

    let res = b.sign_in("zhaomin", DEMO_PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/console/queue");
    let set: Vec<String> = res
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = set.iter().find(|c| c.starts_with("gw_console=")).unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(
        session.contains("Path=/console") && !session.contains("Secure"),
        "{session}"
    );

    let page = b.get("/console/queue").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("赵敏"));
    let csp = page
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(!page.body.contains("<script>"), "no inline script");
    // English switch, kept in a cookie.
    let res = b.get("/console/lang?to=en&next=/console/queue").await;
    assert_eq!(res.location(), "/console/queue");
    assert!(b.get("/console/queue").await.body.contains("Case queue"));
    // The language switch never redirects off the console.
    let res = b
        .get("/console/lang?to=zh&next=https://evil.example/")
        .await;
    assert_eq!(res.location(), "/console/queue");

    // Sign-out ends the session on the server, not only the cookie.
    let stolen = b.cookie("gw_console").unwrap();
    let token = b.token().await;
    let res = b.post("/console/logout", &[("csrf", &token)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(b.cookie("gw_console").is_none());
    b.cookies.push(("gw_console".into(), stolen));
    assert_eq!(b.get("/console/queue").await.status, StatusCode::SEE_OTHER);

    // Phones' device tokens are untouched by the console.
    let phone = t.login("zhaomin", "phone-z").await;
    let (s, _) = t.get("/v1/cases", Some(&phone.access_token)).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn grid_workers_are_politely_refused_and_disabled_users_are_out() {
    let t = start().await;
    let mut b = Browser::new(&t);
    let res = b.sign_in("wangfang", DEMO_PASSWORD).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("not_a_supervisor") && res.body.contains("手机应用"));
    assert!(b.cookie("gw_console").is_none());

    let mut lead = Browser::signed_in(&t, "chenjing").await;
    assert_eq!(lead.get("/console/queue").await.status, StatusCode::OK);
    t.server.admin().disable_user("chenjing").unwrap();
    assert_eq!(
        lead.get("/console/queue").await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn secure_cookies_when_configured() {
    let t = start_with(|mut c| {
        c.console.secure_cookies = true;
        c
    })
    .await;
    let mut b = Browser::new(&t);
    let res = b.sign_in("zhaomin", DEMO_PASSWORD).await;
    let set = res
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("gw_console="))
        .unwrap();
    assert!(set.contains("; Secure"), "{set}");
}

#[tokio::test]
async fn every_state_change_needs_the_csrf_token() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let case = file_case(&t, &wang.access_token, DEMO_GRID).await;
    let mut b = Browser::signed_in(&t, "zhaomin").await;
    let token = b.token().await;
    let path = format!("/console/cases/{case}/actions");

    for form in [
        vec![("action", "accept")],
        vec![("action", "accept"), ("csrf", "forged-token")],
        vec![("action", "accept"), ("csrf", "")],
    ] {
        let res = b.post(&path, &form).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{form:?}");
        assert_eq!(res.error_code().as_deref(), Some("csrf_refused"));
        assert!(res.body.contains("CSRF"));
    }
    // The right token from another site (Fetch Metadata) is refused too.
    let res = b
        .send(
            Method::POST,
            &path,
            Some(&[("action", "accept"), ("csrf", &token)]),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(res.error_code().as_deref(), Some("csrf_refused"));
    // Nothing changed.
    let rec = t
        .server
        .storage()
        .get_record(&principal(&t, "zhaomin"), "case", &case)
        .unwrap()
        .unwrap();
    assert_eq!(rec.data["status"], "submitted");

    for (p, form) in [
        (
            "/console/tasks",
            vec![("kind", "custom"), ("title", "x"), ("due_on", "2099-01-01")],
        ),
        ("/console/deadlines", vec![("h_01_normal", "5")]),
        ("/console/logout", vec![]),
    ] {
        let res = b.post(p, &form).await;
        assert_eq!(res.error_code().as_deref(), Some("csrf_refused"), "{p}");
    }
    // Sign-in has its double-submit token: a forged form without the cookie is refused.
    let mut other = Browser::new(&t);
    let res = other
        .post(
            "/console/login",
            &[
                ("csrf", "abc"),
                ("username", "zhaomin"),
                ("password", DEMO_PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.error_code().as_deref(), Some("csrf_refused"));

    // With the token, the action runs.
    let res = b
        .post(&path, &[("action", "accept"), ("csrf", &token)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let rec = t
        .server
        .storage()
        .get_record(&principal(&t, "zhaomin"), "case", &case)
        .unwrap()
        .unwrap();
    assert_eq!(rec.data["status"], "accepted");
}

#[tokio::test]
async fn another_streets_supervisor_sees_nothing() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let case = file_case(&t, &wang.access_token, DEMO_GRID).await;
    let mut liu = Browser::signed_in(&t, "liuqiang").await;
    let page = liu.get(&format!("/console/cases/{case}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(liu.get("/console/queue").await.body.contains(&case));

    let mut zhou = Browser::signed_in(&t, "zhouwei").await;
    let theirs = zhou.get(&format!("/console/cases/{case}")).await;
    let missing = zhou.get(&format!("/console/cases/{}", id())).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.error_code(), missing.error_code());
    assert_eq!(
        theirs.body, missing.body,
        "not yours looks exactly like does not exist"
    );
    let queue = zhou.get("/console/queue").await;
    assert!(!queue.body.contains(&case));
    assert!(
        queue.body.contains("data-status=\"total\">0<"),
        "counts show nothing of the other street"
    );
    let token = zhou.token().await;
    let res = zhou
        .post(
            &format!("/console/cases/{case}/actions"),
            &[("action", "accept"), ("csrf", &token)],
        )
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Tasks cannot target it either.
    let res = zhou
        .post(
            "/console/tasks",
            &[
                ("csrf", &token),
                ("kind", "verify_case"),
                ("title", "核查"),
                ("due_on", "2099-01-01"),
                ("case_id", &case),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // Its photos neither (a well-formed hash and id that exist elsewhere answer 404).
    let res = zhou
        .get(&format!(
            "/console/photos/{}?photo_id={}",
            "ab".repeat(32),
            id()
        ))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    // Filtering on a grid outside the scope shows nothing rather than another street's cases.
    let q = zhou.get(&format!("/console/queue?grid={DEMO_GRID}")).await;
    assert!(!q.body.contains(&case));
}

fn act(action: Action) -> ActionRequest {
    ActionRequest {
        action,
        ..Default::default()
    }
}

#[tokio::test]
async fn queue_orders_by_time_left_pages_without_gaps_and_lights_follow_the_rule() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let lead = principal(&t, "zhaomin");
    let storage = t.server.storage();
    let h = 3_600_000;
    let now = now();
    let mut ids = Vec::new();
    for _ in 0..13 {
        ids.push(file_case(&t, &wang.access_token, DEMO_GRID).await);
    }
    // Accept some in the past (0202 urgent: 12 h), so their deadlines differ; close one.
    for (i, c) in ids.iter().enumerate().take(8) {
        let at = now - (i as i64) * 2 * h;
        storage
            .case_action(&lead, c, &act(Action::Accept), at)
            .unwrap()
            .unwrap();
    }
    for a in [
        Action::Dispatch,
        Action::Handle,
        Action::RequestVerification,
        Action::Verify,
        Action::Close,
    ] {
        let mut r = act(a);
        r.assignee = Some("城管".into());
        storage
            .case_action(&lead, &ids[0], &r, now)
            .unwrap()
            .unwrap();
    }

    let all = storage
        .case_queue(&lead, &QueueFilter::default(), &PageAt::First, 100, now)
        .unwrap();
    assert_eq!(all.rows.len(), 13);
    assert!(all.next.is_none() && all.prev.is_none());
    let keys: Vec<(i64, String)> = all
        .rows
        .iter()
        .map(|r| (r.sort_key, r.id.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "sorted by time left");
    // The closed case comes last, grey.
    let last = all.rows.last().unwrap();
    assert_eq!(last.id, ids[0]);
    assert_eq!(
        gridwalk_sync_server::cases::light(last.start_at, last.due_at, now),
        gridwalk_sync_server::cases::Light::Grey
    );
    // Accepted 14 h ago with 12 h: red; 10 h ago: yellow (2 h of 12 left); now: green.
    let light_of = |id: &str| {
        let r = all.rows.iter().find(|r| r.id == id).unwrap();
        gridwalk_sync_server::cases::light(r.start_at, r.due_at, now).as_str()
    };
    assert_eq!(light_of(&ids[7]), "red");
    assert_eq!(light_of(&ids[5]), "yellow");
    assert_eq!(light_of(&ids[1]), "green");
    // Unaccepted cases run on the 24 h acceptance clock: green right after the report.
    assert_eq!(light_of(&ids[12]), "green");

    // Pages of 3 forward cover everything once; backward from the end gives them back.
    let mut seen = Vec::new();
    let mut at = PageAt::First;
    let mut pages = Vec::new();
    loop {
        let p = storage
            .case_queue(&lead, &QueueFilter::default(), &at, 3, now)
            .unwrap();
        seen.extend(p.rows.iter().map(|r| r.id.clone()));
        pages.push(p.clone());
        match p.next {
            Some((k, id)) => at = PageAt::After(k, id),
            None => break,
        }
    }
    assert_eq!(seen, keys.iter().map(|k| k.1.clone()).collect::<Vec<_>>());
    let last_page = pages.last().unwrap();
    let (k, id) = last_page.prev.clone().unwrap();
    let back = storage
        .case_queue(
            &lead,
            &QueueFilter::default(),
            &PageAt::Before(k, id),
            3,
            now,
        )
        .unwrap();
    assert_eq!(back.rows, pages[pages.len() - 2].rows);

    // Filters and counts.
    let overdue = QueueFilter {
        overdue: true,
        ..Default::default()
    };
    let red = storage
        .case_queue(&lead, &overdue, &PageAt::First, 100, now)
        .unwrap();
    assert!(red.rows.iter().all(|r| r.due_at.is_some_and(|d| d < now)));
    assert!(red.rows.iter().any(|r| r.id == ids[7]));
    let counts = storage
        .case_counts(&lead, &QueueFilter::default(), now)
        .unwrap();
    let n = |s: &str| counts.iter().find(|c| c.0 == s).map_or(0, |c| c.1);
    assert_eq!((n("submitted"), n("accepted"), n("closed")), (5, 7, 1));
    let only = QueueFilter {
        status: Some("closed".into()),
        ..Default::default()
    };
    assert_eq!(
        storage
            .case_queue(&lead, &only, &PageAt::First, 100, now)
            .unwrap()
            .rows
            .len(),
        1
    );
    // Counts kept per grid × status (no filter) agree with counting the rows (reporter filter).
    let mut counted = storage
        .case_counts(
            &lead,
            &QueueFilter {
                reporter: Some(wang.user.id.clone()),
                ..Default::default()
            },
            now,
        )
        .unwrap();
    let mut kept = counts.clone();
    counted.sort();
    kept.sort();
    assert_eq!(counted, kept);
    let by_reporter = QueueFilter {
        reporter: Some(wang.user.id.clone()),
        ..Default::default()
    };
    assert_eq!(
        storage
            .case_queue(&lead, &by_reporter, &PageAt::First, 100, now)
            .unwrap()
            .rows
            .len(),
        13
    );
    let nobody = QueueFilter {
        category: Some("05".into()),
        ..Default::default()
    };
    assert!(storage
        .case_queue(&lead, &nobody, &PageAt::First, 100, now)
        .unwrap()
        .rows
        .is_empty());

    // The page shows the lights and counts.
    let mut b = Browser::signed_in(&t, "zhaomin").await;
    let page = b.get("/console/queue").await;
    assert!(page.body.contains("data-light=\"red\""));
    assert!(page.body.contains("data-light=\"yellow\""));
    assert!(page.body.contains("data-light=\"green\""));
    assert!(page.body.contains("data-status=\"total\">13<"));
    let bad = b.get("/console/queue?status=nonsense").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_code().as_deref(), Some("invalid"));
}

#[tokio::test]
async fn evaluation_and_call_back_and_unsatisfied_reopens() {
    let t = start().await;
    let wang = t.login("wangfang", "dev-w").await;
    let lead = principal(&t, "zhaomin");
    let storage = t.server.storage();
    let case = file_case(&t, &wang.access_token, DEMO_GRID).await;
    let now = now();
    for a in [
        Action::Accept,
        Action::Dispatch,
        Action::Handle,
        Action::RequestVerification,
        Action::Verify,
    ] {
        let mut r = act(a);
        r.assignee = Some("物业".into());
        storage.case_action(&lead, &case, &r, now).unwrap().unwrap();
    }
    // Evaluation: a score of 1-5.
    for bad in [None, Some(0), Some(6)] {
        let mut r = act(Action::Evaluate);
        r.score = bad;
        let refused = storage
            .case_action(&lead, &case, &r, now)
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.field.as_deref(), Some("score"));
    }
    let mut r = act(Action::Evaluate);
    r.score = Some(4);
    r.reason = Some("处置及时".into());
    let rec = storage.case_action(&lead, &case, &r, now).unwrap().unwrap();
    assert_eq!(
        (
            rec.data["status"].as_str(),
            rec.data["evaluation_score"].as_i64()
        ),
        (Some("verified"), Some(4))
    );

    // Call-back: reached needs a satisfaction; not reached needs none.
    let mut r = act(Action::RecordCallBack);
    r.reached = Some(true);
    assert_eq!(
        storage
            .case_action(&lead, &case, &r, now)
            .unwrap()
            .unwrap_err()
            .field
            .as_deref(),
        Some("satisfaction")
    );
    r.satisfaction = Some("thrilled".into());
    assert!(storage.case_action(&lead, &case, &r, now).unwrap().is_err());
    assert_eq!(
        storage
            .case_action(&lead, &case, &act(Action::RecordCallBack), now)
            .unwrap()
            .unwrap_err()
            .field
            .as_deref(),
        Some("reached")
    );
    let mut r = act(Action::RecordCallBack);
    r.reached = Some(false);
    let rec = storage.case_action(&lead, &case, &r, now).unwrap().unwrap();
    assert_eq!(rec.data["status"], "verified");
    assert_eq!(rec.data["callback_reached"], false);

    // Unsatisfied reopens: back to handling with a new deadline, verification cleared.
    let mut r = act(Action::RecordCallBack);
    r.reached = Some(true);
    r.satisfaction = Some("unsatisfied".into());
    r.reason = Some("仍有电动车在楼道充电".into());
    let later = now + 1000;
    let rec = storage
        .case_action(&lead, &case, &r, later)
        .unwrap()
        .unwrap();
    assert_eq!(rec.data["status"], "handling");
    assert_eq!(rec.data["reopened_count"], 1);
    assert_eq!(rec.data["verified_at"], serde_json::Value::Null);
    assert_eq!(
        rec.data["deadline_at"].as_i64(),
        Some(later + 12 * 3_600_000)
    );
    // It shows on the timeline with its reason.
    let detail = storage.case_detail(&lead, &case).unwrap().unwrap();
    let line = detail
        .events
        .iter()
        .rev()
        .find(|e| e["action"] == "record_call_back")
        .unwrap();
    assert_eq!(line["status"], "handling");
    assert_eq!(line["callback_satisfaction"], "unsatisfied");
    assert_eq!(line["note"], "仍有电动车在楼道充电");
    // The queue runs its clock again.
    let q = storage
        .case_queue(&lead, &QueueFilter::default(), &PageAt::First, 10, later)
        .unwrap();
    assert_eq!(q.rows[0].start_at, Some(later));

    // Around again; satisfied closes through the console's form.
    for a in [Action::RequestVerification, Action::Verify] {
        storage
            .case_action(&lead, &case, &act(a), later)
            .unwrap()
            .unwrap();
    }
    let mut b = Browser::signed_in(&t, "zhaomin").await;
    let page = b.get(&format!("/console/cases/{case}")).await;
    assert!(page.body.contains("data-action=\"evaluate\""));
    assert!(page.body.contains("data-action=\"record_call_back\""));
    assert!(page.body.contains("data-action=\"close\""));
    assert!(!page.body.contains("data-action=\"accept\""));
    let token = page.csrf();
    let path = format!("/console/cases/{case}/actions");
    let res = b
        .post(
            &path,
            &[("csrf", &token), ("action", "evaluate"), ("score", "9")],
        )
        .await;
    assert_eq!(
        (res.status, res.error_code().as_deref()),
        (StatusCode::BAD_REQUEST, Some("invalid"))
    );
    assert!(res.body.contains("score"));
    for form in [
        vec![
            ("csrf", token.as_str()),
            ("action", "evaluate"),
            ("score", "5"),
            ("reason", "很好"),
        ],
        vec![
            ("csrf", token.as_str()),
            ("action", "record_call_back"),
            ("reached", "true"),
            ("satisfaction", "satisfied"),
        ],
        vec![("csrf", token.as_str()), ("action", "close")],
    ] {
        let res = b.post(&path, &form).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{form:?}: {}", res.body);
    }
    let res = b
        .post(&path, &[("csrf", &token), ("action", "close")])
        .await;
    assert_eq!(
        (res.status, res.error_code().as_deref()),
        (StatusCode::CONFLICT, Some("invalid_transition"))
    );
    let page = b.get(&format!("/console/cases/{case}")).await;
    assert!(page.body.contains("data-status=\"closed\""));
    assert!(page.body.contains("满意"));
}

#[tokio::test]
async fn tasks_are_assigned_in_scope_and_deadlines_are_the_districts() {
    let t = start().await;
    let mut lead = Browser::signed_in(&t, "zhaomin").await;
    let token = lead.token().await;
    let res = lead
        .post(
            "/console/tasks",
            &[
                ("csrf", &token),
                ("kind", "visit_household"),
                ("title", "走访独居老人"),
                ("assignee", "wangfang"),
                ("due_on", "2099-03-01"),
                ("priority", "high"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = lead.get("/console/tasks").await;
    assert!(page.body.contains("走访独居老人") && page.body.contains("王芳"));
    // The worker's phone receives it.
    let wang = t.login("wangfang", "dev-w").await;
    let (records, _) = t.pull_all(&wang.access_token, None).await;
    assert!(records
        .iter()
        .any(|r| r["entity"] == "task" && r["data"]["title"] == "走访独居老人"));
    // A worker of another street is not assignable; a bad date is refused by field.
    let res = lead
        .post(
            "/console/tasks",
            &[
                ("csrf", &token),
                ("kind", "custom"),
                ("title", "x"),
                ("assignee", "nobody"),
                ("due_on", "2099-03-01"),
            ],
        )
        .await;
    assert!(res.body.contains("assignee"), "{}", res.body);
    let res = lead
        .post(
            "/console/tasks",
            &[
                ("csrf", &token),
                ("kind", "custom"),
                ("title", "x"),
                ("assignee", "wangfang"),
                ("due_on", "tomorrow"),
            ],
        )
        .await;
    assert!(res.body.contains("due_on"));
    // Another street's supervisor does not see the task.
    let mut zhou = Browser::signed_in(&t, "zhouwei").await;
    assert!(!zhou
        .get("/console/tasks")
        .await
        .body
        .contains("走访独居老人"));

    // Deadlines: read-only for the leader, editable by the district.
    let page = lead.get("/console/deadlines").await;
    assert!(!page.body.contains("name=\"h_02_urgent\""));
    let res = lead
        .post(
            "/console/deadlines",
            &[("csrf", &token), ("h_02_urgent", "6")],
        )
        .await;
    assert_eq!(res.error_code().as_deref(), Some("forbidden"));
    let mut gao = Browser::signed_in(&t, "gaojian").await;
    let page = gao.get("/console/deadlines").await;
    assert!(page.body.contains("name=\"h_02_urgent\""));
    let dtoken = page.csrf();
    let res = gao
        .post(
            "/console/deadlines",
            &[("csrf", &dtoken), ("h_02_urgent", "0")],
        )
        .await;
    assert_eq!(res.error_code().as_deref(), Some("invalid"));
    let res = gao
        .post(
            "/console/deadlines",
            &[("csrf", &dtoken), ("h_02_urgent", "6")],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    // The next acceptance uses it.
    let case = file_case(&t, &wang.access_token, DEMO_GRID).await;
    let p = principal(&t, "gaojian");
    let at = now();
    let rec = t
        .server
        .storage()
        .case_action(&p, &case, &act(Action::Accept), at)
        .unwrap()
        .unwrap();
    assert_eq!(rec.data["deadline_at"].as_i64(), Some(at + 6 * 3_600_000));
}

#[tokio::test]
async fn the_v4_upgrade_fills_the_queue_of_existing_cases() {
    let dir = tempfile::tempdir().unwrap();
    let config = gridwalk_sync_server::Config::with_data_dir(dir.path()).argon2_light();
    let case;
    {
        let t_server = gridwalk_sync_server::Server::open(config.clone()).unwrap();
        t_server.admin().seed_demo().unwrap();
        let s = t_server
            .admin()
            .issue_session_for_tests("wangfang", "dev-w")
            .unwrap();
        let who = t_server
            .storage()
            .authenticate(
                &gridwalk_sync_server::auth::token_hash(&s.access_token),
                now(),
            )
            .unwrap()
            .unwrap();
        case = id();
        let res = t_server
            .storage()
            .push(
                &who,
                &[change(
                    "case",
                    &case,
                    Op::Create,
                    &hlc(now(), "w"),
                    case_payload(DEMO_GRID),
                )],
                Default::default(),
                now(),
            )
            .unwrap();
        assert_eq!(res.results[0].outcome, Outcome::Applied);
    }
    // Take the database back to version 3, as a server before the console left it.
    {
        let c = rusqlite::Connection::open(dir.path().join("gridwalk.db")).unwrap();
        c.execute_batch(
            "DROP TABLE case_queue; DROP TABLE case_counts; DROP TABLE console_sessions;
             DROP INDEX records_case_events; DROP INDEX records_photo_owner;
             DROP INDEX records_task_target; DROP INDEX records_entity_rev;
             DROP TABLE console_settings; DROP TABLE record_authors;
             DROP TABLE warning_tasks; DROP TABLE audit_log;
             ALTER TABLE records DROP COLUMN echo;
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let server = gridwalk_sync_server::Server::open(config).unwrap();
    let lead = {
        let s = server
            .admin()
            .issue_session_for_tests("zhaomin", "dev-z")
            .unwrap();
        server
            .storage()
            .authenticate(
                &gridwalk_sync_server::auth::token_hash(&s.access_token),
                now(),
            )
            .unwrap()
            .unwrap()
    };
    let q = server
        .storage()
        .case_queue(&lead, &QueueFilter::default(), &PageAt::First, 10, now())
        .unwrap();
    assert_eq!(q.rows.len(), 1);
    assert_eq!(q.rows[0].id, case);
    assert_eq!(q.rows[0].status, "submitted");
    let counts = server
        .storage()
        .case_counts(&lead, &QueueFilter::default(), now())
        .unwrap();
    assert_eq!(counts, vec![("submitted".to_string(), 1)]);
}
