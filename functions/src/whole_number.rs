//! Whole numbers in JSON bodies. JSON Schema, and so the OpenAPI document, counts `25.0` as an integer, and many
//! clients (JavaScript's among them) cannot tell the two apart: a field declared `integer` takes any whole number,
//! written with a zero fraction or not, and refuses `25.5` or a number out of its type's range.

use std::fmt;

use serde::{Deserialize, Deserializer, de};

/// A whole number of type `T` read from a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Whole<T>(pub T);

impl<'de, T: TryFrom<i64>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(WholeVisitor(std::marker::PhantomData))
    }
}

struct WholeVisitor<T>(std::marker::PhantomData<T>);

impl<T: TryFrom<i64>> WholeVisitor<T> {
    fn fit<E: de::Error>(value: i64) -> Result<Whole<T>, E> {
        T::try_from(value).map(Whole).map_err(|_| E::custom(format!("{value} is out of range")))
    }
}

impl<T: TryFrom<i64>> de::Visitor<'_> for WholeVisitor<T> {
    type Value = Whole<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a whole number")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Self::fit(value)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Self::fit(i64::try_from(value).map_err(|_| E::custom(format!("{value} is out of range")))?)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        // Every whole f64 strictly inside ±2^63 converts exactly.
        if value.fract() != 0.0 || !value.is_finite() || value.abs() >= 9.223_372_036_854_776e18 {
            return Err(E::custom(format!("{value} is not a whole number in range")));
        }
        Self::fit(value as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<i32, String> {
        serde_json::from_str::<Whole<i32>>(json).map(|w| w.0).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_numbers_are_taken_with_or_without_a_zero_fraction() {
        assert_eq!(read("25"), Ok(25));
        assert_eq!(read("25.0"), Ok(25));
        assert_eq!(read("-3e0"), Ok(-3));
        assert!(read("25.5").is_err());
        assert!(read("3000000000").is_err(), "out of i32");
        assert!(read("1e300").is_err());
        assert!(read("\"25\"").is_err());
    }
}
