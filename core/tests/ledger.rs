//! A community desk's real ledger, imported without losing or inventing anything.
//!
//! The big test writes a GBK ledger of 300+ rows the way desks make them (title row, headers
//! that differ from ours, no 社区 column, merged address cells saved as blanks, full-width
//! digits, 15-digit ID numbers, desk words, two phones in a cell, local landlines, month-only
//! dates, bad rows) from the sample crate's households, deterministically, and checks every row:
//! accepted exactly as meant, or refused with all of its reasons. The other tests cover what a
//! clerk does next: import again, import an update, undo, fix the rejected-rows file, export to
//! Excel and read it back with a real spreadsheet reader.

mod common;

use std::collections::{HashMap, HashSet};

use calamine::{Data, Reader, Xlsx};
use chrono::{Datelike, NaiveDate};
use common::*;
use gridwalk_core::export::{ExportFilter, ExportKind};
use gridwalk_core::import::ImportOptions;
use gridwalk_core::ledger;
use gridwalk_core::sheet::{Cell, Sheet, SheetFormat};
use gridwalk_core::*;

const HEADERS: &[&str] = &[
    "序号",
    "楼号",
    "单元号",
    "所在楼层",
    "门牌",
    "户主姓名",
    "姓名",
    "性别",
    "公民身份号码",
    "出生年月",
    "与户主的关系",
    "人口类型",
    "联系方式",
    "重点人群",
    "备注",
];

/// What a row of the messy ledger must become.
#[derive(Debug, Clone)]
enum Expect {
    /// A person with these stored values, in the household at `address`.
    Person {
        address: Address,
        name: String,
        id_number: Option<String>,
        phone: Option<String>,
        birth_date: Option<NaiveDate>,
        relation: Relation,
        residency: Residency,
        groups: Vec<SpecialGroup>,
        notes: Option<String>,
    },
    /// A dwelling without residents.
    Dwelling { address: Address },
    /// Refused with exactly these reasons.
    Refused(Vec<(&'static str, Code)>),
}

fn fullwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' | 'A'..='Z' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

fn relation_word(rng: &mut fastrand::Rng, r: Relation, g: Gender) -> (&'static str, bool) {
    let female = g == Gender::Female;
    match r {
        Relation::Head => (if rng.bool() { "户主" } else { "本人" }, true),
        Relation::Spouse => (if female { "妻" } else { "丈夫" }, true),
        Relation::Child => match rng.u32(0..4) {
            0 => (if female { "儿媳" } else { "女婿" }, false),
            _ => (if female { "女儿" } else { "儿子" }, true),
        },
        Relation::Parent => (if female { "母亲" } else { "父亲" }, true),
        Relation::Grandparent => (if female { "奶奶" } else { "爷爷" }, true),
        Relation::Grandchild => (if female { "孙女" } else { "孙子" }, true),
        Relation::Sibling => (if female { "妹妹" } else { "弟弟" }, true),
        Relation::Tenant => ("租客", true),
        Relation::Other => (if female { "外甥女" } else { "侄子" }, false),
    }
}

fn group_word(rng: &mut fastrand::Rng, g: SpecialGroup) -> (&'static str, bool) {
    match g {
        SpecialGroup::Poverty => ("低保户", false),
        SpecialGroup::ElderlyAlone if rng.bool() => ("空巢老人", false),
        SpecialGroup::Veteran => ("退伍军人", true),
        SpecialGroup::SeriousIllness => ("慢病", true),
        other => (other.label_zh(), true),
    }
}

/// The messy GBK ledger and what each of its lines must become.
fn desk_ledger(seed: u64, households: usize) -> (Vec<u8>, Vec<(usize, Expect)>, usize) {
    let org = org();
    let grid = org.iter().find(|u| u.code == "G1").expect("grid");
    let homes = gridwalk_sample::sample_households(seed, grid, households, today());
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut lines: Vec<String> = vec![
        "幸福社区居民信息台账（2026年）,,,,,,,,,,,,,,".into(),
        HEADERS.join(","),
    ];
    let mut expect = Vec::new();
    let mut serial = 0;
    let mut blank_lines = 0;
    for (hi, sh) in homes.iter().enumerate() {
        let a = &sh.household.address;
        let floor_text = match (a.floor, rng.u32(0..3)) {
            (None, _) => String::new(),
            (Some(f), 0) => format!("{f}楼"),
            (Some(f), 1) => fullwidth(&format!("{f}层")),
            (Some(f), _) => f.to_string(),
        };
        let room = a.room.clone().unwrap_or_default();
        let room_text = if rng.u32(0..5) == 0 && !room.contains('号') {
            format!("{room}室")
        } else {
            room.clone()
        };
        let building = if rng.u32(0..6) == 0 {
            fullwidth(&a.building)
        } else {
            a.building.clone()
        };
        let unit = a.unit.clone().unwrap_or_else(|| "/".into());
        let address_cells = [building, unit, floor_text, room_text];
        let head_name = sh
            .residents
            .iter()
            .find(|r| r.relation == Relation::Head)
            .map(|r| r.name.clone())
            .unwrap_or_default();

        if sh.residents.is_empty() {
            serial += 1;
            let mut cells = vec![serial.to_string()];
            cells.extend(address_cells.iter().cloned());
            cells.extend(std::iter::repeat_n(String::new(), HEADERS.len() - 5));
            lines.push(cells.join(","));
            expect.push((lines.len(), Expect::Dwelling { address: a.clone() }));
            continue;
        }
        for (ri, r) in sh.residents.iter().enumerate() {
            serial += 1;
            let gender = r.gender.expect("sample gender");
            let birth = r.birth_date.expect("sample birth");
            let full_id = r.id_number.clone().expect("sample id");
            let mut notes: Vec<String> = Vec::new();

            let (rel_word, rel_exact) = relation_word(&mut rng, r.relation, gender);
            if !rel_exact {
                notes.push(format!("与户主关系：{rel_word}"));
            }
            let res_word = match r.residency {
                Residency::Floating => "流动人口",
                Residency::Registered if rng.bool() => "常住人口",
                Residency::Registered => "户籍人口",
            };
            if res_word == "常住人口" {
                notes.push("户籍类型：常住人口".into());
            }
            let mut group_words = Vec::new();
            let mut nearest = Vec::new();
            for g in &r.special_groups {
                let (w, exact) = group_word(&mut rng, *g);
                group_words.push(w);
                if !exact {
                    nearest.push(w);
                }
            }
            if !nearest.is_empty() {
                notes.push(format!("特殊人群：{}", nearest.join("、")));
            }

            // Identity: 15 digits, full-width, none (then a birth date), or plain.
            let (id_text, birth_text, stored_id, stored_birth) = match rng.u32(0..10) {
                0 | 1 if birth.year() < 2000 => {
                    let old = format!("{}{}", &full_id[..6], &full_id[8..17]);
                    (old, String::new(), Some(full_id.clone()), Some(birth))
                }
                2 => (
                    fullwidth(&full_id),
                    format!("{}.{:02}", birth.year(), birth.month()),
                    Some(full_id.clone()),
                    Some(birth),
                ),
                3 => {
                    let month_only =
                        NaiveDate::from_ymd_opt(birth.year(), birth.month(), 1).unwrap();
                    notes.push(format!(
                        "出生日期只到月（{}年{:02}月），日按1日记",
                        birth.year(),
                        birth.month()
                    ));
                    (
                        String::new(),
                        format!("{}.{:02}", birth.year(), birth.month()),
                        None,
                        Some(month_only),
                    )
                }
                4 => (
                    String::new(),
                    format!("{}年{}月{}日", birth.year(), birth.month(), birth.day()),
                    None,
                    Some(birth),
                ),
                _ => (
                    full_id.clone(),
                    String::new(),
                    Some(full_id.clone()),
                    Some(birth),
                ),
            };

            // Phones: two in a cell, a local landline, full-width, or as given.
            let (phone_text, stored_phone) = match (&r.phone, rng.u32(0..8)) {
                (None, _) => (String::new(), None),
                (Some(p), 0) => {
                    let other = format!("139{:08}", rng.u32(0..100_000_000));
                    notes.push(format!("其他电话：{other}"));
                    (format!("{p}/{other}"), Some(p.clone()))
                }
                (Some(_), 1) => {
                    let local = format!("2{:06}", rng.u32(0..1_000_000));
                    (local.clone(), Some(format!("0953-{local}")))
                }
                (Some(p), 2) => (fullwidth(p), Some(p.clone())),
                (Some(p), _) => (p.clone(), Some(p.clone())),
            };

            let mut cells = vec![serial.to_string()];
            if ri == 0 {
                cells.extend(address_cells.iter().cloned());
                cells.push(head_name.clone());
            } else {
                cells.extend(std::iter::repeat_n(String::new(), 5));
            }
            cells.extend([
                r.name.clone(),
                gender.label_zh().to_owned(),
                id_text,
                birth_text,
                rel_word.to_owned(),
                res_word.to_owned(),
                phone_text,
                group_words.join("、"),
                String::new(),
            ]);

            // About one row in eight is wrong, some in several ways at once.
            let defect = (hi * 7 + ri * 3) % 8 == 5;
            let outcome = if defect {
                let mut reasons = Vec::new();
                match (hi + ri) % 5 {
                    0 if !cells[8].is_empty() => {
                        let mut id: Vec<char> = cells[8].chars().collect();
                        let last = id.len() - 1;
                        id[last] = if matches!(id[last], '1' | '１') {
                            '2'
                        } else {
                            '1'
                        };
                        let bad: String = id.into_iter().collect();
                        // A 15-digit number has no check digit: make it 16 digits instead.
                        if bad.chars().count() == 15 {
                            cells[8] = format!("{bad}1");
                            reasons.push(("id_number", Code::InvalidFormat));
                        } else {
                            cells[8] = bad;
                            reasons.push(("id_number", Code::InvalidChecksum));
                        }
                    }
                    1 => {
                        cells[10] = "邻居".into();
                        cells[12] = "12345".into();
                        reasons.push(("relation", Code::InvalidValue));
                        reasons.push(("phone", Code::InvalidFormat));
                    }
                    2 if !cells[8].is_empty() => {
                        cells[7] = if gender == Gender::Male { "女" } else { "男" }.into();
                        cells[13] = "会飞".into();
                        reasons.push(("special_groups", Code::InvalidValue));
                        reasons.push(("gender", Code::Mismatch));
                    }
                    3 => {
                        cells[6] = format!("{}3", r.name);
                        cells[11] = "外星人".into();
                        reasons.push(("name", Code::InvalidFormat));
                        reasons.push(("residency", Code::InvalidValue));
                    }
                    _ => {
                        cells[8] = String::new();
                        cells[9] = "2030.01".into();
                        reasons.push(("birth_date", Code::FutureDate));
                    }
                }
                Expect::Refused(reasons)
            } else {
                let mut groups = r.special_groups.clone();
                groups.sort();
                Expect::Person {
                    address: a.clone(),
                    name: r.name.clone(),
                    id_number: stored_id,
                    phone: stored_phone,
                    birth_date: stored_birth,
                    relation: r.relation,
                    residency: r.residency,
                    groups,
                    notes: (!notes.is_empty()).then(|| notes.join("；")),
                }
            };
            lines.push(cells.join(","));
            expect.push((lines.len(), outcome));
        }
        // A blank row under the merged cells, or one with only its row number.
        if hi % 9 == 4 {
            serial += 1;
            let mut cells = vec![serial.to_string()];
            cells.extend(std::iter::repeat_n(String::new(), HEADERS.len() - 1));
            lines.push(cells.join(","));
            blank_lines += 1;
        } else if hi % 9 == 7 {
            lines.push(",".repeat(HEADERS.len() - 1));
            blank_lines += 1;
        }
    }
    let text = lines.join("\r\n") + "\r\n";
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable, "the sample text is all GBK");
    (bytes.into_owned(), expect, blank_lines)
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 18).unwrap()
}

fn options() -> ImportOptions {
    ImportOptions {
        area_code: Some("0953".into()),
        file_name: Some("幸福社区台账.csv".into()),
        ..ImportOptions::new("G1")
    }
}

fn all_residents(s: &Store) -> Vec<(Resident, Household)> {
    let mut out = Vec::new();
    for h in s.list_households(&Default::default()).unwrap() {
        for r in s.residents_of(&h.id, false).unwrap() {
            out.push((r, h.clone()));
        }
    }
    out
}

#[test]
fn a_messy_gbk_ledger_of_300_rows_is_imported_row_by_row() {
    let (s, _) = store();
    let (bytes, expect, blank_lines) = desk_ledger(11, 120);
    assert!(std::str::from_utf8(&bytes).is_err(), "GBK, not UTF-8");
    assert!(expect.len() >= 300, "{} rows", expect.len());

    let outcome = s.import_ledger_with(&bytes, &options()).unwrap();
    let report = &outcome.report;
    // The figures the import's notes quote (`cargo test -p gridwalk-core --test ledger --
    // --nocapture`).
    println!(
        "GBK desk ledger: {} rows, {} accepted, {} refused; {} cells filled down, {} ID numbers \
         converted, {} households, {} residents",
        report.rows_total,
        report.rows_accepted,
        report.rejected.len(),
        report.filled_cells,
        report.ids_converted,
        report.households_created,
        report.residents_created
    );
    assert_eq!(
        report.rows_accepted + report.rejected.len(),
        report.rows_total
    );
    assert_eq!(report.encoding, "gbk");
    assert_eq!(report.rows_total, expect.len(), "blank rows are not rows");
    assert!(
        report.ignored_columns.is_empty(),
        "{:?}",
        report.ignored_columns
    );
    assert!(report.filled_cells > 200, "{}", report.filled_cells);
    assert!(report.ids_converted > 0);
    assert!(blank_lines > 0);

    // Every refused row carries exactly its reasons; nothing else was refused.
    let refused: HashMap<usize, &import::RejectedRow> =
        report.rejected.iter().map(|r| (r.line, r)).collect();
    let mut want_refused = 0;
    for (line, e) in &expect {
        match e {
            Expect::Refused(reasons) => {
                want_refused += 1;
                let row = refused
                    .get(line)
                    .unwrap_or_else(|| panic!("line {line} accepted"));
                let mut got: Vec<(&str, Code)> = row
                    .errors
                    .iter()
                    .map(|v| (v.field.as_str(), v.code))
                    .collect();
                let mut want = reasons.clone();
                got.sort_by_key(|(f, _)| f.to_string());
                want.sort_by_key(|(f, _)| f.to_string());
                assert_eq!(got, want, "line {line}");
            }
            _ => assert!(
                !refused.contains_key(line),
                "line {line}: {:?}",
                refused[line]
            ),
        }
    }
    assert_eq!(report.rejected.len(), want_refused);
    assert_eq!(report.rows_accepted + want_refused, expect.len());

    // Every accepted person is stored exactly as meant, in the right dwelling.
    let stored = all_residents(&s);
    let by_name: HashMap<&str, Vec<&(Resident, Household)>> =
        stored.iter().fold(HashMap::new(), |mut m, rh| {
            m.entry(rh.0.name.as_str()).or_default().push(rh);
            m
        });
    let mut people = 0;
    let mut dwellings = HashSet::new();
    for (line, e) in &expect {
        match e {
            Expect::Person {
                address,
                name,
                id_number,
                phone,
                birth_date,
                relation,
                residency,
                groups,
                notes,
            } => {
                people += 1;
                let key = ledger::household_key(address);
                dwellings.insert(key.clone());
                let (r, h) = by_name
                    .get(name.as_str())
                    .and_then(|v| {
                        v.iter()
                            .find(|(_, h)| ledger::household_key(&h.address) == key)
                    })
                    .unwrap_or_else(|| panic!("line {line}: {name} not stored at {key}"));
                assert_eq!(h.grid_code, "G1");
                assert_eq!(h.address.community, "幸福社区", "from the target grid");
                assert_eq!(h.address.floor, address.floor, "line {line}");
                assert_eq!(&r.id_number, id_number, "line {line}");
                assert_eq!(&r.phone, phone, "line {line}");
                assert_eq!(&r.birth_date, birth_date, "line {line}");
                assert_eq!(&r.relation, relation, "line {line}");
                assert_eq!(&r.residency, residency, "line {line}");
                assert_eq!(&r.special_groups, groups, "line {line}");
                assert_eq!(&r.notes, notes, "line {line}");
            }
            Expect::Dwelling { address } => {
                dwellings.insert(ledger::household_key(address));
            }
            Expect::Refused(_) => {}
        }
    }
    assert_eq!(stored.len(), people, "nothing invented");
    // One household per dwelling that has an accepted row: never two flats in one.
    let homes = s.list_households(&Default::default()).unwrap();
    let keys: HashSet<String> = homes
        .iter()
        .map(|h| ledger::household_key(&h.address))
        .collect();
    assert_eq!(keys.len(), homes.len(), "no dwelling twice");
    assert_eq!(report.households_created, homes.len());
    assert!(keys.is_subset(&dwellings));

    // The refused rows come back as a GBK file with a reason column.
    let file = outcome.rejected_file.expect("rejected rows");
    assert_eq!(file.encoding, "gbk");
    let (text, enc) = ledger::decode_text(&file.bytes);
    assert_eq!(enc, "gbk");
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), want_refused + 1);
    assert!(lines[0].ends_with("退回原因 / reason"));
    assert!(lines[1..]
        .iter()
        .all(|l| l.contains(" / ") && l.contains('[')));

    println!(
        "messy GBK ledger: {} rows, {} accepted, {} refused, {} households, {} cells filled down, {} 15-digit IDs converted",
        report.rows_total,
        report.rows_accepted,
        report.rejected.len(),
        report.households_created,
        report.filled_cells,
        report.ids_converted
    );
}

#[test]
fn reimport_is_idempotent_and_a_changed_phone_is_one_edit() {
    let (s, _) = store();
    let (bytes, _, _) = desk_ledger(12, 60);
    let first = s.import_ledger_with(&bytes, &options()).unwrap().report;
    assert!(first.residents_created > 80, "{first:?}");
    let outbox = outbox_len(&s);
    let people = all_residents(&s);

    for _ in 0..2 {
        let again = s.import_ledger_with(&bytes, &options()).unwrap().report;
        assert_eq!(again.households_created, 0);
        assert_eq!(again.residents_created, 0);
        assert_eq!(again.residents_updated, 0);
        assert_eq!(again.households_updated, 0);
        assert_eq!(again.residents_unchanged, first.residents_created);
        assert_eq!(again.rejected.len(), first.rejected.len(), "no duplicates");
        assert_eq!(again.import_id, None, "nothing changed");
        assert_eq!(outbox_len(&s), outbox);
    }
    assert_eq!(all_residents(&s), people);

    // The desk updates one phone number (of a resident without an ID number, matched by
    // household + name + birth date).
    let (text, _) = ledger::decode_text(&bytes);
    let changeable = |r: &Resident| {
        r.phone
            .as_deref()
            .is_some_and(|p| p.len() == 11 && text.matches(p).count() == 1)
            && r.notes.is_none()
    };
    // Preferably one without an ID number (matched by household + name + birth date).
    let residents: Vec<&Resident> = people.iter().map(|(r, _)| r).collect();
    let target = residents
        .iter()
        .find(|r| r.id_number.is_none() && changeable(r))
        .or_else(|| residents.iter().find(|r| changeable(r)))
        .copied()
        .expect("a resident with one mobile");
    let old_phone = target.phone.clone().unwrap();
    let updated = text.replace(&old_phone, "13700001111");
    let (updated_bytes, _, _) = encoding_rs::GBK.encode(&updated);
    let report = s
        .import_ledger_with(&updated_bytes, &options())
        .unwrap()
        .report;
    assert_eq!(report.residents_updated, 1, "{report:?}");
    assert_eq!(report.residents_created, 0);
    assert_eq!(outbox_len(&s), outbox + 1);
    let change = s
        .read(|c| changes::list(c, "pending", 100_000))
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(change.op, "update");
    assert_eq!(change.entity_id, target.id);
    assert_eq!(
        change
            .payload
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["phone"]
    );
    assert_eq!(
        s.resident(&target.id).unwrap().phone.as_deref(),
        Some("13700001111")
    );

    // Undo the update: the old phone is back, the edit will never be sent.
    let undo = s.undo_import(report.import_id.as_deref().unwrap()).unwrap();
    assert_eq!((undo.residents_restored, undo.changes_withdrawn), (1, 1));
    assert_eq!(s.resident(&target.id).unwrap(), *target);
    assert_eq!(outbox_len(&s), outbox);
    assert_eq!(s.search("13700001111", 5).unwrap().len(), 0);

    // Undo the first import: everything it created is gone, with its outbox rows.
    let undo = s.undo_import(first.import_id.as_deref().unwrap()).unwrap();
    assert_eq!(undo.residents_removed, first.residents_created);
    assert_eq!(undo.households_removed, first.households_created);
    assert!(s.list_households(&Default::default()).unwrap().is_empty());
    assert_eq!(outbox_len(&s), 0);
    assert!(s.search(&people[0].0.name, 5).unwrap().is_empty());
    let list = s.ledger_imports().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|i| i.undone_at.is_some()));
    // An import cannot be undone twice.
    assert!(matches!(
        s.undo_import(first.import_id.as_deref().unwrap()),
        Err(Error::InvalidState { .. })
    ));
}

#[test]
fn undo_is_refused_once_changes_left_the_device_or_later_work_builds_on_them() {
    let (s, clock) = store();
    let csv = "楼栋,单元,门牌,姓名,与户主关系,联系电话\n\
               3栋,1单元,101,张三,户主,13800138000\n\
               3栋,1单元,102,李四,户主,\n";
    let report = s.import_ledger(csv.as_bytes(), "G1").unwrap();
    let id = report.import_id.clone().unwrap();
    let before = outbox_len(&s);

    // A push attempt counts as having left the device.
    s.write(|ctx| {
        ctx.tx.execute(
            "UPDATE outbox SET attempts = 1 WHERE seq = (SELECT min(seq) FROM outbox)",
            [],
        )?;
        Ok(())
    })
    .unwrap();
    assert!(matches!(
        s.undo_import(&id),
        Err(Error::InvalidState { .. })
    ));
    assert_eq!(outbox_len(&s), before);
    assert_eq!(s.list_households(&Default::default()).unwrap().len(), 2);
    s.write(|ctx| {
        ctx.tx.execute("UPDATE outbox SET attempts = 0", [])?;
        Ok(())
    })
    .unwrap();

    // A visit logged to an imported household builds on it.
    let h = s.list_households(&Default::default()).unwrap().remove(0);
    s.log_visit(&VisitInput {
        household_id: h.id.clone(),
        visited_at: clock.now(),
        mode: VisitMode::InPerson,
        outcome: VisitOutcome::Fine,
        notes: None,
    })
    .unwrap();
    assert!(matches!(
        s.undo_import(&id),
        Err(Error::InvalidState { .. })
    ));
    assert_eq!(s.list_households(&Default::default()).unwrap().len(), 2);
    assert!(matches!(
        s.undo_import("no-such-import"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn dry_run_reports_without_writing() {
    let (s, _) = store();
    let (bytes, _, _) = desk_ledger(13, 20);
    let dry = s
        .import_ledger_with(
            &bytes,
            &ImportOptions {
                dry_run: true,
                ..options()
            },
        )
        .unwrap();
    assert!(dry.report.dry_run);
    assert!(dry.report.residents_created > 20);
    assert_eq!(dry.report.import_id, None);
    assert!(s.list_households(&Default::default()).unwrap().is_empty());
    assert_eq!(outbox_len(&s), 0);
    assert!(s.ledger_imports().unwrap().is_empty());
    let real = s.import_ledger_with(&bytes, &options()).unwrap();
    let (mut a, mut b) = (dry.report.clone(), real.report.clone());
    a.dry_run = false;
    a.import_id = None;
    b.import_id = None;
    assert_eq!(a, b, "the dry run reports exactly what the import does");
    assert_eq!(dry.rejected_file, real.rejected_file);
}

#[test]
fn floors_and_rooms_are_never_merged() {
    let (s, _) = store();
    // Four flats of one building (门牌 is the room), and 东户 on two floors.
    let csv = "社区,楼栋,单元,楼层,门牌,姓名,与户主关系\n\
               幸福社区,7栋,1单元,1,101,甲一,户主\n\
               幸福社区,7栋,1单元,1,102,甲二,户主\n\
               幸福社区,7栋,1单元,2,201,甲三,户主\n\
               幸福社区,7栋,1单元,2,202,甲四,户主\n\
               幸福社区,8栋,,5楼,东户,乙一,户主\n\
               幸福社区,8栋,,6楼,东户,乙二,户主\n\
               ,,,,,乙三,子\n";
    let report = s.import_ledger(csv.as_bytes(), "G1").unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!(report.households_created, 6);
    let homes = s.list_households(&Default::default()).unwrap();
    let six_east = homes.iter().find(|h| h.address.floor == Some(6)).unwrap();
    let names: Vec<String> = s
        .residents_of(&six_east.id, false)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // A household saved without a floor is matched (and given its floor) by the only row with
    // its room; a second floor with that room would make a new household, never a merge.
    let mut input = household("东户");
    input.address.building = "9栋".into();
    input.address.unit = None;
    input.address.floor = None;
    let saved = s.add_household(&input).unwrap();
    let report = s
        .import_ledger(
            "社区,楼栋,楼层,门牌,姓名\n幸福社区,9栋,3,东户,丙一\n".as_bytes(),
            "G1",
        )
        .unwrap();
    assert_eq!(
        (report.households_created, report.households_matched),
        (0, 1)
    );
    assert_eq!(report.households_updated, 1);
    assert_eq!(s.household(&saved.id).unwrap().address.floor, Some(3));
    let report = s
        .import_ledger(
            "社区,楼栋,楼层,门牌,姓名\n幸福社区,9栋,4,东户,丙二\n".as_bytes(),
            "G1",
        )
        .unwrap();
    assert_eq!(report.households_created, 1);
}

#[test]
fn a_text_date_in_xlsx_stays_text() {
    let (s, _) = store();
    let sheet = Sheet {
        name: "台账".into(),
        headers: ["楼栋", "房号", "姓名", "出生年月", "迁入日期", "身份证号"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            vec![
                Cell::text("3栋"),
                Cell::code("0101"),
                Cell::text("张三"),
                Cell::text("1985.03"),
                Cell::Number(45000.0),
                Cell::Empty,
            ],
            vec![
                Cell::text("3栋"),
                Cell::code("0102"),
                Cell::text("李四"),
                Cell::Number(1985.03),
                Cell::text("2023.3"),
                Cell::Empty,
            ],
            vec![
                Cell::text("3栋"),
                Cell::code("0103"),
                Cell::text("王五"),
                Cell::Empty,
                Cell::Empty,
                Cell::Number(110101199003070038.0),
            ],
        ],
    };
    let mut bytes = Vec::new();
    gridwalk_core::sheet::write_xlsx(&mut bytes, &sheet).unwrap();
    let outcome = s
        .import_ledger_with(&bytes, &ImportOptions::new("G1"))
        .unwrap();
    let report = &outcome.report;
    assert_eq!(report.encoding, "xlsx");
    assert_eq!(report.residents_created, 2, "{report:?}");
    let people = all_residents(&s);
    let zhang = &people.iter().find(|(r, _)| r.name == "张三").unwrap();
    let march = NaiveDate::from_ymd_opt(1985, 3, 1);
    assert_eq!(zhang.0.birth_date, march, "not 1905-06-07");
    assert_eq!(
        zhang.0.notes.as_deref(),
        Some("出生日期只到月（1985年03月），日按1日记")
    );
    assert_eq!(zhang.0.moved_in_on, NaiveDate::from_ymd_opt(2023, 3, 15));
    assert_eq!(zhang.1.address.room.as_deref(), Some("0101"));
    let li = &people.iter().find(|(r, _)| r.name == "李四").unwrap().0;
    assert_eq!(
        li.birth_date, march,
        "a number cell 1985.03 is March 1985 too"
    );
    assert!(li
        .notes
        .as_deref()
        .unwrap()
        .contains("迁入日期只到月（2023年03月）"));
    // An ID number Excel stored as a number lost digits: refused, and told why.
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].line, 4);
    assert!(report.rejected[0].reason().contains("设为文本"));
    // xlsx in → the rejected rows as CSV UTF-8 with a BOM.
    let file = outcome.rejected_file.unwrap();
    assert_eq!(file.encoding, "utf-8");
    assert!(file.bytes.starts_with(b"\xEF\xBB\xBF"));
}

#[test]
fn the_rejected_rows_file_fixed_imports_again() {
    let (s, _) = store();
    let csv = "社区,楼栋,单元,门牌,姓名,身份证号,与户主关系,联系电话,出生日期\n\
               幸福社区,3栋,1单元,0101,张三,,户主,13800138000,1960-05-01\n\
               ,,,,李四,,邻居,,1962-07-08\n\
               ,,,,王小五,,孙子,2012345,2015-01-01\n\
               幸福社区,4栋,1单元,0201,赵六,,户主,,1970-01-01\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(csv);
    let outcome = s
        .import_ledger_with(&gbk, &ImportOptions::new("G1"))
        .unwrap();
    assert_eq!(outcome.report.residents_created, 2);
    let lines: Vec<usize> = outcome.report.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![3, 4]);
    let file = outcome.rejected_file.unwrap();
    let (text, enc) = ledger::decode_text(&file.bytes);
    assert_eq!(enc, "gbk");

    // The clerk fixes the two rows (a relation from the list, an area code) and imports the
    // file as it is, reason column included.
    let fixed = text
        .replace("邻居", "配偶")
        .replace("2012345", "0953-2012345");
    let (fixed, _, _) = encoding_rs::GBK.encode(&fixed);
    let again = s
        .import_ledger_with(&fixed, &ImportOptions::new("G1"))
        .unwrap()
        .report;
    assert!(again.rejected.is_empty(), "{:?}", again.rejected);
    assert!(
        again.ignored_columns.is_empty(),
        "{:?}",
        again.ignored_columns
    );
    assert_eq!((again.residents_created, again.households_created), (2, 0));
    let home = s
        .list_households(&Default::default())
        .unwrap()
        .into_iter()
        .find(|h| h.address.room.as_deref() == Some("0101"))
        .expect("room 0101 keeps its zero");
    let names: HashSet<String> = s
        .residents_of(&home.id, false)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(
        names,
        HashSet::from(["张三", "李四", "王小五"].map(String::from))
    );
}

#[test]
fn exports_survive_a_spreadsheet_reader() {
    let (s, clock) = store();
    let (bytes, _, _) = desk_ledger(14, 30);
    s.import_ledger_with(&bytes, &options()).unwrap();
    let mut room = household("0101");
    room.address.building = "12栋".into();
    let h = s.add_household(&room).unwrap();
    let holder = id("11010119850307001");
    s.add_resident(&resident(&h.id, "钱多多", Some(holder.clone())))
        .unwrap();
    s.log_visit(&VisitInput {
        household_id: h.id.clone(),
        visited_at: clock.now(),
        mode: VisitMode::Phone,
        outcome: VisitOutcome::Fine,
        notes: Some("电话回访".into()),
    })
    .unwrap();

    // xlsx: calamine reads ID numbers, phones and rooms back as the same text.
    let mut xlsx = Vec::new();
    let n = s
        .export_ledger(
            &mut xlsx,
            ExportKind::Residents,
            &ExportFilter::default(),
            SheetFormat::Xlsx,
        )
        .unwrap();
    let people = all_residents(&s);
    assert_eq!(n, people.len());
    let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(xlsx)).unwrap();
    let range = wb.worksheet_range_at(0).unwrap().unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let col = |h: &str| header.iter().position(|x| x == h).unwrap();
    let (id_col, room_col, phone_col) = (col("身份证号"), col("房号"), col("联系电话"));
    let mut ids = HashSet::new();
    for row in range.rows().skip(1) {
        if let Data::String(v) = &row[id_col] {
            assert_eq!(v.len(), 18, "{v}");
            ids.insert(v.clone());
        }
        if let Some(Data::String(p)) = row.get(phone_col) {
            assert!(p.len() == 11 || p.contains('-'), "{p}");
        }
        assert!(!matches!(row[id_col], Data::Float(_) | Data::Int(_)));
    }
    let stored: HashSet<String> = people
        .iter()
        .filter_map(|(r, _)| r.id_number.clone())
        .collect();
    assert_eq!(ids, stored);
    assert!(range
        .rows()
        .any(|r| r[room_col] == Data::String("0101".into())));

    // CSV: protected cells, and the file re-imports identically into a fresh store.
    let mut csv = Vec::new();
    s.export_residents_csv(&mut csv, None).unwrap();
    let text = String::from_utf8(csv.clone()).unwrap();
    assert!(
        text.contains(&format!("\"=\"\"{holder}\"\"\"")),
        "ID protected"
    );
    assert!(text.contains("\"=\"\"0101\"\"\""), "room protected");
    let (s2, _) = store();
    let report = s2.import_ledger(&csv, "G1").unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let strip = |v: Vec<(Resident, Household)>| {
        let mut v: Vec<_> = v
            .into_iter()
            .map(|(r, h)| (r.name, r.id_number, r.phone, r.relation, r.notes, h.address))
            .collect();
        v.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        v
    };
    assert_eq!(strip(all_residents(&s2)), strip(people));

    // The other ledgers: visits, patrols, cases.
    let p = s.start_patrol("G1").unwrap();
    clock.advance(chrono::Duration::minutes(40));
    s.stop_patrol(&p.id, Some("一日双巡")).unwrap();
    let c = s
        .draft_case(&CaseInput {
            type_code: "0203".into(),
            urgency: Urgency::Urgent,
            description: "楼道内电动车充电".into(),
            location: Some(inside()),
            address: Some("12栋".into()),
            grid_code: "G1".into(),
            household_id: Some(h.id.clone()),
            patrol_id: None,
        })
        .unwrap();
    s.submit_case(&c.id).unwrap();
    for (kind, first_header, text) in [
        (ExportKind::Visits, "走访时间", "电话回访"),
        (ExportKind::Patrols, "开始时间", "一日双巡"),
        (ExportKind::Cases, "编号", "电动车违规充电"),
    ] {
        let sheet = s.export_sheet(kind, &ExportFilter::default()).unwrap();
        assert_eq!(sheet.headers[0], first_header);
        assert_eq!(sheet.rows.len(), 1, "{kind:?}");
        assert!(
            sheet.rows[0].iter().any(|c| c.plain() == text),
            "{kind:?}: {:?}",
            sheet.rows[0]
        );
        let mut out = Vec::new();
        s.export_ledger(&mut out, kind, &ExportFilter::default(), SheetFormat::Xlsx)
            .unwrap();
        let mut wb: Xlsx<_> = Xlsx::new(std::io::Cursor::new(out)).unwrap();
        assert_eq!(wb.sheet_names(), vec![kind.label_zh().to_string()]);
        assert_eq!(wb.worksheet_range_at(0).unwrap().unwrap().height(), 2);
    }
    // A day range that excludes today leaves the visit ledger empty.
    let past = ExportFilter {
        to: NaiveDate::from_ymd_opt(2026, 1, 1),
        ..Default::default()
    };
    assert!(s
        .export_sheet(ExportKind::Visits, &past)
        .unwrap()
        .rows
        .is_empty());
}

#[test]
fn ledger_columns_are_documented() {
    let doc = include_str!("../../docs/ledger-columns.md");
    for spec in ledger::COLUMNS {
        for h in std::iter::once(&spec.zh).chain(spec.synonyms) {
            assert!(doc.contains(&format!("`{h}`")), "header {h} not documented");
        }
    }
    use gridwalk_core::synonyms::Vocabulary;
    fn words<T: Vocabulary>(doc: &str) {
        for w in T::desk_words() {
            assert!(
                doc.contains(&format!("`{}`", w.word)),
                "desk word {} not documented",
                w.word
            );
        }
    }
    words::<Relation>(doc);
    words::<Residency>(doc);
    words::<SpecialGroup>(doc);
    words::<HousingType>(doc);
    words::<CareTier>(doc);
    words::<Gender>(doc);
}

#[test]
fn a_refused_row_leaves_nothing_whether_or_not_it_had_a_savepoint() {
    // Rows of a household already begun in the file write one record and take no savepoint;
    // the first row of a household writes two and does. Either way a refused row leaves no
    // record, no outbox row, no journal line and no search entry, and the index of what was
    // accepted is complete (it is written once, at the end of the import).
    let (s, _clock) = store();
    let b = id("64032319800101123");
    let csv = format!(
        "楼栋,单元,门牌,姓名,身份证号,与户主关系\n\
         3栋,1单元,101,张三,,户主\n\
         3栋,1单元,102,王五,{b},户主\n\
         3栋,1单元,101,赵六,{b},子\n\
         5栋,1单元,201,钱七,{b},户主\n\
         3栋,1单元,101,孙八,,配偶\n"
    );
    let dry = s
        .import_ledger_with(
            csv.as_bytes(),
            &ImportOptions {
                dry_run: true,
                ..ImportOptions::new("G1")
            },
        )
        .unwrap()
        .report;
    assert_eq!(
        s.search("张三", 5).unwrap().len(),
        0,
        "a dry run indexes nothing"
    );
    let r = s.import_ledger(csv.as_bytes(), "G1").unwrap();
    assert_eq!((dry.rows_accepted, dry.rejected.len()), (3, 2));
    assert_eq!(
        (r.rows_accepted, r.households_created, r.residents_created),
        (3, 2, 3)
    );
    let lines: Vec<usize> = r.rejected.iter().map(|x| x.line).collect();
    assert_eq!(lines, vec![4, 5]);
    assert!(r
        .rejected
        .iter()
        .all(|x| x.errors[0].field == "id_number" && x.errors[0].code == Code::Duplicate));
    // 钱七's household (5栋) was created before the resident was refused: rolled back.
    let homes = s.list_households(&Default::default()).unwrap();
    assert_eq!(homes.len(), 2);
    assert!(homes.iter().all(|h| h.address.building == "3栋"));
    assert_eq!(outbox_len(&s), 5, "2 households + 3 residents");
    assert_eq!(s.ledger_imports().unwrap()[0].created, 5);
    for (name, hits) in [
        ("张三", 1),
        ("王五", 1),
        ("孙八", 1),
        ("赵六", 0),
        ("钱七", 0),
    ] {
        assert_eq!(s.search(name, 5).unwrap().len(), hits, "{name}");
    }
    assert_eq!(s.search("5栋", 5).unwrap().len(), 0);
    assert_eq!(s.search("3栋", 5).unwrap().len(), 2);
}
