//! The shared vocabulary tables, for the shells: one reading of a typed word everywhere.
//!
//! A worker types "母亲", "微信" or "低保户"; a clerk's ledger says "儿媳" or "常住人口". The
//! command line, its help, the ledger import and the server all read such words with the tables
//! of `gridwalk-domain` (`synonyms.rs`: code, Chinese or English label, or a desk word). An app
//! that kept a word list of its own would accept what the import refuses, or the other way
//! round — so the shells get the same tables through here, and nothing else:
//!
//! - `parseRelation("母亲")`, `parseVisitMode("微信")`, … give the typed FFI enum (the same
//!   function the CLI uses, `synonyms::parse_with_synonyms`); a word no table has is
//!   `Validation(field, InvalidValue)`.
//! - `readVocabulary(kind, word)` says the code and whether the word is exact or only the
//!   nearest code (儿媳 → `child`: the import then keeps the word in the notes).
//! - `vocabularyValues(kind)` lists every value with its labels and desk words, in the table's
//!   order, for pickers and autocompletion.
//!
//! `tests/wrapper.rs` checks every desk word of every table reads the same through each of
//! these as through the domain crate.

use gridwalk_core as core;
use gridwalk_core::synonyms::{self, Vocabulary};

use crate::enums::*;
use crate::error::{GridwalkError, Result};

/// The vocabularies whose values a person types or a ledger names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum VocabularyKind {
    HousingType,
    CareTier,
    Gender,
    Residency,
    Relation,
    SpecialGroup,
    VisitMode,
    VisitOutcome,
    Urgency,
    CaseStatus,
    TaskKind,
    Priority,
}

impl VocabularyKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [VocabularyKind] = &[
        VocabularyKind::HousingType,
        VocabularyKind::CareTier,
        VocabularyKind::Gender,
        VocabularyKind::Residency,
        VocabularyKind::Relation,
        VocabularyKind::SpecialGroup,
        VocabularyKind::VisitMode,
        VocabularyKind::VisitOutcome,
        VocabularyKind::Urgency,
        VocabularyKind::CaseStatus,
        VocabularyKind::TaskKind,
        VocabularyKind::Priority,
    ];

    /// The field a refused word is reported on (the core's field name).
    pub fn field(self) -> &'static str {
        match self {
            VocabularyKind::HousingType => "housing_type",
            VocabularyKind::CareTier => "care_tier",
            VocabularyKind::Gender => "gender",
            VocabularyKind::Residency => "residency",
            VocabularyKind::Relation => "relation",
            VocabularyKind::SpecialGroup => "special_groups",
            VocabularyKind::VisitMode => "mode",
            VocabularyKind::VisitOutcome => "outcome",
            VocabularyKind::Urgency => "urgency",
            VocabularyKind::CaseStatus => "status",
            VocabularyKind::TaskKind => "kind",
            VocabularyKind::Priority => "priority",
        }
    }
}

/// One way desks write a value besides its code and labels.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeskWord {
    pub word: String,
    /// `false`: the model has no code for it and this is the nearest one (儿媳 → child); the
    /// ledger import then keeps the word in the record's notes.
    pub exact: bool,
}

/// One value of a vocabulary with everything that reads as it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VocabularyValue {
    /// The stable code (what the store keeps and sync sends).
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    pub desk_words: Vec<DeskWord>,
}

/// How a typed word reads.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VocabularyMatch {
    pub code: String,
    pub label_zh: String,
    pub label_en: String,
    /// `false` when the word maps to the nearest code only (see [`DeskWord::exact`]).
    pub exact: bool,
}

/// The domain enums' English labels, which [`Vocabulary`] does not carry.
trait Labelled: Vocabulary {
    fn en(self) -> &'static str;
}

macro_rules! labelled {
    ($($t:ty),+ $(,)?) => { $( impl Labelled for $t { fn en(self) -> &'static str { self.label_en() } } )+ };
}

labelled!(
    core::HousingType,
    core::CareTier,
    core::Gender,
    core::Residency,
    core::Relation,
    core::SpecialGroup,
    core::VisitMode,
    core::VisitOutcome,
    core::Urgency,
    core::CaseStatus,
    core::TaskKind,
    core::Priority,
);

fn values_of<T: Labelled>() -> Vec<VocabularyValue> {
    T::all()
        .iter()
        .map(|v| VocabularyValue {
            code: v.code().to_string(),
            label_zh: v.zh().to_string(),
            label_en: v.en().to_string(),
            desk_words: T::desk_words()
                .iter()
                .filter(|d| d.value == *v)
                .map(|d| DeskWord {
                    word: d.word.to_string(),
                    exact: d.exact,
                })
                .collect(),
        })
        .collect()
}

fn read_as<T: Labelled>(field: &str, word: &str) -> Result<VocabularyMatch> {
    let m = synonyms::read::<T>(word)
        .ok_or_else(|| GridwalkError::invalid(field, core::Code::InvalidValue))?;
    Ok(VocabularyMatch {
        code: m.value.code().to_string(),
        label_zh: m.value.zh().to_string(),
        label_en: m.value.en().to_string(),
        exact: m.exact,
    })
}

/// Runs a generic function with the domain type of a kind.
macro_rules! dispatch {
    ($kind:expr, $f:ident ( $($arg:expr),* )) => {
        match $kind {
            VocabularyKind::HousingType => $f::<core::HousingType>($($arg),*),
            VocabularyKind::CareTier => $f::<core::CareTier>($($arg),*),
            VocabularyKind::Gender => $f::<core::Gender>($($arg),*),
            VocabularyKind::Residency => $f::<core::Residency>($($arg),*),
            VocabularyKind::Relation => $f::<core::Relation>($($arg),*),
            VocabularyKind::SpecialGroup => $f::<core::SpecialGroup>($($arg),*),
            VocabularyKind::VisitMode => $f::<core::VisitMode>($($arg),*),
            VocabularyKind::VisitOutcome => $f::<core::VisitOutcome>($($arg),*),
            VocabularyKind::Urgency => $f::<core::Urgency>($($arg),*),
            VocabularyKind::CaseStatus => $f::<core::CaseStatus>($($arg),*),
            VocabularyKind::TaskKind => $f::<core::TaskKind>($($arg),*),
            VocabularyKind::Priority => $f::<core::Priority>($($arg),*),
        }
    };
}

/// Every value of a vocabulary, in the shared table's order, with its labels and desk words.
#[uniffi::export]
pub fn vocabulary_values(kind: VocabularyKind) -> Vec<VocabularyValue> {
    dispatch!(kind, values_of())
}

/// Reads a typed word as the ledger import and the CLI do: a code, a Chinese or English label
/// (any case, full-width letters too), or a desk word. `Validation(field, InvalidValue)` when
/// no table has it.
#[uniffi::export]
pub fn read_vocabulary(kind: VocabularyKind, word: String) -> Result<VocabularyMatch> {
    dispatch!(kind, read_as(kind.field(), &word))
}

/// Typed parsers: `parse_relation("母亲") == Relation::Parent`, the same reading as the CLI's.
macro_rules! parsers {
    ($( $(#[$meta:meta])* $fn_name:ident -> $ffi:ident : $core:ty, $field:literal; )+) => {
        $(
            $(#[$meta])*
            #[uniffi::export]
            pub fn $fn_name(word: String) -> Result<$ffi> {
                synonyms::parse_with_synonyms::<$core>($field, &word)
                    .map(Into::into)
                    .map_err(|v| GridwalkError::from(core::Error::Validation(v)))
            }
        )+
    };
}

parsers! {
    /// A housing type from a code, a label or a desk word (`出租房` → `Rented`).
    parse_housing_type -> HousingType: core::HousingType, "housing_type";
    /// A care tier from a code, a label or a desk word (`连心` → `Close`).
    parse_care_tier -> CareTier: core::CareTier, "care_tier";
    /// A gender from a code, a label or a desk word (`男性` → `Male`).
    parse_gender -> Gender: core::Gender, "gender";
    /// Registered or floating, from a code, a label or a desk word (`户籍人口` → `Registered`).
    parse_residency -> Residency: core::Residency, "residency";
    /// A relation to the head from a code, a label or a desk word (`母亲` → `Parent`).
    parse_relation -> Relation: core::Relation, "relation";
    /// A special group from a code, a label or a desk word (`低保户` → `Poverty`).
    parse_special_group -> SpecialGroup: core::SpecialGroup, "special_groups";
    /// A visit mode from a code, a label or a desk word (`微信` → `Messaging`).
    parse_visit_mode -> VisitMode: core::VisitMode, "mode";
    /// A visit outcome from a code, a label or a desk word.
    parse_visit_outcome -> VisitOutcome: core::VisitOutcome, "outcome";
    /// A case urgency from a code or a label.
    parse_urgency -> Urgency: core::Urgency, "urgency";
    /// A case status from a code or a label.
    parse_case_status -> CaseStatus: core::CaseStatus, "status";
    /// A task kind from a code or a label.
    parse_task_kind -> TaskKind: core::TaskKind, "kind";
    /// A priority from a code or a label.
    parse_priority -> Priority: core::Priority, "priority";
}
