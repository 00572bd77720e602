//! The case taxonomy: six top-level categories and their sub-types, with stable codes.
//!
//! Two digits for the category, two more for the sub-type (`docs/case-categories.md`). The phone's
//! case form and the server's push checks read this one table, so a sub-type filed under another
//! category is refused on both sides alike.

use serde::Serialize;

/// A case sub-type with its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CaseType {
    pub code: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// The six top-level categories (code, zh, en).
pub const CATEGORIES: &[(&str, &str, &str)] = &[
    ("01", "社会治安", "public order"),
    ("02", "公共安全", "public safety"),
    ("03", "城市管理", "city management"),
    ("04", "环境保护", "environment"),
    ("05", "民生服务", "livelihood services"),
    ("06", "文明城市", "civility"),
];

macro_rules! types {
    ($( $code:literal, $zh:literal, $en:literal; )+) => {
        &[ $( CaseType { code: $code, zh: $zh, en: $en }, )+ ]
    };
}

/// All sub-types. The first two digits of a code are its category.
pub const CASE_TYPES: &[CaseType] = types! {
    "0101", "矛盾纠纷", "dispute";
    "0102", "传销窝点", "pyramid-selling site";
    "0103", "可疑人员", "suspicious person";
    "0104", "治安隐患", "public order hazard";
    "0201", "消防安全", "fire safety";
    "0202", "出租房屋安全", "rental-housing safety";
    "0203", "电动车违规充电", "e-bike charging hazard";
    "0204", "交通安全", "traffic safety";
    "0205", "食品药品安全", "food and drug safety";
    "0206", "危险化学品", "hazardous chemicals";
    "0207", "三合一场所", "production, storage and living in one place";
    "0301", "市容环境", "city appearance";
    "0302", "占道经营", "road occupation";
    "0303", "设施损坏", "damaged public facilities";
    "0304", "违规张贴广告", "illegal advertising";
    "0401", "垃圾堆放", "garbage";
    "0402", "环境污染", "pollution";
    "0403", "河道管理", "river management";
    "0501", "特殊人群帮扶", "special groups assistance";
    "0502", "公共服务", "public services";
    "0503", "权益保障", "rights protection";
    "0601", "文明劝导", "civility";
    "0602", "校园周边", "school surroundings";
};

/// Looks up a sub-type code.
pub fn case_type(code: &str) -> Option<&'static CaseType> {
    CASE_TYPES.iter().find(|t| t.code == code.trim())
}

/// Category (zh, en) of a code.
pub fn category_of(code: &str) -> Option<(&'static str, &'static str, &'static str)> {
    let cat = code.get(0..2)?;
    CATEGORIES.iter().copied().find(|c| c.0 == cat)
}

/// Whether `type_code` is a sub-type of `category_code`.
pub fn type_in_category(type_code: &str, category_code: &str) -> bool {
    case_type(type_code).is_some_and(|t| t.code.get(0..2) == Some(category_code.trim()))
}
