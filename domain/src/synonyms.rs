//! Desk words: how community desks (社区) write the vocabularies' values, mapped to their codes.
//!
//! A desk ledger says "儿媳", "常住人口" or "低保户" where the model has `child`, `registered`
//! and `poverty`. The ledger import, the command line and the bindings must accept exactly the
//! same words and map them the same way, so the table lives here, next to the vocabularies, as
//! one function per enum ([`Vocabulary::desk_words`]).
//!
//! Every desk word is either **exact** (it means precisely the code: 母亲 is a parent, 户籍人口
//! is registered) or **nearest** (the model has no code for it, so it maps to the closest one and
//! the importer keeps the original word in the record's notes, e.g. 儿媳 → `child` plus the note
//! "与户主关系：儿媳"). Relations follow the categories of GB/T 4761-2008 (家庭关系代码): its
//! category 20/30 (子/女) holds 女婿 and 儿媳, 50 (父母) holds 公婆 and 岳父母, 70 (兄弟姐妹) holds
//! 嫂 and 姐夫, and 80 (其他) holds nephews, uncles and aunts; that is what "nearest" means here.
//!
//! The table is documented in `docs/ledger-columns.md`; a test there checks every word is listed.

use crate::error::{Code, ValidationError};
use crate::model::{
    CareTier, CaseStatus, Gender, HousingType, Priority, Relation, Residency, SpecialGroup,
    TaskKind, Urgency, VisitMode, VisitOutcome,
};

/// One way a desk writes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeskWord<T: 'static> {
    pub word: &'static str,
    pub value: T,
    /// `false`: the nearest code only; keep the original word in notes.
    pub exact: bool,
}

/// A value read from a desk's cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeskMatch<T> {
    pub value: T,
    /// `false` when the word maps to the nearest code only (see [`DeskWord::exact`]).
    pub exact: bool,
}

const fn w<T>(word: &'static str, value: T) -> DeskWord<T> {
    DeskWord {
        word,
        value,
        exact: true,
    }
}

const fn near<T>(word: &'static str, value: T) -> DeskWord<T> {
    DeskWord {
        word,
        value,
        exact: false,
    }
}

/// A vocabulary a ledger cell can name: its codes and labels (`FromStr`) plus desk words.
pub trait Vocabulary: std::str::FromStr + Copy + PartialEq + 'static {
    /// Every value, in declaration order.
    fn all() -> &'static [Self];
    /// The Chinese label (what exports write and error hints list).
    fn zh(self) -> &'static str;
    /// The stable code (what scripts type and English hints list).
    fn code(self) -> &'static str;
    /// Words desks write besides the code and the labels.
    fn desk_words() -> &'static [DeskWord<Self>];
}

/// Full-width ASCII (ＡＢ１２) to half-width, trimmed, lowercase, inner spaces collapsed to `_`
/// when the word is ASCII (so "Group Rental" reads as the code `group_rental`).
fn normalise(s: &str) -> String {
    let half: String = s
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect();
    half.trim().to_lowercase()
}

/// Reads a cell: a code, a Chinese or English label (any case, full-width letters allowed), or a
/// desk word. `None` for anything else (and for a blank cell).
pub fn read<T: Vocabulary>(s: &str) -> Option<DeskMatch<T>> {
    let t = normalise(s);
    if t.is_empty() {
        return None;
    }
    let exact = |value| Some(DeskMatch { value, exact: true });
    if let Ok(v) = t.parse::<T>() {
        return exact(v);
    }
    let code = t.split_whitespace().collect::<Vec<_>>().join("_");
    if let Ok(v) = code.parse::<T>() {
        return exact(v);
    }
    // Desk words are compared without any inner blanks ("低保 户").
    let squeezed: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    T::desk_words()
        .iter()
        .find(|d| d.word == squeezed)
        .map(|d| DeskMatch {
            value: d.value,
            exact: d.exact,
        })
}

/// Parses a value as the ledger import does (code, Chinese or English label, desk word), for
/// every other reader of typed values (the command line, the bindings). A refused value is a
/// [`ValidationError`] on `field` with [`Code::InvalidValue`]; [`allowed_zh`] and
/// [`allowed_codes`] say what would have been accepted.
pub fn parse_with_synonyms<T: Vocabulary>(field: &str, s: &str) -> Result<T, ValidationError> {
    read::<T>(s)
        .map(|m| m.value)
        .ok_or_else(|| ValidationError::new(field, Code::InvalidValue))
}

/// The codes of a vocabulary, joined with `/` (what an English hint lists).
pub fn allowed_codes<T: Vocabulary>() -> String {
    T::all()
        .iter()
        .map(|v| v.code())
        .collect::<Vec<_>>()
        .join("/")
}

/// The Chinese labels of a vocabulary, joined with `、` (what an error hint lists).
pub fn allowed_zh<T: Vocabulary>() -> String {
    T::all()
        .iter()
        .map(|v| v.zh())
        .collect::<Vec<_>>()
        .join("、")
}

macro_rules! vocabulary {
    ($t:ty, $words:expr) => {
        impl Vocabulary for $t {
            fn all() -> &'static [Self] {
                <$t>::ALL
            }
            fn zh(self) -> &'static str {
                self.label_zh()
            }
            fn code(self) -> &'static str {
                self.as_str()
            }
            fn desk_words() -> &'static [DeskWord<Self>] {
                $words
            }
        }
    };
}

use CareTier as C;
use Gender as G;
use HousingType as H;
use Relation as R;
use Residency as P;
use SpecialGroup as S;

const RELATION_WORDS: &[DeskWord<Relation>] = &[
    w("本人", R::Head),
    w("户主本人", R::Head),
    w("妻", R::Spouse),
    w("妻子", R::Spouse),
    w("夫", R::Spouse),
    w("丈夫", R::Spouse),
    w("爱人", R::Spouse),
    w("老伴", R::Spouse),
    w("夫妻", R::Spouse),
    w("子", R::Child),
    w("女", R::Child),
    w("儿子", R::Child),
    w("女儿", R::Child),
    w("长子", R::Child),
    w("次子", R::Child),
    w("三子", R::Child),
    w("长女", R::Child),
    w("次女", R::Child),
    w("三女", R::Child),
    w("独生子", R::Child),
    w("独生女", R::Child),
    near("儿媳", R::Child),
    near("儿媳妇", R::Child),
    near("媳妇", R::Child),
    near("女婿", R::Child),
    near("养子", R::Child),
    near("养女", R::Child),
    near("继子", R::Child),
    near("继女", R::Child),
    w("父", R::Parent),
    w("母", R::Parent),
    w("父亲", R::Parent),
    w("母亲", R::Parent),
    w("爸爸", R::Parent),
    w("妈妈", R::Parent),
    near("公公", R::Parent),
    near("婆婆", R::Parent),
    near("岳父", R::Parent),
    near("岳母", R::Parent),
    near("继父", R::Parent),
    near("继母", R::Parent),
    near("养父", R::Parent),
    near("养母", R::Parent),
    w("祖父", R::Grandparent),
    w("祖母", R::Grandparent),
    w("外祖父", R::Grandparent),
    w("外祖母", R::Grandparent),
    w("爷爷", R::Grandparent),
    w("奶奶", R::Grandparent),
    w("外公", R::Grandparent),
    w("外婆", R::Grandparent),
    w("姥爷", R::Grandparent),
    w("姥姥", R::Grandparent),
    near("曾祖父", R::Grandparent),
    near("曾祖母", R::Grandparent),
    w("孙子", R::Grandchild),
    w("孙女", R::Grandchild),
    w("外孙", R::Grandchild),
    w("外孙子", R::Grandchild),
    w("外孙女", R::Grandchild),
    near("孙媳妇", R::Grandchild),
    near("孙女婿", R::Grandchild),
    near("曾孙", R::Grandchild),
    near("曾孙子", R::Grandchild),
    near("曾孙女", R::Grandchild),
    w("兄", R::Sibling),
    w("弟", R::Sibling),
    w("姐", R::Sibling),
    w("妹", R::Sibling),
    w("哥哥", R::Sibling),
    w("弟弟", R::Sibling),
    w("姐姐", R::Sibling),
    w("妹妹", R::Sibling),
    w("兄弟", R::Sibling),
    w("姐妹", R::Sibling),
    near("嫂", R::Sibling),
    near("嫂子", R::Sibling),
    near("弟媳", R::Sibling),
    near("姐夫", R::Sibling),
    near("妹夫", R::Sibling),
    w("租客", R::Tenant),
    w("房客", R::Tenant),
    w("承租人", R::Tenant),
    near("合租", R::Tenant),
    w("其它", R::Other),
    near("侄子", R::Other),
    near("侄女", R::Other),
    near("外甥", R::Other),
    near("外甥女", R::Other),
    near("伯父", R::Other),
    near("伯母", R::Other),
    near("叔叔", R::Other),
    near("叔父", R::Other),
    near("婶婶", R::Other),
    near("婶母", R::Other),
    near("舅舅", R::Other),
    near("舅父", R::Other),
    near("舅妈", R::Other),
    near("舅母", R::Other),
    near("姨妈", R::Other),
    near("姨母", R::Other),
    near("姨父", R::Other),
    near("姑姑", R::Other),
    near("姑母", R::Other),
    near("姑父", R::Other),
    near("堂兄弟姐妹", R::Other),
    near("表兄弟姐妹", R::Other),
    near("亲属", R::Other),
    near("其他亲属", R::Other),
    near("非亲属", R::Other),
    near("朋友", R::Other),
    near("同事", R::Other),
    near("保姆", R::Other),
    near("借住", R::Other),
];

const RESIDENCY_WORDS: &[DeskWord<Residency>] = &[
    w("户籍人口", P::Registered),
    w("本地户籍", P::Registered),
    w("本地", P::Registered),
    w("本地人口", P::Registered),
    near("常住人口", P::Registered),
    near("常住", P::Registered),
    near("户在人不在", P::Registered),
    w("流动人口", P::Floating),
    w("外来人口", P::Floating),
    w("外来", P::Floating),
    w("外地", P::Floating),
    w("暂住人口", P::Floating),
    w("暂住", P::Floating),
    near("人户分离", P::Floating),
    near("人在户不在", P::Floating),
    near("寄住人口", P::Floating),
    near("境外人员", P::Floating),
    near("境外人口", P::Floating),
];

const SPECIAL_GROUP_WORDS: &[DeskWord<SpecialGroup>] = &[
    w("独居", S::ElderlyAlone),
    near("空巢老人", S::ElderlyAlone),
    near("空巢", S::ElderlyAlone),
    near("孤寡老人", S::ElderlyAlone),
    near("孤寡", S::ElderlyAlone),
    near("留守老人", S::ElderlyAlone),
    near("失独老人", S::ElderlyAlone),
    w("残疾", S::Disabled),
    w("残障", S::Disabled),
    w("残障人士", S::Disabled),
    w("持证残疾人", S::Disabled),
    near("失能", S::Disabled),
    near("失能老人", S::Disabled),
    near("困境儿童", S::LeftBehindChild),
    near("孤儿", S::LeftBehindChild),
    near("事实无人抚养儿童", S::LeftBehindChild),
    w("困难户", S::Poverty),
    w("贫困户", S::Poverty),
    w("困难家庭", S::Poverty),
    near("低保户", S::Poverty),
    near("低保", S::Poverty),
    near("低保对象", S::Poverty),
    near("低边户", S::Poverty),
    near("低收入", S::Poverty),
    near("特困", S::Poverty),
    near("特困人员", S::Poverty),
    near("特困供养", S::Poverty),
    near("五保户", S::Poverty),
    near("脱贫户", S::Poverty),
    near("监测户", S::Poverty),
    w("大病", S::SeriousIllness),
    w("慢病", S::SeriousIllness),
    w("重病", S::SeriousIllness),
    w("慢性病", S::SeriousIllness),
    near("重大疾病", S::SeriousIllness),
    w("社区矫正人员", S::CommunityCorrection),
    w("矫正对象", S::CommunityCorrection),
    w("刑满释放人员", S::ReleasedPrisoner),
    w("刑释人员", S::ReleasedPrisoner),
    near("刑释解教", S::ReleasedPrisoner),
    near("安置帮教", S::ReleasedPrisoner),
    near("安置帮教对象", S::ReleasedPrisoner),
    w("精神障碍", S::MentalIllness),
    w("严重精神障碍患者", S::MentalIllness),
    w("精神病", S::MentalIllness),
    w("精神病人", S::MentalIllness),
    w("退伍军人", S::Veteran),
    w("复员军人", S::Veteran),
    w("转业军人", S::Veteran),
    near("优抚对象", S::Veteran),
];

const GENDER_WORDS: &[DeskWord<Gender>] = &[
    w("男性", G::Male),
    w("女性", G::Female),
    w("m", G::Male),
    w("f", G::Female),
];

const HOUSING_WORDS: &[DeskWord<HousingType>] = &[
    w("自有", H::Owned),
    w("自住房", H::Owned),
    w("自有住房", H::Owned),
    w("自购", H::Owned),
    w("租赁", H::Rented),
    w("租住", H::Rented),
    w("出租房", H::Rented),
    w("租房", H::Rented),
    near("廉租房", H::Rented),
    near("公租房", H::Rented),
    w("群租房", H::GroupRental),
    w("空置房", H::Vacant),
    w("空房", H::Vacant),
    w("闲置", H::Vacant),
    w("商铺", H::Business),
    w("商用房", H::Business),
    w("门面", H::Business),
    w("门面房", H::Business),
    w("底商", H::Business),
    near("商住", H::Business),
];

const CARE_TIER_WORDS: &[DeskWord<CareTier>] = &[
    w("放心", C::Routine),
    w("关心", C::Attention),
    w("连心", C::Close),
    near("一般户", C::Routine),
];

const VISIT_MODE_WORDS: &[DeskWord<VisitMode>] = &[
    w("微信", VisitMode::Messaging),
    w("短信", VisitMode::Messaging),
    w("入户", VisitMode::InPerson),
    w("上门", VisitMode::InPerson),
    w("电话回访", VisitMode::Phone),
];

const VISIT_OUTCOME_WORDS: &[DeskWord<VisitOutcome>] = &[
    w("正常", VisitOutcome::Fine),
    w("未联系", VisitOutcome::NoContact),
];

vocabulary!(Relation, RELATION_WORDS);
vocabulary!(VisitMode, VISIT_MODE_WORDS);
vocabulary!(VisitOutcome, VISIT_OUTCOME_WORDS);
vocabulary!(Urgency, &[]);
vocabulary!(CaseStatus, &[]);
vocabulary!(TaskKind, &[]);
vocabulary!(Priority, &[]);
vocabulary!(Residency, RESIDENCY_WORDS);
vocabulary!(SpecialGroup, SPECIAL_GROUP_WORDS);
vocabulary!(Gender, GENDER_WORDS);
vocabulary!(HousingType, HOUSING_WORDS);
vocabulary!(CareTier, CARE_TIER_WORDS);

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Vocabulary + std::fmt::Debug>() {
        let mut seen = std::collections::HashSet::new();
        for d in T::desk_words() {
            assert!(seen.insert(d.word), "{} listed twice", d.word);
            // A desk word never shadows a label or code of another value.
            if let Ok(v) = d.word.parse::<T>() {
                panic!("{} is already a label of {v:?}", d.word);
            }
            assert_eq!(
                read::<T>(d.word),
                Some(DeskMatch {
                    value: d.value,
                    exact: d.exact
                })
            );
        }
        for v in T::all() {
            assert_eq!(read::<T>(v.zh()).map(|m| m.value), Some(*v));
        }
    }

    #[test]
    fn tables_are_consistent() {
        check::<Relation>();
        check::<Residency>();
        check::<SpecialGroup>();
        check::<Gender>();
        check::<HousingType>();
        check::<CareTier>();
        check::<VisitMode>();
        check::<VisitOutcome>();
        check::<Urgency>();
        check::<CaseStatus>();
        check::<TaskKind>();
        check::<Priority>();
    }

    #[test]
    fn parse_with_synonyms_reads_what_the_import_reads() {
        assert_eq!(
            parse_with_synonyms::<Relation>("relation", "母亲"),
            Ok(Relation::Parent)
        );
        assert_eq!(
            parse_with_synonyms::<VisitMode>("mode", "微信"),
            Ok(VisitMode::Messaging)
        );
        assert_eq!(
            parse_with_synonyms::<VisitMode>("mode", "短信"),
            Ok(VisitMode::Messaging)
        );
        let e = parse_with_synonyms::<Relation>("relation", "邻居").unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("relation", Code::InvalidValue));
        assert_eq!(allowed_codes::<Urgency>(), "normal/urgent/emergency");
    }

    #[test]
    fn desk_words_of_the_issue() {
        for (word, value, exact) in [
            ("儿媳", Relation::Child, false),
            ("女婿", Relation::Child, false),
            ("侄子", Relation::Other, false),
            ("外甥女", Relation::Other, false),
            ("母亲", Relation::Parent, true),
            ("父亲", Relation::Parent, true),
            ("孙子", Relation::Grandchild, true),
        ] {
            assert_eq!(read::<Relation>(word), Some(DeskMatch { value, exact }));
        }
        assert_eq!(
            read::<Residency>("常住人口"),
            Some(DeskMatch {
                value: Residency::Registered,
                exact: false
            })
        );
        assert_eq!(
            read::<SpecialGroup>(" 低保户 ").map(|m| m.value),
            Some(SpecialGroup::Poverty)
        );
        assert_eq!(
            read::<SpecialGroup>("空巢老人").map(|m| m.value),
            Some(SpecialGroup::ElderlyAlone)
        );
        assert_eq!(
            read::<HousingType>("Group Rental").map(|m| m.value),
            Some(HousingType::GroupRental)
        );
        assert_eq!(
            read::<CareTier>("ＣＬＯＳＥ").map(|m| m.value),
            Some(CareTier::Close)
        );
        assert_eq!(read::<Relation>("邻居"), None);
        assert_eq!(read::<Relation>(""), None);
        assert!(allowed_zh::<Residency>().contains("户籍、流动"));
    }
}
