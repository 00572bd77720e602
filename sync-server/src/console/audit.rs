//! The audit log of reveals (PIPL Art. 28: who looked at whose ID number or phone, and why),
//! hash-chained so that a changed, removed or reordered entry shows.
//!
//! Each entry's hash is the SHA-256 (hex) of the previous entry's hash, a newline, and the
//! entry's canonical content: a JSON object with sorted keys and no spaces holding its sequence
//! number and every recorded field ([`canonical`]). The first entry chains to [`GENESIS`]. The
//! storage also keeps the head (last seq and hash), so cutting entries off the end shows too.
//! [`verify`] walks the whole log and names the first entry that does not hold; the
//! `gridwalk-server audit verify --data DIR` command runs it and exits non-zero on a break.
//!
//! The log protects against edits made through the database file after the fact; someone who can
//! rewrite the whole file *and* recompute every later hash is not stopped by a chain alone
//! (anchoring the head elsewhere — a printout, a second server — is the remedy).

use serde_json::json;
use sha2::{Digest, Sha256};

use super::data_store::{AuditDraft, AuditRow, ConsoleData};
use crate::error::Result;

/// The hash the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audited action is.
pub const ACTION_REVEAL: &str = "reveal";
pub const ACTION_EXPORT_UNMASKED: &str = "export_unmasked";

/// The entry's canonical content: sorted keys, compact.
pub fn canonical(seq: i64, d: &AuditDraft) -> String {
    // serde_json's map is ordered by key (no `preserve_order` feature here), so this is the
    // canonical form whatever order the fields are written in.
    json!({
        "seq": seq, "at": d.at, "user_id": d.user_id, "username": d.username,
        "action": d.action, "entity": d.entity, "record_id": d.record_id, "field": d.field,
        "reason": d.reason,
    })
    .to_string()
}

/// SHA-256 (hex) of the previous hash, a newline and the canonical content.
pub fn entry_hash(prev_hash: &str, seq: i64, d: &AuditDraft) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical(seq, d).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends an entry (the storage chains it to the last one in the same transaction).
pub fn record(store: &dyn ConsoleData, draft: &AuditDraft) -> Result<AuditRow> {
    store.append_audit(draft, entry_hash)
}

/// Why the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// An entry's sequence number is not the one after its predecessor's (one was removed or
    /// the order changed).
    Gap { expected: i64, found: i64 },
    /// An entry does not name its predecessor's hash.
    Link { seq: i64 },
    /// An entry's content does not hash to its stored hash (it was edited).
    Content { seq: i64 },
    /// The log ends before, or goes past, the head the last append left (entries cut off or
    /// added around the server).
    Head { head_seq: i64, last_seq: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Gap { expected, found } => write!(
                f,
                "第 {found} 条之前缺少第 {expected} 条（被删除或顺序被改）/ entry {expected} is missing before entry {found} (removed or reordered)"
            ),
            Break::Link { seq } => write!(
                f,
                "第 {seq} 条的前序哈希与上一条不符 / entry {seq} does not chain to the entry before it"
            ),
            Break::Content { seq } => write!(
                f,
                "第 {seq} 条的内容与其哈希不符（被修改）/ entry {seq} does not match its hash (edited)"
            ),
            Break::Head { head_seq, last_seq } => write!(
                f,
                "日志止于第 {last_seq} 条，但最后一次写入为第 {head_seq} 条 / the log ends at entry {last_seq} but the last append was entry {head_seq}"
            ),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Entries checked.
    pub entries: i64,
    /// The first break, if any.
    pub first_break: Option<Break>,
}

/// Walks the whole log in pages and checks every link, every hash and the head.
pub fn verify(store: &dyn ConsoleData) -> Result<Verdict> {
    let mut prev_hash = GENESIS.to_string();
    let mut expected = 1;
    let mut entries = 0;
    loop {
        let page = store.audit_rows(expected - 1, 1000)?;
        if page.is_empty() {
            break;
        }
        for row in page {
            entries += 1;
            let broken = if row.seq != expected {
                Some(Break::Gap {
                    expected,
                    found: row.seq,
                })
            } else if row.prev_hash != prev_hash {
                Some(Break::Link { seq: row.seq })
            } else if entry_hash(&row.prev_hash, row.seq, &row.draft) != row.hash {
                Some(Break::Content { seq: row.seq })
            } else {
                None
            };
            if broken.is_some() {
                return Ok(Verdict {
                    entries,
                    first_break: broken,
                });
            }
            prev_hash = row.hash;
            expected += 1;
        }
    }
    let last_seq = expected - 1;
    let head_seq = store.audit_head()?.map_or(0, |(s, _)| s);
    let first_break = (head_seq != last_seq).then_some(Break::Head { head_seq, last_seq });
    Ok(Verdict {
        entries,
        first_break,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> AuditDraft {
        AuditDraft {
            at: 1,
            user_id: "u".into(),
            username: "zhaomin".into(),
            action: ACTION_REVEAL.into(),
            entity: "resident".into(),
            record_id: "r1".into(),
            field: "id_number".into(),
            reason: "核实低保申请".into(),
        }
    }

    #[test]
    fn the_hash_covers_every_field_and_the_link() {
        let base = entry_hash(GENESIS, 1, &draft());
        assert_eq!(base.len(), 64);
        assert_ne!(entry_hash(&base, 1, &draft()), base);
        assert_ne!(entry_hash(GENESIS, 2, &draft()), base);
        let mut d = draft();
        d.reason.push('。');
        assert_ne!(entry_hash(GENESIS, 1, &d), base);
        let mut d = draft();
        d.field = "phone".into();
        assert_ne!(entry_hash(GENESIS, 1, &d), base);
        assert!(canonical(1, &draft()).starts_with("{\"action\":\"reveal\",\"at\":1,"));
    }
}
