//! Exact money: integer minor units (cents) in a currency, parsed from and written as decimal strings. Never a float.

use crate::domain::{CurrencyCode, ParseError};

impl CurrencyCode {
    /// Digits after the decimal point (ISO 4217 minor unit): 0 for yen-like currencies, 3 for the dinars, else 2.
    pub fn minor_digits(&self) -> u32 {
        match self.as_ref() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
            | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }
}

/// Parses a decimal string (`"19.99"`, `"-3"`, `"0.5"`) into minor units with `digits` decimals. More decimals than
/// the currency has, exponents, or values beyond ±10^15 are refused rather than rounded.
pub fn parse_minor(text: &str, digits: u32) -> Result<i64, ParseError> {
    let invalid = || ParseError::new(format!("`{text}` is not a decimal amount with at most {digits} decimals"));
    let trimmed = text.trim();
    let (negative, unsigned) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(invalid());
    }
    if fraction.len() > digits as usize || whole.len() > 15 {
        return Err(invalid());
    }
    let scale = 10i64.pow(digits);
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<i64>().map_err(|_| invalid())? * 10i64.pow(digits - fraction.len() as u32)
    };
    let magnitude = whole.checked_mul(scale).and_then(|w| w.checked_add(fraction)).ok_or_else(invalid)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// Writes minor units as a decimal string with exactly `digits` decimals (`1999, 2` → `"19.99"`).
pub fn format_minor(minor: i64, digits: u32) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10u64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale, width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_round_trip_exactly() {
        let cases = [
            ("19.99", 2, 1999),
            ("0.5", 2, 50),
            ("-3", 2, -300),
            ("+7.10", 2, 710),
            ("1500", 0, 1500),
            (".25", 2, 25),
            ("1.234", 3, 1234),
        ];
        for (text, digits, minor) in cases {
            assert_eq!(parse_minor(text, digits), Ok(minor), "{text}");
        }
        assert_eq!(format_minor(1999, 2), "19.99");
        assert_eq!(format_minor(-5, 2), "-0.05");
        assert_eq!(format_minor(1500, 0), "1500");
        assert_eq!(format_minor(1234, 3), "1.234");
    }

    #[test]
    fn ambiguous_or_inexact_amounts_are_refused() {
        for (text, why) in [
            ("1.999", "too many decimals"),
            ("1e3", "exponent"),
            ("", "empty"),
            (".", "no digits"),
            ("1,5", "comma"),
            ("NaN", "not a number"),
            ("9999999999999999", "too large"),
            ("--1", "double sign"),
        ] {
            assert!(parse_minor(text, 2).is_err(), "{why}: {text}");
        }
    }
}
