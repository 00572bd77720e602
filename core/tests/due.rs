//! The daily list read from the precomputed due days (`visit_due`) is the list worked out over
//! every household, whatever the policy, and stays so after every kind of write that moves a
//! due day: visits, care-tier and status edits, a new UTC offset, a ledger import and its undo.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use gridwalk_core::tasks::{DueSource, TodayKind, VisitPolicy, VisitRule};
use gridwalk_core::*;

/// The list both ways, on several days from `now`, with and without a position; returns how
/// many visit lines the stored list had in all (so a caller can tell it was not empty).
fn lists_agree(s: &Store, now: DateTime<Utc>, when: &str) -> usize {
    let mut due = 0;
    for days in [0, 3, 8, 16, 31, 47, 95] {
        let at = now + Duration::days(days);
        for position in [None, Some(inside())] {
            let stored = s.today_from(at, position, DueSource::Stored).unwrap();
            let computed = s.today_from(at, position, DueSource::Computed).unwrap();
            assert_eq!(stored, computed, "{when}, {days} days on, {position:?}");
            due += stored
                .iter()
                .filter(|i| i.kind == TodayKind::VisitDue)
                .count();
        }
    }
    due
}

/// Rows the due-day table holds, and the rows it must hold: one per rule of each active
/// household's tier.
fn due_rows(s: &Store) -> (i64, i64) {
    s.read(|c| {
        Ok(c.query_row(
            "SELECT (SELECT count(*) FROM visit_due),
                    (SELECT count(*) FROM households h JOIN visit_policies p
                       ON p.care_tier = h.care_tier WHERE h.status = 'active')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    })
    .unwrap()
}

fn assert_rows(s: &Store, when: &str) {
    let (have, want) = due_rows(s);
    assert_eq!(have, want, "visit_due rows {when}");
}

#[test]
fn precomputed_due_days_list_what_the_computed_list_does_across_policies_and_edits() {
    let (s, clock) = store();
    let start = morning() - Duration::days(120);
    clock.set(start);
    let tiers = [CareTier::Close, CareTier::Attention, CareTier::Routine];
    let mut rng = fastrand::Rng::with_seed(15);
    let mut homes = Vec::new();
    for i in 0..60 {
        // Registered over four months, at any hour (local midnight is 16:00 UTC).
        clock.set(start + Duration::minutes(rng.i64(0..100 * 24 * 60)));
        let mut h = household(&format!("{}", 101 + i));
        h.care_tier = tiers[i % 3];
        homes.push(s.add_household(&h).unwrap());
    }
    let now = morning();
    clock.set(now);
    let modes = [
        VisitMode::InPerson,
        VisitMode::Phone,
        VisitMode::Messaging,
        VisitMode::NotAtHome,
    ];
    // Visits at any time of day over the last 100 days; some households never visited, some
    // visited before they were registered (a paper record typed in later).
    for _ in 0..300 {
        let h = &homes[rng.usize(0..homes.len() - 6)];
        let at = now - Duration::minutes(rng.i64(1..100 * 24 * 60));
        visit(&s, &h.id, at, modes[rng.usize(0..modes.len())]);
    }
    assert_rows(&s, "after the visits");
    assert!(lists_agree(&s, now, "standard policy") > 0);

    s.set_visit_policy(&VisitPolicy::yanchi()).unwrap();
    assert_rows(&s, "under the 盐池 policy");
    lists_agree(&s, now, "盐池 policy");
    // A policy of several rules per tier with ties in strictness and odd intervals.
    let rule = |tier, name: &str, modes: &[VisitMode], days| VisitRule {
        care_tier: tier,
        rule: name.into(),
        modes: modes.to_vec(),
        interval_days: days,
    };
    let odd = VisitPolicy {
        rules: vec![
            rule(CareTier::Close, "home", &[VisitMode::InPerson], 9),
            rule(CareTier::Close, "call", &[VisitMode::Phone], 4),
            rule(CareTier::Attention, "any", &modes[..3], 11),
            rule(CareTier::Routine, "msg", &[VisitMode::Messaging], 45),
            rule(
                CareTier::Routine,
                "door",
                &[VisitMode::InPerson, VisitMode::Phone],
                20,
            ),
        ],
    };
    s.set_visit_policy(&odd).unwrap();
    assert_rows(&s, "under an odd policy");
    lists_agree(&s, now, "odd policy");

    // Edits: tiers change, households move out and back, visits are logged.
    for (i, h) in homes.iter().enumerate().take(12) {
        let patch = HouseholdPatch {
            care_tier: Some(tiers[(i + 1) % 3]),
            ..Default::default()
        };
        s.update_household(&h.id, &patch).unwrap();
    }
    s.set_household_status(&homes[20].id, RecordStatus::MovedOut)
        .unwrap();
    s.set_household_status(&homes[21].id, RecordStatus::Archived)
        .unwrap();
    s.set_household_status(&homes[21].id, RecordStatus::Active)
        .unwrap();
    // A visit to a moved-out household lists nothing.
    visit(
        &s,
        &homes[20].id,
        now - Duration::hours(2),
        VisitMode::Phone,
    );
    for h in homes.iter().skip(30).take(10) {
        visit(&s, &h.id, now - Duration::hours(1), VisitMode::InPerson);
    }
    assert_rows(&s, "after edits");
    let listed = s.today_at(now, None).unwrap();
    assert!(!listed
        .iter()
        .any(|i| i.target_id.as_deref() == Some(homes[20].id.as_str())));
    lists_agree(&s, now, "after edits");

    // Another UTC offset moves local days: the stored days follow it.
    let mut settings = s.settings().unwrap();
    settings.utc_offset_minutes = -5 * 60;
    s.set_settings(&settings).unwrap();
    lists_agree(&s, now, "UTC-5");
    settings.utc_offset_minutes = 8 * 60;
    s.set_settings(&settings).unwrap();

    // An imported ledger's households are due from the day they arrive; undo takes them away.
    s.set_visit_policy(&VisitPolicy::standard()).unwrap();
    let csv = "楼栋,单元,门牌,关爱等级,姓名,与户主关系\n\
               9栋,1单元,101,连心户,张三,户主\n\
               9栋,1单元,102,关心户,李四,户主\n";
    let before = s.today_at(now, None).unwrap().len();
    let report = s.import_ledger(csv.as_bytes(), "G1").unwrap();
    assert_eq!(report.households_created, 2);
    assert_rows(&s, "after an import");
    assert_eq!(s.today_at(now, None).unwrap().len(), before + 2);
    lists_agree(&s, now, "after an import");
    s.undo_import(&report.import_id.unwrap()).unwrap();
    assert_rows(&s, "after the import was undone");
    assert_eq!(s.today_at(now, None).unwrap().len(), before);
    lists_agree(&s, now, "after an undone import");
}

#[test]
fn a_household_is_due_from_the_day_after_its_interval_in_local_days() {
    // 23:30 local on the 1st is 15:30 UTC: the due day counts from the local day.
    let (s, clock) = store();
    clock.set(morning() - Duration::days(40));
    let mut h = household("101");
    h.care_tier = CareTier::Close;
    let h = s.add_household(&h).unwrap();
    let visited = morning() - Duration::days(10) + Duration::hours(14) + Duration::minutes(30);
    clock.set(morning());
    visit(&s, &h.id, visited, VisitMode::Phone);
    let local_visit_day = s.settings().unwrap().local_date(visited);
    let first_due = s
        .settings()
        .unwrap()
        .day_start(local_visit_day + Duration::days(7));
    let due_on = |at: DateTime<Utc>| {
        s.today_at(at, None)
            .unwrap()
            .iter()
            .any(|i| i.target_id.as_deref() == Some(h.id.as_str()))
    };
    assert!(!due_on(first_due - Duration::minutes(1)));
    assert!(due_on(first_due));
    let item = s
        .today_at(first_due, None)
        .unwrap()
        .into_iter()
        .find(|i| i.kind == TodayKind::VisitDue)
        .unwrap();
    assert_eq!((item.due, item.overdue_days), (first_due, 0));
}
