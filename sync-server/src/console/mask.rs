//! Masking of ID numbers and phones (PIPL Art. 28): every page, API answer and export of the
//! console shows them masked unless a reveal was asked for with a reason and audited.
//!
//! An ID number keeps its first 6 characters (the region of registration) and its last 4; a
//! phone keeps its first 3 and last 4 digits (the form on Chinese receipts and bills); anything
//! shorter is fully starred. The masked form keeps the length, so a desk can still tell an
//! 18-digit number from a 15-digit one.

/// The fields that are masked.
pub const MASKED_FIELDS: &[&str] = &["id_number", "phone"];

fn keep(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// `640323199001011234` → `640323********1234`.
pub fn id_number(s: &str) -> String {
    keep(s, 6, 4)
}

/// `13800138000` → `138****8000`; a landline `0953-1234567` → `095*****4567`.
pub fn phone(s: &str) -> String {
    keep(s, 3, 4)
}

/// Masks `value` as the field says; other fields are returned unchanged.
pub fn field(name: &str, value: &str) -> String {
    match name {
        "id_number" => id_number(value),
        "phone" => phone(value),
        _ => value.to_string(),
    }
}

/// Masks every masked field of a record's data in place.
pub fn record(data: &mut serde_json::Map<String, serde_json::Value>) {
    for f in MASKED_FIELDS {
        if let Some(serde_json::Value::String(v)) = data.get_mut(*f) {
            *v = field(f, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_length_and_ends() {
        assert_eq!(id_number("640323199001011234"), "640323********1234");
        assert_eq!(id_number("64032319900101123X"), "640323********123X");
        assert_eq!(phone("13800138000"), "138****8000");
        assert_eq!(phone("123"), "***");
        assert_eq!(field("name", "张三"), "张三");
        let mut d = serde_json::json!({"id_number": "640323199001011234", "phone": null})
            .as_object()
            .cloned()
            .unwrap();
        record(&mut d);
        assert_eq!(d["id_number"], "640323********1234");
        assert!(d["phone"].is_null());
    }
}
