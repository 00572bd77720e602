//! The closed loop of a case (闭环) with the worker's side on the device, against the real
//! server: a worker reports, a supervisor accepts, dispatches, has it handled and asks for
//! verification through the server's HTTP case actions; the worker's phone syncs, finds the
//! `verify_case` task, verifies on site with an after-photo (or rejects with a reason), syncs,
//! and the server's case and task follow.

use gridwalk_core::cases::VerificationVerdict;
use gridwalk_core::photos::PhotoOwner;
use gridwalk_core::sync::{CancelToken, UploadOptions};
use gridwalk_core::*;
use gridwalk_e2e::*;
use gridwalk_protocol::HEADER_PROTOCOL;
use serde_json::{json, Value};

/// A supervisor at the community desk, driving the loop over HTTP.
struct Desk {
    http: reqwest::blocking::Client,
    url: String,
    token: String,
}

impl Desk {
    fn login(url: &str, username: &str) -> Desk {
        let http = reqwest::blocking::Client::new();
        let res = http
            .post(format!("{url}/v1/auth/login"))
            .header(HEADER_PROTOCOL, "1")
            .json(&json!({"username": username, "password": DEMO_PASSWORD,
                          "device_id": format!("desk-{username}")}))
            .send()
            .unwrap();
        assert!(res.status().is_success(), "login {}", res.status());
        let session: Value = res.json().unwrap();
        Desk {
            http,
            url: url.into(),
            token: session["access_token"].as_str().unwrap().to_string(),
        }
    }

    fn act(&self, case: &str, body: Value) -> Value {
        let res = self
            .http
            .post(format!("{}/v1/cases/{case}/actions", self.url))
            .header(HEADER_PROTOCOL, "1")
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .unwrap();
        let status = res.status();
        let answer: Value = res.json().unwrap();
        assert!(status.is_success(), "{body} → {status}: {answer}");
        answer
    }

    fn case(&self, id: &str) -> Value {
        let res = self
            .http
            .get(format!("{}/v1/cases/{id}", self.url))
            .header(HEADER_PROTOCOL, "1")
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        assert!(res.status().is_success());
        res.json().unwrap()
    }

    /// Accept → dispatch → handle → request verification.
    fn up_to_verification(&self, case: &str) {
        assert_eq!(
            self.act(case, json!({"action": "accept"}))["data"]["status"],
            "accepted"
        );
        self.act(case, json!({"action": "dispatch", "assignee": "城管中队"}));
        self.act(case, json!({"action": "handle"}));
        let c = self.act(case, json!({"action": "request_verification"}));
        assert_eq!(c["data"]["status"], "verification_requested");
    }
}

fn report(phone: &Device, what: &str) -> Case {
    let c = phone
        .store
        .draft_case(&CaseInput {
            type_code: "0301".into(),
            urgency: Urgency::Normal,
            description: what.into(),
            location: Some(GeoPoint {
                lat: 37.78,
                lng: 107.40,
            }),
            address: Some("3栋北侧".into()),
            grid_code: DEMO_GRID.into(),
            household_id: None,
            patrol_id: None,
        })
        .unwrap();
    let c = phone.store.submit_case(&c.id).unwrap();
    phone.sync().unwrap();
    c
}

/// The open `verify_case` task of a case on the device.
fn verify_task(store: &Store, case_id: &str) -> Option<Task> {
    store.list_tasks(None).unwrap().into_iter().find(|t| {
        t.kind == TaskKind::VerifyCase && t.target.as_ref().is_some_and(|g| g.id == case_id)
    })
}

/// A small real JPEG (the core re-encodes whatever it gets).
fn after_photo(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(160, 120, |x, y| {
        image::Rgb([(x as u8).wrapping_mul(seed), y as u8, seed])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

#[test]
fn a_worker_verifies_a_case_on_site_and_the_server_closes_the_loop() {
    let server = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let phone = Device::login(dir.path(), "phone", &server.url, "wangfang");
    let desk = Desk::login(&server.url, "zhaomin");

    let c = report(&phone, "3栋北侧垃圾堆放");
    desk.up_to_verification(&c.id);

    // The phone syncs and finds the verification task and the case awaiting it.
    phone.sync().unwrap();
    let case = phone.store.case(&c.id).unwrap();
    assert_eq!(case.status, CaseStatus::VerificationRequested);
    let task = verify_task(&phone.store, &c.id).expect("verify_case task");
    assert_eq!(task.status, TaskStatus::Open);
    // The daily list asks for it (as the task once it is due, as the case until then).
    let asks = |store: &Store| {
        store.today(None).unwrap().iter().any(|i| {
            i.target_id.as_deref() == Some(task.id.as_str())
                || i.target_id.as_deref() == Some(c.id.as_str())
        })
    };
    assert!(asks(&phone.store));

    // On site: fixed. After-photo, note, verdict.
    let v = phone
        .store
        .verify_case(
            &c.id,
            VerificationVerdict::Verified,
            Some("垃圾已清运"),
            &[after_photo(3)],
        )
        .unwrap();
    assert_eq!(v.events.last().unwrap().kind, CaseEventKind::Verification);
    assert_eq!(phone.store.task(&task.id).unwrap().status, TaskStatus::Done);
    assert!(!asks(&phone.store), "verified: off the daily list");
    let report = phone.sync().unwrap();
    assert_eq!(report.rejected, 0, "{report:?}");
    let up = phone
        .store
        .upload_photos(
            &phone.transport,
            &UploadOptions::default(),
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap();
    assert_eq!(up.failed, 0, "{up:?}");
    assert_eq!(pending(&phone.store), 0);

    // The server applied it: the case is verified, with the worker's note in its timeline.
    let server_case = desk.case(&c.id);
    assert_eq!(server_case["data"]["status"], "verified");
    // On the phone the status comes back from the server, after the worker's own line.
    let case = phone.store.case(&c.id).unwrap();
    assert_eq!(case.status, CaseStatus::Verified);
    let kinds: Vec<CaseEventKind> = case.events.iter().map(|e| e.kind).collect();
    let mine = kinds
        .iter()
        .position(|k| *k == CaseEventKind::Verification)
        .unwrap();
    assert!(kinds[mine..].contains(&CaseEventKind::ServerUpdate));
    let photos = phone
        .store
        .photos_of(&PhotoOwner::Verification(c.id.clone()))
        .unwrap();
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0].upload_state, PhotoUploadState::Done);

    // The task is done on the server: a second phone of the worker gets it done from the feed.
    let dir2 = tempfile::tempdir().unwrap();
    let other = Device::login(dir2.path(), "phone2", &server.url, "wangfang");
    other.sync().unwrap();
    let t = verify_task(&other.store, &c.id).expect("task in the feed");
    assert_eq!(t.status, TaskStatus::Done);
    assert_eq!(
        other.store.case(&c.id).unwrap().status,
        CaseStatus::Verified
    );
    // So does the verification line, with its note, and the after-photo's record.
    let line = other
        .store
        .case(&c.id)
        .unwrap()
        .events
        .into_iter()
        .find(|e| e.kind == CaseEventKind::Verification)
        .expect("verification event in the feed");
    assert_eq!(line.note.as_deref(), Some("垃圾已清运"));
    assert_eq!(
        other
            .store
            .photos_of(&PhotoOwner::Verification(c.id.clone()))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_rejected_fix_goes_back_to_the_handlers_and_is_verified_next_round() {
    let server = InProcessServer::demo();
    let dir = tempfile::tempdir().unwrap();
    let phone = Device::login(dir.path(), "phone", &server.url, "wangfang");
    let desk = Desk::login(&server.url, "zhaomin");

    let c = report(&phone, "楼道堆放杂物堵塞消防通道");
    desk.up_to_verification(&c.id);
    phone.sync().unwrap();
    let first = verify_task(&phone.store, &c.id).unwrap();

    // A rejection without a reason is refused and leaves nothing.
    let before = pending(&phone.store);
    let e = phone
        .store
        .verify_case(&c.id, VerificationVerdict::Rejected, None, &[])
        .unwrap_err();
    assert_eq!(
        e.as_validation().map(|v| (v.field.as_str(), v.code)),
        Some(("note", Code::Required))
    );
    assert_eq!(pending(&phone.store), before);

    phone
        .store
        .verify_case(
            &c.id,
            VerificationVerdict::Rejected,
            Some("二楼仍有纸箱未清"),
            &[after_photo(5)],
        )
        .unwrap();
    let r = phone.sync().unwrap();
    assert_eq!(r.rejected, 0, "{r:?}");
    let server_case = desk.case(&c.id);
    assert_eq!(server_case["data"]["status"], "rejected");
    assert_eq!(
        phone.store.case(&c.id).unwrap().status,
        CaseStatus::Rejected
    );
    assert_eq!(
        phone.store.task(&first.id).unwrap().status,
        TaskStatus::Done
    );

    // The handlers go again; a new verification task comes; this time it is fixed.
    desk.act(&c.id, json!({"action": "handle"}));
    desk.act(&c.id, json!({"action": "request_verification"}));
    phone.sync().unwrap();
    let second = phone
        .store
        .list_tasks(Some(TaskStatus::Open))
        .unwrap()
        .into_iter()
        .find(|t| t.kind == TaskKind::VerifyCase)
        .expect("a second verification task");
    assert_ne!(second.id, first.id);
    phone
        .store
        .verify_case(&c.id, VerificationVerdict::Verified, Some("已清理"), &[])
        .unwrap();
    let r = phone.sync().unwrap();
    assert_eq!(r.rejected, 0, "{r:?}");
    assert_eq!(desk.case(&c.id)["data"]["status"], "verified");
    assert_eq!(
        phone.store.task(&second.id).unwrap().status,
        TaskStatus::Done
    );
    let verdicts: Vec<Option<CaseStatus>> = phone
        .store
        .case(&c.id)
        .unwrap()
        .events
        .iter()
        .filter(|e| e.kind == CaseEventKind::Verification)
        .map(|e| e.status)
        .collect();
    assert_eq!(
        verdicts,
        vec![Some(CaseStatus::Rejected), Some(CaseStatus::Verified)]
    );
}
