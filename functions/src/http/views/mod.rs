//! The API's own shapes of domain values. Each type here owns its JSON form and its OpenAPI schema, and converts
//! from (and, for inputs, into) the `shared` type it shows, so `shared` keeps its types for the domain and the
//! database, and a change there cannot change the wire without a change here.

pub mod advice;
pub mod alerts;
pub mod analytics;
pub mod catalogue;
pub mod exports;
pub mod tenancy;
pub mod video;

/// Declares a wire enum that mirrors a domain enum variant for variant (snake_case names on the wire), with `From`
/// both ways. The matches are exhaustive, so a variant added in `shared` fails to compile until it has a wire name.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident mirrors $domain:ty { $($(#[$variant_meta:meta])* $variant:ident,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$variant_meta])* $variant,)+ }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                type Domain = $domain;
                match value { $(Domain::$variant => Self::$variant,)+ }
            }
        }

        impl From<$name> for $domain {
            fn from(value: $name) -> Self {
                match value { $($name::$variant => Self::$variant,)+ }
            }
        }

        #[cfg(test)]
        impl $name {
            /// Every variant, for the tests that hold the wire names to the domain's.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];
        }
    };
}
use wire_enum;

/// A wire enum's name on the wire.
#[cfg(test)]
fn wire_name(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|name| name.as_str().map(str::to_owned)).unwrap_or_default()
}
