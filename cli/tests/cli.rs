//! End-to-end tests of the `gridwalk` binary: each test runs the built executable in its own
//! temporary directory, the way a worker (or a script) would, and checks exit codes, stdout and
//! the JSON shapes scripts rely on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A scratch directory with a store path in it.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn db(&self) -> PathBuf {
        self.path().join("data").join("device.db")
    }

    /// Runs `gridwalk --db <db> args…` in the scratch directory.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_gridwalk"))
            .current_dir(self.path())
            .env_remove("GRIDWALK_DB")
            .arg("--db")
            .arg(self.db())
            .args(args)
            .output()
            .expect("run gridwalk")
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gridwalk {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs a `--json` command that must succeed; returns the parsed output.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(&all);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}\n{text}"))
    }

    fn init(&self) {
        self.ok(&[
            "init",
            "--grid-code",
            "640323001001001",
            "--grid-name",
            "幸福社区第1网格",
            "--reporter",
            "wgy-test",
        ]);
    }

    /// Adds a household and returns its id.
    fn household(&self, building: &str, care: &str) -> String {
        let h = self.json(&[
            "household",
            "add",
            "--building",
            building,
            "--unit",
            "2单元",
            "--floor",
            "5",
            "--room",
            "502",
            "--care",
            care,
            "--housing",
            "出租",
            "--lat",
            "37.78",
            "--lng",
            "107.40",
        ]);
        h["id"].as_str().expect("household id").to_string()
    }
}

/// A valid 18-digit ID number (GB 11643 check digit from the core).
fn id_number(first17: &str) -> String {
    let check = gridwalk_core::validate::id_check_digit(first17).expect("17 digits");
    format!("{first17}{check}")
}

/// A correct ID number (the standard's own example) and the same number with a wrong check digit.
const GOOD_ID: &str = "11010519491231002X";
const BAD_ID: &str = "110105194912310021";

#[test]
fn bad_id_number_is_refused_with_field_and_code() {
    let env = Env::new();
    env.init();
    let h = env.household("3栋", "连心户");

    // Human output: exit code 2, field and code, and never the number itself.
    let out = env.run(&[
        "resident",
        "add",
        "--household",
        &h,
        "--name",
        "王建国",
        "--id-number",
        BAD_ID,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("错误 / error: id_number: 身份证号校验位错误")
            && stderr.contains("[invalid_checksum]"),
        "{stderr}"
    );
    assert!(!stderr.contains(BAD_ID), "the ID number leaked: {stderr}");

    // JSON: the error object on stderr, nothing on stdout.
    let out = env.run(&[
        "--json",
        "resident",
        "add",
        "--household",
        &h,
        "--name",
        "王建国",
        "--id-number",
        BAD_ID,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error on stderr");
    assert_eq!(err["error"]["kind"], "validation");
    assert_eq!(err["error"]["field"], "id_number");
    assert_eq!(err["error"]["code"], "invalid_checksum");
    assert!(err["error"]["message"].as_str().is_some());

    // The right number goes in, with gender and birth date derived from it.
    let r = env.json(&[
        "resident",
        "add",
        "--household",
        &h,
        "--name",
        "王秀兰",
        "--id-number",
        GOOD_ID,
        "--relation",
        "户主",
        "--groups",
        "独居老人",
    ]);
    assert_eq!(r["gender"], "female");
    assert_eq!(r["birth_date"], "1949-12-31");
    assert_eq!(r["special_groups"][0], "elderly_alone");

    // The same number again is a duplicate that names the household holding it.
    let out = env.run(&[
        "--json",
        "resident",
        "add",
        "--household",
        &h,
        "--name",
        "王秀兰",
        "--id-number",
        GOOD_ID,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(err["error"]["code"], "duplicate");
    assert_eq!(err["error"]["existing_household_id"], h.as_str());

    // `household show` masks ID numbers unless asked.
    let shown = env.ok(&["household", "show", &h]);
    assert!(shown.contains("王秀兰") && shown.contains("110105********002X"));
    assert!(!shown.contains(GOOD_ID));
    assert!(env
        .ok(&["household", "show", &h, "--reveal"])
        .contains(GOOD_ID));
}

#[test]
fn a_wrong_enum_value_exits_2_and_usage_errors_are_json() {
    let env = Env::new();
    env.init();
    let out = env.run(&["household", "add", "--building", "1栋", "--care", "vip"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("care_tier"));

    let out = env.run(&["--json", "visit"]);
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON usage error");
    assert_eq!(err["error"]["kind"], "usage");
}

#[test]
fn commands_do_not_create_a_store_by_accident() {
    let env = Env::new();
    let out = env.run(&["--json", "today"]);
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(err["error"]["kind"], "no_store");
    assert!(!env.db().exists());
}

#[test]
fn a_spreadsheet_given_as_the_store_is_left_untouched() {
    let env = Env::new();
    let sheet = env.path().join("mine.xlsx");
    let bytes = b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml and the rest of a workbook";
    std::fs::write(&sheet, bytes).expect("sheet");
    for args in [
        &["--json", "status"][..],
        &["--json", "household", "list"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_gridwalk"))
            .current_dir(env.path())
            .env_remove("GRIDWALK_DB")
            .arg("--db")
            .arg(&sheet)
            .args(args)
            .output()
            .expect("run gridwalk");
        assert_eq!(out.status.code(), Some(1));
        let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
        assert_eq!(err["error"]["kind"], "not_a_store");
        assert_eq!(err["error"]["code"], "not_sqlite");
    }
    assert_eq!(std::fs::read(&sheet).expect("sheet"), bytes);
    let names: Vec<_> = std::fs::read_dir(env.path()).expect("dir").collect();
    assert_eq!(names.len(), 1, "nothing renamed or created next to it");
}

#[test]
fn gbk_ledger_imports_with_a_row_report() {
    let env = Env::new();
    env.init();
    let child = id_number("11010520100315123");
    // The desk's own headers (户主姓名, 门牌, 手机号), no 社区 column, merged cells saved blank.
    let csv = format!(
        "楼栋,单元,门牌,户主姓名,姓名,身份证号,手机号,与户主关系,关爱等级\r\n\
         9栋,1单元,301,李秀英,李秀英,{GOOD_ID},13912345678/13812345678,户主,连心户\r\n\
         ,,,,王小明,{child},,儿子,\r\n\
         9栋,2单元,101,赵刚,赵刚,{BAD_ID},,户主,放心户\r\n"
    );
    // Excel on Chinese Windows saves "CSV" as GBK.
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(&csv);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the file must not be UTF-8"
    );
    let file = env.path().join("台账.csv");
    std::fs::write(&file, &bytes).expect("write ledger");
    let file = file.to_str().expect("utf-8 path");

    // A dry run reports and writes nothing; rows were refused, so it exits 3.
    let out = env.run(&["--json", "import", file, "--dry-run"]);
    assert_eq!(out.status.code(), Some(3));
    let dry: Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["residents_created"], 2);
    assert!(env.json(&["find", "秀英"]).as_array().unwrap().is_empty());

    let out = env.run(&["--json", "import", file, "--grid", "640323001001001"]);
    assert_eq!(out.status.code(), Some(3), "rows were refused");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    let err: Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(err["error"]["kind"], "rows_refused");
    assert_eq!(report["encoding"], "gbk");
    assert_eq!(report["rows_total"], 3);
    assert_eq!(report["households_created"], 1);
    assert_eq!(report["households_matched"], 0);
    assert_eq!(report["residents_created"], 2);
    let rejected = report["rejected"].as_array().expect("rejected rows");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["line"], 4);
    assert_eq!(rejected[0]["errors"][0]["field"], "id_number");
    assert_eq!(rejected[0]["errors"][0]["code"], "invalid_checksum");
    // The refused row, as a GBK file with a reason column, next to the ledger.
    let rejects = env.path().join("台账.rejected.csv");
    assert_eq!(report["rejected_file"], rejects.to_str().unwrap());
    let rejected_bytes = std::fs::read(&rejects).expect("rejected rows file");
    let (text, _, _) = encoding_rs::GBK.decode(&rejected_bytes);
    assert!(text.contains("退回原因 / reason") && text.contains("身份证号校验位错误"));

    // The names were decoded correctly and the community came from the grid.
    let hits = env.json(&["find", "秀英"]);
    assert_eq!(hits[0]["title"], "李秀英");
    assert_eq!(hits[0]["address"], "幸福社区 9栋 1单元 301");
    let person = env.json(&[
        "resident",
        "show",
        hits[0]["id"].as_str().unwrap(),
        "--reveal",
    ]);
    assert_eq!(person["resident"]["phone"], "13912345678");
    assert!(person["resident"]["notes"]
        .as_str()
        .unwrap()
        .contains("13812345678"));

    // Importing again changes nothing; the human report lists line, field, code and message.
    let out = env.run(&["import", file]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("gbk"), "{text}");
    assert!(text.contains("无变化 unchanged 2"), "{text}");
    assert!(text.contains("invalid_checksum") && text.contains("身份证号校验位错误"));
    assert!(!text.contains(GOOD_ID) && !text.contains(BAD_ID));

    // The import can be undone while nothing has synced.
    let list = env.json(&["import", "--list"]);
    let id = list[0]["id"].as_str().expect("import id").to_string();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let undo = env.json(&["import", "--undo", &id]);
    assert_eq!(undo["residents_removed"], 2);
    assert!(env.json(&["find", "秀英"]).as_array().unwrap().is_empty());
    let out = env.run(&["import", "--undo", &id]);
    assert_eq!(out.status.code(), Some(1));
    env.run(&["import", file]);

    // Export re-reads as a UTF-8 CSV with a BOM, the Chinese headers and protected numbers.
    let csv = env.ok(&["export", "residents"]);
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains("姓名") && csv.contains("李秀英") && csv.contains("王小明"));
    assert!(csv.contains(&format!("\"=\"\"{child}\"\"\"")), "{csv}");
    // …and as xlsx, and the work ledgers too.
    let xlsx = env.path().join("人口.xlsx");
    let done = env.json(&["export", "residents", "--out", xlsx.to_str().unwrap()]);
    assert_eq!(
        (done["rows"].as_u64(), done["format"].as_str()),
        (Some(2), Some("xlsx"))
    );
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK"));
    for what in ["visits", "patrols", "cases"] {
        let out = env.ok(&["export", what, "--format", "csv"]);
        assert!(out.starts_with('\u{feff}'), "{what}");
    }
}

#[test]
fn today_json_lists_due_visits_and_the_patrol_quota() {
    let env = Env::new();
    env.init();
    let h = env.household("3栋", "close");
    let items = env.json(&["today", "--lat", "37.7801", "--lng", "107.4001"]);
    let items = items.as_array().expect("an array of items");
    let visit = items
        .iter()
        .find(|i| i["kind"] == "visit_due")
        .expect("the new close-care household is due");
    assert_eq!(visit["target_id"], h.as_str());
    assert_eq!(visit["priority"], "high");
    assert!(visit["distance_m"].as_f64().is_some_and(|d| d < 50.0));
    assert!(items.iter().any(|i| i["kind"] == "patrol"));

    // A visit takes the household off the list; "not at home" does not.
    env.ok(&["visit", &h, "--mode", "未遇"]);
    let items = env.json(&["today"]);
    assert!(items
        .as_array()
        .is_some_and(|a| a.iter().any(|i| i["target_id"] == h.as_str())));
    env.ok(&["visit", &h, "--mode", "in_person", "--notes", "一切正常"]);
    let items = env.json(&["today"]);
    assert!(items
        .as_array()
        .is_some_and(|a| !a.iter().any(|i| i["target_id"] == h.as_str())));

    let text = env.ok(&["today"]);
    assert!(text.contains("网格巡查") && text.contains("priority"));
}

#[test]
fn patrol_with_a_case_and_a_photo() {
    let env = Env::new();
    env.init();
    let photo = env.path().join("IMG_0001.png");
    // A real 1x1 PNG: the core decodes and re-encodes photos (core/src/photos.rs).
    const PNG_1X1: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\nIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82";
    std::fs::write(&photo, PNG_1X1).expect("photo");
    let photo = photo.to_str().expect("utf-8 path");

    let p = env.json(&["patrol", "start"]);
    let pid = p["id"].as_str().expect("patrol id").to_string();
    env.ok(&[
        "patrol",
        "point",
        "--lat",
        "37.7801",
        "--lng",
        "107.4001",
        "--accuracy",
        "8",
    ]);
    let out = env.run(&["patrol", "start"]);
    assert_eq!(out.status.code(), Some(1), "only one patrol runs at a time");

    let c = env.json(&[
        "case",
        "draft",
        "--type",
        "0203",
        "--urgency",
        "紧急",
        "--desc",
        "5栋一楼住户从窗口拉线给电动车充电",
        "--lat",
        "37.7801",
        "--lng",
        "107.4001",
        "--photo",
        photo,
    ]);
    let cid = c["id"].as_str().expect("case id").to_string();
    assert_eq!(c["status"], "draft");
    assert_eq!(c["patrol_id"], pid.as_str());
    assert_eq!(c["photos"].as_array().map(Vec::len), Some(1));

    let c = env.json(&["case", "submit", &cid]);
    assert_eq!(c["status"], "submitted");
    let out = env.run(&["case", "submit", &cid]);
    assert_eq!(out.status.code(), Some(1));

    // On-site verification: a rejection needs a reason; only a case sent back for
    // verification can be verified.
    let out = env.run(&["--json", "case", "verify", &cid, "--reject"]);
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(
        (&err["error"]["field"], &err["error"]["code"]),
        (&Value::from("note"), &Value::from("required"))
    );
    let out = env.run(&["--json", "case", "verify", &cid, "--ok", "--photo", photo]);
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(err["error"]["kind"], "invalid_state");
    let out = env.run(&["case", "verify", &cid]);
    assert_eq!(out.status.code(), Some(2), "--ok or --reject is required");

    let stopped = env.json(&["patrol", "stop", "--notes", "早巡"]);
    assert_eq!(stopped["patrol"]["case_ids"][0], cid.as_str());
    assert_eq!(stopped["patrol"]["point_count"], 1);

    // A patrol of one fix and a few seconds is kept but does not count (5 min, 100 m).
    assert_eq!(stopped["patrol"]["counts"], false);
    let stats = env.json(&["stats", "--period", "day"]);
    assert_eq!(stats["patrols"], 0);
    assert_eq!(stats["patrols_too_short"], 1);
    assert_eq!(stats["cases_total"], 1);
    assert_eq!(stats["cases_by_category"]["02"], 1);

    let status = env.json(&["status"]);
    assert!(status["outbox"]["pending"].as_i64().is_some_and(|n| n > 0));
    assert_eq!(status["integrity"], "ok");
}

#[test]
fn a_draft_is_made_with_its_photos_or_not_at_all_edited_and_discarded() {
    let env = Env::new();
    env.init();
    const PNG_1X1: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\nIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82";
    let good = env.path().join("good.png");
    std::fs::write(&good, PNG_1X1).expect("photo");
    let bad = env.path().join("bad.gif");
    std::fs::write(&bad, b"GIF89a\x01\0\x01\0").expect("gif");
    let (good, bad) = (good.to_str().expect("path"), bad.to_str().expect("path"));

    let args = |photos: &[&str]| {
        let mut a = vec![
            "--json",
            "case",
            "new",
            "--type",
            "0301",
            "--desc",
            "垃圾堆放",
            "--address",
            "3栋北侧",
        ];
        for p in photos {
            a.extend_from_slice(&["--photo", p]);
        }
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| env.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(args(&[good, bad]));
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(err["error"]["field"], "photos[1]");
    assert_eq!(
        env.json(&["case", "list"]).as_array().map(Vec::len),
        Some(0)
    );

    let out = run(args(&[good]));
    assert!(out.status.success());
    let c: Value = serde_json::from_slice(&out.stdout).expect("case");
    let cid = c["id"].as_str().expect("id").to_string();
    assert_eq!(c["photos"].as_array().map(Vec::len), Some(1));

    let c = env.json(&[
        "case",
        "edit",
        &cid,
        "--desc",
        "垃圾堆放，有异味",
        "--urgency",
        "紧急",
    ]);
    assert_eq!(c["description"], "垃圾堆放，有异味");
    assert_eq!(c["urgency"], "urgent");
    assert_eq!(c["address"], "3栋北侧");

    let out = env.run(&["case", "discard", &cid]);
    assert_eq!(out.status.code(), Some(1), "needs --yes");
    env.ok(&["case", "discard", &cid, "--yes"]);
    let out = env.run(&["--json", "case", "show", &cid]);
    assert_eq!(out.status.code(), Some(1));
    let photos = env.path().join("data").join("device.db.photos");
    let left = std::fs::read_dir(&photos).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the draft's photo files are gone");
}

#[test]
fn a_gpx_imported_twice_is_one_patrol_and_grid_codes_are_checked() {
    let env = Env::new();
    let out = env.run(&[
        "init",
        "--grid-code",
        "640323001001001",
        "--grid-name",
        "幸福社区第1网格",
    ]);
    assert!(out.status.success());
    // Before the first sign-in nobody has confirmed the code typed at init.
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));

    let mut gpx = String::from(
        r#"<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>"#,
    );
    for i in 0..31 {
        gpx.push_str(&format!(
            r#"<trkpt lat="{:.6}" lon="107.400000"><time>2025-03-15T01:{:02}:{:02}Z</time></trkpt>"#,
            37.778 + 0.0002 * f64::from(i),
            (i * 20) / 60,
            (i * 20) % 60
        ));
    }
    gpx.push_str("</trkseg></trk></gpx>");
    let file = env.path().join("walk.gpx");
    std::fs::write(&file, gpx).expect("gpx");
    let file = file.to_str().expect("path");
    let p = env.json(&["patrol", "import-gpx", file]);
    assert_eq!(p["patrol"]["counts"], true, "{p}");
    let out = env.run(&["patrol", "import-gpx", file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported before"));
    let pid = p["patrol"]["id"].as_str().expect("id");
    assert!(String::from_utf8_lossy(&out.stderr).contains(pid));

    // A grid the device does not know is refused where it is typed.
    let out = env.run(&["--json", "patrol", "start", "--grid", "640323001001999"]);
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(err["error"]["code"], "unknown_reference");
}

#[test]
fn demo_walks_through_a_day() {
    let env = Env::new();
    let dir = env.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_gridwalk"))
        .args(["demo", "--households", "60", "--seed", "3", "--dir"])
        .arg(&dir)
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.is_empty(), "the demo printed to stderr: {stderr}");
    for expected in [
        "今日工作统计",
        "the day's statistics",
        "巡查里程 patrol distance",
        "changes waiting to sync",
        "[invalid_checksum]",
        "e-bike charging hazard",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{stdout}");
    }
    assert!(dir.join("device.db").exists());

    // The store the demo leaves behind works with the other commands.
    let db = dir.join("device.db");
    let out = Command::new(env!("CARGO_BIN_EXE_gridwalk"))
        .arg("--db")
        .arg(&db)
        .args(["--json", "case", "list"])
        .output()
        .expect("case list");
    assert!(out.status.success());
    let cases: Value = serde_json::from_slice(&out.stdout).expect("cases JSON");
    assert!(cases.as_array().is_some_and(|c| !c.is_empty()));

    // A second run into the same directory refuses to touch the existing store.
    let out = Command::new(env!("CARGO_BIN_EXE_gridwalk"))
        .args(["demo", "--households", "5", "--dir"])
        .arg(&dir)
        .output()
        .expect("run demo again");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn demo_json_summary() {
    let env = Env::new();
    let dir = env.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_gridwalk"))
        .args(["--json", "demo", "--households", "30", "--dir"])
        .arg(&dir)
        .output()
        .expect("run demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).expect("one JSON summary");
    assert_eq!(s["households"], 30);
    assert_eq!(s["stats"]["patrols"], 2);
    assert!(s["stats"]["visits_total"].as_u64().is_some_and(|v| v >= 5));
    assert_eq!(s["stats"]["cases_total"], 1);
    assert!(s["outbox"]["pending"].as_i64().is_some_and(|n| n > 0));
    assert_eq!(s["outbox"]["attention"], 0);
}

#[test]
fn desk_words_the_import_accepts_are_accepted_on_the_command_line() {
    let env = Env::new();
    env.init();
    let h = env.household("3栋", "关心户");
    // 母亲 is a desk word the ledger import maps to `parent`.
    let r = env.json(&[
        "resident",
        "add",
        "--household",
        &h,
        "--name",
        "王秀英",
        "--relation",
        "母亲",
        "--gender",
        "女",
        "--birth-date",
        "1950-01-01",
    ]);
    assert_eq!(r["relation"], "parent", "{r}");
    // 微信 is listed in the help of `visit --mode`, so it is accepted.
    let v = env.json(&["visit", &h, "--mode", "微信"]);
    assert_eq!(v["mode"], "messaging", "{v}");
}

#[test]
fn a_refused_vocabulary_value_lists_the_allowed_values() {
    let env = Env::new();
    env.init();
    let h = env.household("3栋", "关心户");
    let out = env.run(&["visit", &h, "--mode", "飞鸽传书"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("入户走访、电话、微信/短信、未遇"), "{err}");
    assert!(
        err.contains("in_person/phone/messaging/not_at_home"),
        "{err}"
    );

    let out = env.run(&["--json", "visit", &h, "--mode", "飞鸽传书"]);
    assert_eq!(out.status.code(), Some(2));
    let err: Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(err["error"]["field"], "mode");
    assert_eq!(err["error"]["code"], "invalid_value");
    assert_eq!(
        err["error"]["allowed"],
        "in_person/phone/messaging/not_at_home"
    );
}

#[test]
fn help_lists_the_vocabularies_the_parser_accepts() {
    let env = Env::new();
    let help = env.ok(&["visit", "--help"]);
    assert!(
        help.contains("in_person/phone/messaging/not_at_home"),
        "{help}"
    );
    let help = env.ok(&["resident", "add", "--help"]);
    // Every relation code, generated from the vocabulary.
    assert!(
        help.contains("head/spouse/child/parent/grandparent/grandchild/sibling/tenant/other"),
        "{help}"
    );
    let help = env.ok(&["case", "photo", "--help"]);
    assert!(help.contains("JPEG 或 PNG"), "{help}");
    assert!(!help.to_lowercase().contains("webp"), "{help}");
}

#[test]
fn find_ignores_the_blanks_between_address_parts() {
    let env = Env::new();
    env.init();
    // Building and unit typed as two parts: "3栋" + "2单元".
    let split = env.household("3栋", "放心户");
    // Building and unit typed as one part, no unit.
    let joined = env.json(&[
        "household",
        "add",
        "--building",
        "7栋3单元",
        "--room",
        "101",
    ]);
    let joined = joined["id"].as_str().expect("id").to_string();

    let ids = |q: &str| -> Vec<String> {
        env.json(&["find", q])
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(ids("3栋2单元"), vec![split.clone()]);
    assert_eq!(ids("3栋 2单元"), vec![split]);
    assert_eq!(ids("7栋 3单元"), vec![joined.clone()]);
    assert_eq!(ids("7栋3单元"), vec![joined]);
}

#[test]
fn not_found_says_what_was_not_found_in_both_languages() {
    let env = Env::new();
    env.init();
    let out = env.run(&["household", "show", "no-such-household"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let (zh, en) = err.rsplit_once(" / ").expect("zh / en");
    assert!(zh.contains("未找到住户 no-such-household"), "{err}");
    assert!(
        en.contains("household no-such-household not found"),
        "{err}"
    );
}

#[test]
fn ids_may_be_typed_short_and_tables_show_them_short() {
    let env = Env::new();
    env.init();
    let a = env.household("3栋", "放心户");
    let b = env.household("4栋", "放心户");
    // UUIDv7 ids made in the same minute share their first 8 characters (and always the first).
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    assert!(common >= 1, "{a} {b}");

    // The table shows the shortest unique prefix of each id, not the whole id.
    let table = env.ok(&["household", "list"]);
    let short_a = &a[..(common + 1).max(8)];
    assert!(table.contains(short_a), "{table}");
    assert!(!table.contains(&a), "{table}");

    // A unique prefix works wherever an id is taken.
    let shown = env.json(&["household", "show", short_a]);
    assert_eq!(shown["household"]["id"], a.as_str());
    let r = env.json(&[
        "resident",
        "add",
        "--household",
        short_a,
        "--name",
        "李四",
        "--gender",
        "男",
    ]);
    let rid = r["id"].as_str().expect("id").to_string();
    assert_eq!(r["household_id"], a.as_str());
    let v = env.json(&["visit", short_a]);
    assert_eq!(v["household_id"], a.as_str());

    // An ambiguous prefix lists the matching ids; an unknown one is not found.
    let out = env.run(&["household", "show", &a[..common]]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&a) && err.contains(&b), "{err}");
    let out = env.run(&["household", "show", "ffffffff"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));

    // resident list, for one household (by prefix) or all.
    let list = env.json(&["resident", "list", "--household", short_a]);
    let list = list.as_array().expect("residents");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], rid.as_str());
    let list = env.json(&["resident", "list", "--household", &b]);
    assert!(list.as_array().expect("residents").is_empty());
    let table = env.ok(&["resident", "list"]);
    assert!(
        table.contains("李四") && table.contains(&rid[..8]),
        "{table}"
    );
}
