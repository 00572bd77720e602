//! The daily list: visit policy by care tier, tasks, verification, patrol quota, drafts, order.

mod common;

use chrono::Duration;
use common::*;
use gridwalk_core::tasks::{TodayKind, VisitPolicy};
use gridwalk_core::*;

fn tier(s: &Store, room: &str, tier: CareTier, at: GeoPoint) -> Household {
    let mut h = household(room);
    h.care_tier = tier;
    h.location = Some(at);
    s.add_household(&h).unwrap()
}

fn due_ids(items: &[tasks::TodayItem]) -> Vec<String> {
    items
        .iter()
        .filter(|i| i.kind == TodayKind::VisitDue)
        .filter_map(|i| i.target_id.clone())
        .collect()
}

#[test]
fn visits_fall_due_by_care_tier() {
    let (s, clock) = store();
    let registered = clock.now() - Duration::days(60);
    clock.set(registered);
    let close = tier(&s, "101", CareTier::Close, inside());
    let attention = tier(&s, "102", CareTier::Attention, inside());
    let routine = tier(&s, "103", CareTier::Routine, inside());
    let now = morning();
    clock.set(now);
    // Everyone was contacted 10 days ago: only close care (weekly) is due.
    for h in [&close, &attention, &routine] {
        visit(&s, &h.id, now - Duration::days(10), VisitMode::Phone);
    }
    let due = due_ids(&s.today(None).unwrap());
    assert_eq!(due, vec![close.id.clone()]);

    // 20 days later attention (15) is due too; routine (30) is not.
    let later = now + Duration::days(10);
    clock.set(later);
    let due = due_ids(&s.today(None).unwrap());
    assert!(due.contains(&attention.id) && due.contains(&close.id) && !due.contains(&routine.id));

    // "Not at home" is not contact: the household stays due for a second try the same day.
    visit(
        &s,
        &close.id,
        later - Duration::hours(1),
        VisitMode::NotAtHome,
    );
    assert!(due_ids(&s.today(None).unwrap()).contains(&close.id));
    visit(
        &s,
        &close.id,
        later - Duration::minutes(10),
        VisitMode::InPerson,
    );
    assert!(!due_ids(&s.today(None).unwrap()).contains(&close.id));
}

#[test]
fn yanchi_policy_requires_a_monthly_home_visit() {
    let (s, clock) = store();
    clock.set(morning() - Duration::days(90));
    let h = tier(&s, "101", CareTier::Attention, inside());
    clock.set(morning());
    // Phoned every week, never visited at home.
    for d in [5, 12, 19, 26, 33] {
        visit(&s, &h.id, morning() - Duration::days(d), VisitMode::Phone);
    }
    assert!(
        due_ids(&s.today(None).unwrap()).is_empty(),
        "standard policy: phone suffices"
    );
    s.set_visit_policy(&VisitPolicy::yanchi()).unwrap();
    let items = s.today(None).unwrap();
    let item = items
        .iter()
        .find(|i| i.kind == TodayKind::VisitDue)
        .unwrap();
    assert_eq!(item.target_id.as_deref(), Some(h.id.as_str()));
    assert!(item.title.contains("入户走访"), "{}", item.title);
    assert_eq!(s.visit_policy().unwrap().rules.len(), 5);

    let mut bad = VisitPolicy::standard();
    bad.rules[0].interval_days = 0;
    let e = validation(s.set_visit_policy(&bad).unwrap_err());
    assert_eq!(
        (e.field.as_str(), e.code),
        ("rules[0].interval_days", Code::OutOfRange)
    );
    assert_eq!(
        s.visit_policy().unwrap(),
        VisitPolicy::yanchi(),
        "a refused policy changes nothing"
    );
}

#[test]
fn list_merges_sources_and_orders_by_priority_due_and_distance() {
    let (s, clock) = store();
    clock.set(morning() - Duration::days(40));
    // Two routine households overdue by the same amount, one near and one far.
    let near = tier(
        &s,
        "101",
        CareTier::Routine,
        GeoPoint {
            lat: 37.7801,
            lng: 107.4001,
        },
    );
    let far = tier(
        &s,
        "102",
        CareTier::Routine,
        GeoPoint {
            lat: 37.7840,
            lng: 107.4040,
        },
    );
    clock.set(morning());
    let task = s
        .add_task(&TaskInput {
            kind: TaskKind::CallBack,
            title: "满意度回访".into(),
            target: Some(TaskTarget {
                kind: "household".into(),
                id: far.id.clone(),
            }),
            due_on: s.settings().unwrap().local_date(morning()),
            priority: Priority::Urgent,
            source: TaskSource::Assigned,
            notes: None,
        })
        .unwrap();
    let draft = s
        .draft_case(&case_input(
            "0303",
            Urgency::Normal,
            "井盖破损",
            Some(inside()),
        ))
        .unwrap();

    let here = GeoPoint {
        lat: 37.7800,
        lng: 107.4000,
    };
    let items = s.today(Some(here)).unwrap();
    let kinds: Vec<_> = items.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds[0],
        TodayKind::Task,
        "urgent assigned task first: {kinds:?}"
    );
    assert_eq!(items[0].target_id.as_deref(), Some(task.id.as_str()));
    assert!(kinds.contains(&TodayKind::Patrol));
    assert!(kinds.contains(&TodayKind::DraftCase));
    let visits: Vec<_> = items
        .iter()
        .filter(|i| i.kind == TodayKind::VisitDue)
        .collect();
    assert_eq!(
        visits[0].target_id.as_deref(),
        Some(near.id.as_str()),
        "nearer first among equals"
    );
    assert!(visits[0].distance_m.unwrap() < visits[1].distance_m.unwrap());
    assert!(visits[0].overdue_days >= 9);
    for w in items.windows(2) {
        assert!(w[0].priority >= w[1].priority, "sorted by priority");
    }

    // Finishing the task and submitting the draft take them off the list.
    s.finish_task(&task.id, TaskStatus::Done).unwrap();
    s.submit_case(&draft.id).unwrap();
    let kinds: Vec<_> = s
        .today(Some(here))
        .unwrap()
        .iter()
        .map(|i| i.kind)
        .collect();
    assert!(!kinds.contains(&TodayKind::Task) && !kinds.contains(&TodayKind::DraftCase));
    assert!(matches!(
        s.finish_task(&task.id, TaskStatus::Done),
        Err(Error::InvalidState { .. })
    ));
}

#[test]
fn patrol_quota_counts_finished_patrols_today() {
    let (s, clock) = store();
    let quota_item = |s: &Store| {
        s.today(None)
            .unwrap()
            .into_iter()
            .find(|i| i.kind == TodayKind::Patrol)
    };
    assert!(quota_item(&s).unwrap().title.contains("0/2"));
    // A patrol started and stopped without walking does not count.
    let p = s.start_patrol("G1").unwrap();
    clock.advance(Duration::minutes(2));
    s.stop_patrol(&p.id, None).unwrap();
    assert!(quota_item(&s).unwrap().title.contains("0/2"));
    for _ in 0..2 {
        let p = s.start_patrol("G1").unwrap();
        let fixes = walk_fixes(clock.now(), 40);
        clock.advance(Duration::minutes(40));
        s.add_track_points(&p.id, &fixes).unwrap();
        s.stop_patrol(&p.id, None).unwrap();
        clock.advance(Duration::hours(3));
    }
    assert!(quota_item(&s).is_none(), "一日双巡 done");
    // A supervisor raising the quota brings it back.
    let mut st = s.settings().unwrap();
    st.patrol_quota = 3;
    s.set_settings(&st).unwrap();
    assert!(quota_item(&s).unwrap().title.contains("2/3"));
}

#[test]
fn verification_requests_are_listed() {
    let (s, _) = store();
    let c = s
        .draft_case(&case_input(
            "0201",
            Urgency::Emergency,
            "楼道堵塞",
            Some(inside()),
        ))
        .unwrap();
    s.submit_case(&c.id).unwrap();
    // The server's state machine moves the case; sync writes the status. Simulate it here.
    s.write(|ctx| {
        ctx.tx.execute(
            "UPDATE cases SET status = 'verification_requested' WHERE id = ?1",
            [&c.id],
        )?;
        Ok(())
    })
    .unwrap();
    let items = s.today(None).unwrap();
    let v = items
        .iter()
        .find(|i| i.kind == TodayKind::VerifyCase)
        .unwrap();
    assert_eq!(v.priority, Priority::Urgent);
    assert_eq!(items[0].kind, TodayKind::VerifyCase);
}
