//! Replays every seed (`fuzz/corpus/<target>/`) and every crash the fuzzer ever found
//! (`fuzz/regressions/<target>/`) through the target bodies, on stable and without libFuzzer, so
//! `cargo test --workspace` keeps fixed crashes fixed and the seeds meaningful.

use std::path::{Path, PathBuf};

use gridwalk_fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/targets has a parent")
        .to_path_buf()
}

/// Files of `dir`, sorted (a missing folder has none).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("read corpus folder").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Runs every file of `kind/<target>/` for every target; returns the files that panicked and
/// how many files ran per target.
fn replay(kind: &str) -> (Vec<String>, Vec<(&'static str, usize)>) {
    let mut failed = Vec::new();
    let mut counts = Vec::new();
    for (name, body) in TARGETS {
        let all = files(&fuzz_dir().join(kind).join(name));
        for file in &all {
            let data = std::fs::read(file).expect("read corpus file");
            if std::panic::catch_unwind(|| body(&data)).is_err() {
                failed.push(format!("{name}: {}", file.display()));
            }
        }
        counts.push((*name, all.len()));
    }
    (failed, counts)
}

#[test]
fn every_target_has_seeds_and_they_pass() {
    let (failed, counts) = replay("corpus");
    assert!(
        failed.is_empty(),
        "seeds that panic:\n{}",
        failed.join("\n")
    );
    for (name, n) in counts {
        assert!(n > 0, "fuzz/corpus/{name}/ has no seed");
    }
}

#[test]
fn every_regression_stays_fixed() {
    let (failed, _) = replay("regressions");
    assert!(
        failed.is_empty(),
        "regressions that panic again:\n{}",
        failed.join("\n")
    );
}

#[test]
fn corpus_folders_name_real_targets() {
    for kind in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind)) else {
            continue;
        };
        for e in entries {
            let name = e.expect("entry").file_name().to_string_lossy().into_owned();
            assert!(
                gridwalk_fuzz_targets::target(&name).is_some(),
                "fuzz/{kind}/{name}/ belongs to no target"
            );
        }
    }
}

/// The cargo-fuzz crate has one binary per target, each calling the body of the same name.
#[test]
fn every_target_has_a_fuzz_binary() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in TARGETS {
        let src = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&src).unwrap_or_else(|_| panic!("missing {}", src.display()));
        assert!(
            text.contains(&format!("gridwalk_fuzz_targets::{name}(")),
            "{} does not call the {name} body",
            src.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
    }
}
