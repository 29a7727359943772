//! Keyset cursors, one format for every list: the key of a page's last row as URL-safe base64 JSON, opaque to
//! clients. A list fetches one row more than its page size to learn whether another page follows.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

use crate::error::ApiError;

/// The cursor that resumes after `key`.
pub fn encode<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The key a cursor of [`encode`] holds; anything else is a 400 on `cursor`.
pub fn decode<K: DeserializeOwned>(cursor: &str) -> Result<K, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_field("cursor", "is not a cursor this API issued"))
}

/// Cuts `rows` (fetched with `limit + 1`) to one page and gives the cursor of the next, if there is one.
pub fn page<T, K: Serialize>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|last| encode(&key(last)));
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_foreign_one_is_refused() {
        let cursor = encode(&(7_i64, "b"));
        assert_eq!(decode::<(i64, String)>(&cursor).expect("round trip"), (7, "b".to_owned()));
        assert!(decode::<(i64, String)>("not-a-cursor").is_err());
        assert!(decode::<(i64, String)>(&encode(&"text")).is_err());
    }

    #[test]
    fn a_page_has_a_cursor_only_when_more_rows_follow() {
        assert_eq!(page(vec![1, 2], 2, |n| *n), (vec![1, 2], None));
        let (rows, next) = page(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(rows, [1, 2]);
        assert_eq!(decode::<i32>(&next.expect("a next page")).expect("round trip"), 2);
    }
}
