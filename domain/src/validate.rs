//! Validation at entry: every value a worker types is checked here before it reaches the store.
//!
//! Grid workers (网格员) register residents door to door, often on a cheap phone with no signal,
//! and the records they collect end up in the street's population ledger. A typo in an ID number
//! or a phone that cannot be dialled is found weeks later, by someone else, when the worker is
//! no longer standing at the door. So the checks run on the device, offline, at the moment of
//! entry, and they are strict about shape but lenient about the noise people type: surrounding
//! blanks, a lowercase `x` in an ID number, `+86` and spaces in a mobile number.
//!
//! Each function returns the normalised value (what the store keeps) or a [`ValidationError`]
//! carrying only the field name and a [`Code`]: never the rejected value, because it may be an
//! ID number or a phone number, and errors end up in logs and bug reports.
//!
//! All functions are pure: "now" and "today" are parameters, so callers decide the clock (and the
//! worker's time zone) and tests are deterministic.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::error::{Code, ValidationError};
use crate::model::{Gender, GeoPoint};

/// What a resident identity card number (居民身份证号码, GB 11643-1999) says about its holder.
#[derive(Debug, Clone, PartialEq)]
pub struct IdInfo {
    /// Digits 7–14.
    pub birth_date: NaiveDate,
    /// Digit 17: odd for men, even for women.
    pub gender: Gender,
    /// Digits 1–6: the administrative division where the number was first issued.
    pub region_code: String,
}

/// Weights of ISO 7064 MOD 11-2 for the 17 leading digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder 0..=10.
const ID_CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes (first two digits) that may start an ID number: mainland provinces,
/// Taiwan (71), Hong Kong (81), Macao (82) and the residence permits of Taiwan residents (83).
const PROVINCE_CODES: &[u8] = &[
    11, 12, 13, 14, 15, // 华北
    21, 22, 23, // 东北
    31, 32, 33, 34, 35, 36, 37, // 华东
    41, 42, 43, 44, 45, 46, // 中南
    50, 51, 52, 53, 54, // 西南
    61, 62, 63, 64, 65, // 西北
    71, 81, 82, 83,
];

/// Tolerated clock skew between the phone and the truth when checking instants.
pub const CLOCK_SKEW_MINUTES: i64 = 10;

/// Longest accepted person name, in characters.
const NAME_MAX_CHARS: usize = 50;

/// The GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits of an ID number.
///
/// Returns `None` unless `first17` is exactly 17 ASCII digits.
pub fn id_check_digit(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    ID_CHECK_CHARS.get((sum % 11) as usize).copied()
}

/// Converts a first-generation 15-digit ID number to the 18-digit form (GB 11643-1999, 附录:
/// insert the century "19" before the two-digit birth year and append the check character).
///
/// Every 15-digit number was issued to someone born in the 1900s (they were replaced from 1999
/// on), so the century is always 19. Returns `None` unless `old` is exactly 15 ASCII digits; the
/// result still has to pass [`id_number`] (region, date).
pub fn id_number_from_15(old: &str) -> Option<String> {
    let t = old.trim();
    if t.len() != 15 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first17 = format!("{}19{}", &t[..6], &t[6..]);
    let check = id_check_digit(&first17)?;
    Some(format!("{first17}{check}"))
}

/// Parses an unsigned run of ASCII digits (already known to be digits).
fn digits_value(s: &str) -> Option<u32> {
    s.parse().ok()
}

/// Validates an 18-digit resident ID number and reads the birth date, gender and region from it.
///
/// Surrounding blanks are ignored and a lowercase `x` check character is upper-cased; the
/// normalised 18-character number is returned with what it encodes. Checks run in this order:
/// shape ([`Code::InvalidFormat`], also for old 15-digit numbers, which must be re-entered from
/// the new card), region ([`Code::InvalidRegion`]: an unknown province, or a province-level
/// code `xx0000` except 710000 / 810000 / 820000 / 830000, which have no counties and are what
/// Hong Kong, Macao and Taiwan residence permits use), birth date ([`Code::InvalidDate`] before
/// 1900 or impossible, [`Code::FutureDate`] after `today`), check digit
/// ([`Code::InvalidChecksum`]). Blank input is [`Code::Required`].
pub fn id_number(
    field: &str,
    raw: &str,
    today: NaiveDate,
) -> Result<(String, IdInfo), ValidationError> {
    let err = |code| ValidationError::new(field, code);
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(err(Code::Required));
    }
    let normalized = trimmed.replace('x', "X");
    let bytes = normalized.as_bytes();
    let well_formed = bytes.len() == 18
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X');
    if !well_formed {
        return Err(err(Code::InvalidFormat));
    }
    // From here on every byte is ASCII, so slicing by byte index is slicing by character.

    let province = digits_value(&normalized[..2]).unwrap_or(0);
    let province_ok = u8::try_from(province).is_ok_and(|p| PROVINCE_CODES.contains(&p));
    // "xx0000" is a province, not a county that issues numbers; but Hong Kong, Macao and
    // Taiwan residents' permits (810000 / 820000 / 830000) and Taiwan (710000) have no counties.
    let county_required = !matches!(province, 71 | 81 | 82 | 83);
    if !province_ok || (county_required && &normalized[2..6] == "0000") {
        return Err(err(Code::InvalidRegion));
    }

    let year = digits_value(&normalized[6..10]);
    let month = digits_value(&normalized[10..12]);
    let day = digits_value(&normalized[12..14]);
    let birth_date = match (year, month, day) {
        (Some(y), Some(m), Some(d)) => i32::try_from(y)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, m, d)),
        _ => None,
    }
    .filter(|d| d.year() >= 1900)
    .ok_or_else(|| err(Code::InvalidDate))?;
    if birth_date > today {
        return Err(err(Code::FutureDate));
    }

    let expected = id_check_digit(&normalized[..17]);
    if expected != Some(char::from(bytes[17])) {
        return Err(err(Code::InvalidChecksum));
    }

    let gender = if (bytes[16] - b'0') % 2 == 1 {
        Gender::Male
    } else {
        Gender::Female
    };
    let info = IdInfo {
        birth_date,
        gender,
        region_code: normalized[..6].to_string(),
    };
    Ok((normalized, info))
}

/// Removes the separators people type inside phone numbers: whitespace (including the
/// full-width space of Chinese input methods) and `-`.
fn strip_phone_separators(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// Whether `s` is a mainland mobile number: `^1[3-9]\d{9}$`.
fn is_mobile_digits(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// The 11 mobile digits of a stripped number, without an optional `+86` / `86` prefix.
fn mobile_digits(stripped: &str) -> Option<&str> {
    let rest = stripped
        .strip_prefix("+86")
        .or_else(|| stripped.strip_prefix("86"))
        .filter(|r| r.len() == 11)
        .unwrap_or(stripped);
    is_mobile_digits(rest).then_some(rest)
}

/// Validates a mainland mobile number and returns its 11 digits.
///
/// Spaces and `-` are ignored, as is a `+86` / `86` country prefix in front of 11 digits.
/// Blank input is [`Code::Required`]; anything else that is not `1[3-9]` + 9 digits is
/// [`Code::InvalidFormat`].
pub fn mobile(field: &str, raw: &str) -> Result<String, ValidationError> {
    let stripped = strip_phone_separators(raw);
    if stripped.is_empty() {
        return Err(ValidationError::new(field, Code::Required));
    }
    mobile_digits(&stripped)
        .map(str::to_string)
        .ok_or_else(|| ValidationError::new(field, Code::InvalidFormat))
}

/// Length of the area code at the start of `s` (which starts with `0`): 3 for Beijing (010) and
/// the 02X cities, 4 for every other code (03X–09X). `None` when `s` cannot start an area code.
fn area_code_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    match (b.first(), b.get(1), b.get(2)) {
        (Some(b'0'), Some(b'1'), Some(b'0')) => Some(3),
        (Some(b'0'), Some(b'2'), Some(_)) => Some(3),
        (Some(b'0'), Some(c), Some(_)) if (b'3'..=b'9').contains(c) => Some(4),
        _ => None,
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A landline in the form `AREA-NUMBER` (dash optional), normalised with the dash.
fn landline(compact: &str) -> Option<String> {
    let (area, number) = match compact.split_once('-') {
        Some((area, number)) => {
            if !all_digits(area) || area_code_len(area) != Some(area.len()) {
                return None;
            }
            (area, number)
        }
        None => {
            let len = area_code_len(compact)?;
            if !compact.is_char_boundary(len) {
                return None;
            }
            compact.split_at(len)
        }
    };
    if !all_digits(area) || !all_digits(number) || !(7..=8).contains(&number.len()) {
        return None;
    }
    Some(format!("{area}-{number}"))
}

/// Validates a contact number: a mobile (see [`mobile`], returned as 11 digits) or a landline
/// `0` + area code + 7–8 digit local number, with or without a `-` after the area code
/// (returned as `AREA-NUMBER`, e.g. `010-12345678`, `0755-1234567`).
///
/// Area codes 010 and 02X have three digits, all others four. Whitespace is ignored.
/// Blank input is [`Code::Required`], anything else unrecognised [`Code::InvalidFormat`].
pub fn phone(field: &str, raw: &str) -> Result<String, ValidationError> {
    let stripped = strip_phone_separators(raw);
    if stripped.is_empty() {
        return Err(ValidationError::new(field, Code::Required));
    }
    if let Some(m) = mobile_digits(&stripped) {
        return Ok(m.to_string());
    }
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    landline(&compact).ok_or_else(|| ValidationError::new(field, Code::InvalidFormat))
}

/// Validates a WGS-84 position. Fields are `{field_prefix}.lat` and `{field_prefix}.lng`.
///
/// Non-finite values or values outside ±90° / ±180° are [`Code::OutOfRange`]. Exactly (0, 0) —
/// "Null Island", what many GPS stacks report when they have no fix — is [`Code::InvalidValue`]
/// on `.lat`: no grid in China lies in the Gulf of Guinea.
pub fn coordinates(field_prefix: &str, p: GeoPoint) -> Result<(), ValidationError> {
    let lat_field = || format!("{field_prefix}.lat");
    if !p.lat.is_finite() || !(-90.0..=90.0).contains(&p.lat) {
        return Err(ValidationError::new(lat_field(), Code::OutOfRange));
    }
    if !p.lng.is_finite() || !(-180.0..=180.0).contains(&p.lng) {
        return Err(ValidationError::new(
            format!("{field_prefix}.lng"),
            Code::OutOfRange,
        ));
    }
    if p.lat == 0.0 && p.lng == 0.0 {
        return Err(ValidationError::new(lat_field(), Code::InvalidValue));
    }
    Ok(())
}

/// Refuses an instant later than `now`, allowing 10 minutes of clock skew (phone clocks drift,
/// and a photo's EXIF time may come from another device). [`Code::FutureDate`].
pub fn not_future(
    field: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ValidationError> {
    let limit = now
        .checked_add_signed(Duration::minutes(CLOCK_SKEW_MINUTES))
        .unwrap_or(now);
    if at > limit {
        return Err(ValidationError::new(field, Code::FutureDate));
    }
    Ok(())
}

/// Refuses a calendar day after `today` (the worker's local date). [`Code::FutureDate`].
pub fn date_not_future(field: &str, d: NaiveDate, today: NaiveDate) -> Result<(), ValidationError> {
    if d > today {
        return Err(ValidationError::new(field, Code::FutureDate));
    }
    Ok(())
}

/// A required text: returned trimmed; blank is [`Code::Required`].
pub fn required(field: &str, s: &str) -> Result<String, ValidationError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ValidationError::new(field, Code::Required));
    }
    Ok(t.to_string())
}

/// An optional text: trimmed, and blank becomes `None` (so "no notes" is stored one way only).
pub fn optional_text(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// Refuses a text of more than `max` characters (Unicode scalar values, not bytes: a Chinese
/// character counts as one). [`Code::TooLong`].
pub fn max_chars(field: &str, s: &str, max: usize) -> Result<(), ValidationError> {
    if s.chars().count() > max {
        return Err(ValidationError::new(field, Code::TooLong));
    }
    Ok(())
}

/// Characters allowed in a name besides letters: the middle dots of transliterated minority and
/// foreign names (阿依古丽·买买提), as typed by various input methods, the Tibetan syllable mark
/// (tsheg), spaces (ASCII and full-width), hyphens and periods.
fn is_name_punctuation(c: char) -> bool {
    matches!(
        c,
        '·' | '•' | '・' | '‧' | '\u{0F0B}' | ' ' | '\u{3000}' | '-' | '.'
    )
}

/// Validates a person's name: required, trimmed, at most 50 characters ([`Code::TooLong`]),
/// letters of any script (Han, Tibetan, Uyghur, Latin…) plus middle dots, spaces, `-` and `.`.
/// Digits, control characters and other symbols are [`Code::InvalidFormat`], as is a name
/// with no letter at all.
pub fn person_name(field: &str, s: &str) -> Result<String, ValidationError> {
    let name = required(field, s)?;
    max_chars(field, &name, NAME_MAX_CHARS)?;
    let allowed = name
        .chars()
        .all(|c| c.is_alphabetic() || is_name_punctuation(c));
    if !allowed || !name.chars().any(char::is_alphabetic) {
        return Err(ValidationError::new(field, Code::InvalidFormat));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn today() -> NaiveDate {
        day(2024, 6, 15)
    }

    /// A valid ID number built from its first 17 digits.
    fn make_id(first17: &str) -> String {
        format!("{first17}{}", id_check_digit(first17).unwrap())
    }

    fn code_of<T: std::fmt::Debug>(r: Result<T, ValidationError>) -> Code {
        r.unwrap_err().code
    }

    #[test]
    fn check_digit_of_gb11643_sample() {
        assert_eq!(id_check_digit("11010519491231002"), Some('X'));
        assert_eq!(id_check_digit("44052418800101001"), Some('4'));
        assert_eq!(id_check_digit("1101051949123100"), None);
        assert_eq!(id_check_digit("110105194912310021"), None);
        assert_eq!(id_check_digit("1101051949123100A"), None);
        assert_eq!(id_check_digit("１1010519491231002"), None);
        assert_eq!(id_check_digit(""), None);
    }

    #[test]
    fn check_digit_covers_all_remainders() {
        let seen: std::collections::HashSet<char> = (0..1000)
            .filter_map(|n| id_check_digit(&format!("11010519491231{n:03}")))
            .collect();
        assert_eq!(seen.len(), 11);
    }

    #[test]
    fn fifteen_digit_numbers_become_eighteen() {
        // GB 11643's own example, in its 15-digit form.
        assert_eq!(
            id_number_from_15("110105491231002").as_deref(),
            Some("11010519491231002X")
        );
        let new = id_number_from_15(" 440305900307001 ").unwrap();
        assert_eq!(new, make_id("44030519900307001"));
        assert!(id_number("id", &new, today()).is_ok());
        for bad in ["11010549123100", "1101054912310021", "11010549123100X", ""] {
            assert_eq!(id_number_from_15(bad), None, "{bad}");
        }
    }

    #[test]
    fn id_sample_is_female_born_1949() {
        let (n, info) = id_number("id_number", "11010519491231002X", today()).unwrap();
        assert_eq!(n, "11010519491231002X");
        assert_eq!(info.birth_date, day(1949, 12, 31));
        assert_eq!(info.gender, Gender::Female);
        assert_eq!(info.region_code, "110105");
    }

    #[test]
    fn id_lowercase_x_and_blanks_are_normalised() {
        let (n, info) = id_number("id", "  11010519491231002x \t", today()).unwrap();
        assert_eq!(n, "11010519491231002X");
        assert_eq!(info.gender, Gender::Female);
    }

    #[test]
    fn id_male_and_other_valid_numbers() {
        let id = make_id("44030519900307001");
        let (n, info) = id_number("id", &id, today()).unwrap();
        assert_eq!(n, id);
        assert_eq!(info.gender, Gender::Male);
        assert_eq!(info.birth_date, day(1990, 3, 7));
        assert_eq!(info.region_code, "440305");

        // Leap day, Xinjiang, Hong Kong / Macao / Taiwan-resident codes, born today.
        for first17 in [
            "65010220000229004",
            "81000019851010001",
            "82000019851010002",
            "83000019851010003",
            "71000019851010005",
            "51010720240615003",
        ] {
            let id = make_id(first17);
            assert!(id_number("id", &id, today()).is_ok(), "{first17}");
        }
    }

    #[test]
    fn id_required() {
        assert_eq!(code_of(id_number("id", "", today())), Code::Required);
        assert_eq!(code_of(id_number("id", "   ", today())), Code::Required);
    }

    #[test]
    fn id_invalid_format() {
        for raw in [
            "110105491231002",          // old 15-digit number
            "11010519491231002",        // 17 digits
            "11010519491231002XX",      // 19 chars
            "1101051949123100XX",       // X not only last
            "11010519491231002Y",       // bad check char
            "110105 19491231002X",      // inner blank
            "１１０１０５19491231002X", // full-width digits
            "abcdefghijklmnopqr",
        ] {
            assert_eq!(
                code_of(id_number("id", raw, today())),
                Code::InvalidFormat,
                "{raw}"
            );
        }
    }

    #[test]
    fn id_invalid_region() {
        for first17 in [
            "10010519491231002", // no province 10
            "16010519491231002",
            "72000019491231002",
            "99010519491231002",
            "00010519491231002",
            "11000019491231002", // province but region 0000
        ] {
            let id = make_id(first17);
            assert_eq!(
                code_of(id_number("id", &id, today())),
                Code::InvalidRegion,
                "{first17}"
            );
        }
    }

    #[test]
    fn id_invalid_and_future_dates() {
        for first17 in [
            "11010519490230002", // 30 February
            "11010519491301002", // month 13
            "11010519490000002",
            "11010518991231002", // before 1900
            "11010519230229002", // 1923 not a leap year
        ] {
            let id = make_id(first17);
            assert_eq!(
                code_of(id_number("id", &id, today())),
                Code::InvalidDate,
                "{first17}"
            );
        }
        let tomorrow = make_id("11010520240616002");
        assert_eq!(
            code_of(id_number("id", &tomorrow, today())),
            Code::FutureDate
        );
        assert!(id_number("id", &make_id("11010519000101002"), today()).is_ok());
    }

    #[test]
    fn id_invalid_checksum() {
        let e = id_number("resident.id_number", "110105194912310021", today()).unwrap_err();
        assert_eq!(e.code, Code::InvalidChecksum);
        assert_eq!(e.field, "resident.id_number");
        // The message never echoes the number.
        assert!(!e.to_string().contains("1949"));
    }

    #[test]
    fn id_check_order_is_format_region_date_checksum() {
        // Bad region and bad date and bad checksum: region wins.
        assert_eq!(
            code_of(id_number("id", "990105194902300021", today())),
            Code::InvalidRegion
        );
        // Bad date and bad checksum: date wins.
        assert_eq!(
            code_of(id_number("id", "110105194902300021", today())),
            Code::InvalidDate
        );
    }

    #[test]
    fn mobile_numbers() {
        assert_eq!(mobile("m", "13812345678").unwrap(), "13812345678");
        assert_eq!(mobile("m", " 138 1234 5678 ").unwrap(), "13812345678");
        assert_eq!(mobile("m", "138-1234-5678").unwrap(), "13812345678");
        assert_eq!(mobile("m", "+86 138 1234 5678").unwrap(), "13812345678");
        assert_eq!(mobile("m", "+8613812345678").unwrap(), "13812345678");
        assert_eq!(mobile("m", "8619912345678").unwrap(), "19912345678");
        assert_eq!(
            mobile("m", "138\u{3000}1234\u{3000}5678").unwrap(),
            "13812345678"
        );
    }

    #[test]
    fn mobile_errors() {
        assert_eq!(code_of(mobile("m", "")), Code::Required);
        assert_eq!(code_of(mobile("m", " - ")), Code::Required);
        for raw in [
            "12812345678",  // second digit 2
            "1381234567",   // 10 digits
            "138123456789", // 12 digits
            "23812345678",  // not starting with 1
            "1381234567a",
            "+8713812345678",
            "+86 1381234567",
            "010-12345678", // landline is not a mobile
            "８６13812345678",
        ] {
            assert_eq!(code_of(mobile("m", raw)), Code::InvalidFormat, "{raw}");
        }
    }

    #[test]
    fn phone_accepts_mobiles_and_landlines() {
        assert_eq!(phone("p", "+86 138 1234 5678").unwrap(), "13812345678");
        assert_eq!(phone("p", "010-12345678").unwrap(), "010-12345678");
        assert_eq!(phone("p", "01012345678").unwrap(), "010-12345678");
        assert_eq!(phone("p", "021 6123 4567").unwrap(), "021-61234567");
        assert_eq!(phone("p", "02861234567").unwrap(), "028-61234567");
        assert_eq!(phone("p", "0755-1234567").unwrap(), "0755-1234567");
        assert_eq!(phone("p", "075512345678").unwrap(), "0755-12345678");
        assert_eq!(phone("p", " 0931 - 8123456 ").unwrap(), "0931-8123456");
    }

    #[test]
    fn phone_errors() {
        assert_eq!(code_of(phone("p", "  ")), Code::Required);
        for raw in [
            "12345678",       // no area code
            "010-123456",     // 6 digit number
            "010-123456789",  // 9 digit number
            "0101-2345678",   // 010 is a 3-digit code
            "0755-12-345678", // two dashes
            "075-51234567",   // 07X needs 4 digits
            "001-12345678",
            "0755123456", // 6 digit number
            "10-12345678",
            "0755-1234567a",
            "110",
        ] {
            assert_eq!(code_of(phone("p", raw)), Code::InvalidFormat, "{raw}");
        }
    }

    #[test]
    fn coordinates_edge_cases() {
        let ok = |lat, lng| coordinates("location", GeoPoint { lat, lng });
        assert!(ok(39.9, 116.4).is_ok());
        assert!(ok(90.0, 180.0).is_ok());
        assert!(ok(-90.0, -180.0).is_ok());
        assert!(ok(0.0, 116.4).is_ok());
        assert!(ok(39.9, 0.0).is_ok());

        let e = ok(90.0001, 116.4).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("location.lat", Code::OutOfRange)
        );
        let e = ok(39.9, -180.5).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("location.lng", Code::OutOfRange)
        );
        let e = ok(f64::NAN, 116.4).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("location.lat", Code::OutOfRange)
        );
        let e = ok(39.9, f64::INFINITY).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("location.lng", Code::OutOfRange)
        );
        let e = ok(0.0, 0.0).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.code),
            ("location.lat", Code::InvalidValue)
        );
        let e = ok(-0.0, 0.0).unwrap_err();
        assert_eq!(e.code, Code::InvalidValue);
    }

    #[test]
    fn instants_allow_ten_minutes_of_skew() {
        let now = Utc.with_ymd_and_hms(2024, 6, 15, 8, 0, 0).unwrap();
        assert!(not_future("at", now, now).is_ok());
        assert!(not_future("at", now - Duration::days(3), now).is_ok());
        assert!(not_future("at", now + Duration::minutes(10), now).is_ok());
        let e = not_future("visit.at", now + Duration::minutes(11), now).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("visit.at", Code::FutureDate));
        assert!(not_future("at", DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC).is_ok());
    }

    #[test]
    fn dates_not_future() {
        assert!(date_not_future("d", today(), today()).is_ok());
        assert!(date_not_future("d", day(2000, 1, 1), today()).is_ok());
        assert_eq!(
            code_of(date_not_future("d", day(2024, 6, 16), today())),
            Code::FutureDate
        );
    }

    #[test]
    fn texts() {
        assert_eq!(required("f", "  幸福社区 ").unwrap(), "幸福社区");
        assert_eq!(code_of(required("f", " \n\t ")), Code::Required);
        assert_eq!(optional_text(Some("  备注 ")), Some("备注".to_string()));
        assert_eq!(optional_text(Some("   ")), None);
        assert_eq!(optional_text(None), None);
        assert!(max_chars("f", "一二三四五", 5).is_ok());
        assert_eq!(code_of(max_chars("f", "一二三四五六", 5)), Code::TooLong);
        assert!(max_chars("f", "", 0).is_ok());
    }

    #[test]
    fn person_names() {
        assert_eq!(person_name("name", " 张三 ").unwrap(), "张三");
        assert_eq!(
            person_name("name", "阿依古丽·买买提").unwrap(),
            "阿依古丽·买买提"
        );
        assert_eq!(
            person_name("name", "爱新觉罗•溥仪").unwrap(),
            "爱新觉罗•溥仪"
        );
        assert!(person_name("name", "John O. Smith-Brown").is_ok());
        assert!(person_name("name", "བཀྲ་ཤིས").is_ok());
        assert!(person_name("name", "Zoë").is_ok());
        assert!(person_name("name", "ئابدۇرېھىم").is_ok());
        assert!(person_name("name", &"张".repeat(50)).is_ok());

        assert_eq!(code_of(person_name("name", "")), Code::Required);
        assert_eq!(
            code_of(person_name("name", &"张".repeat(51))),
            Code::TooLong
        );
        for raw in [
            "张3",
            "李四\u{0007}",
            "王\n五",
            "赵六!",
            "·",
            "- .",
            "Tom_Lee",
            "１号",
        ] {
            assert_eq!(
                code_of(person_name("name", raw)),
                Code::InvalidFormat,
                "{raw:?}"
            );
        }
    }
}
