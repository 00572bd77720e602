//! Pull cursors: opaque to devices, checked by the server.
//!
//! A cursor says "everything up to revision N of *this* database, for *this* scope". It encodes
//! the database epoch (a random id made when the database was created), the user's scope
//! fingerprint and the revision. A cursor from another epoch (the server was rebuilt or restored
//! from elsewhere) or from an older scope (a grid joined: its old records were never sent) is
//! expired: the device takes a fresh snapshot and keeps its unsent changes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A decoded cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub epoch: String,
    pub scope: String,
    pub rev: i64,
}

const PREFIX: &str = "c1";

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{PREFIX}:{}:{}:{}",
            self.epoch, self.scope, self.rev
        ))
    }

    /// `None` when the text is not a cursor this server ever made.
    pub fn decode(text: &str) -> Option<Cursor> {
        if text.len() > 200 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let mut parts = raw.split(':');
        if parts.next()? != PREFIX {
            return None;
        }
        let epoch = parts.next()?.to_string();
        let scope = parts.next()?.to_string();
        let rev = parts.next()?.parse().ok().filter(|r: &i64| *r >= 0)?;
        if parts.next().is_some() {
            return None;
        }
        Some(Cursor { epoch, scope, rev })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_garbage() {
        let c = Cursor {
            epoch: "e1".into(),
            scope: "abcd".into(),
            rev: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("c1:e:s:-5")), None);
    }
}
