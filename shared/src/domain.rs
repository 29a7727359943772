//! Domain types parsed from outside input. Each has a private field and `parse` as the only way in, so code that
//! holds one never re-checks it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused; the message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl ParseError {
    /// A refusal with this client-safe message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

/// An organization's display name: 1-200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrganizationName(String);

impl OrganizationName {
    /// Trims and checks a name.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ParseError("must be 1 to 200 characters".into()));
        }
        if name.chars().any(char::is_control) {
            return Err(ParseError("must not contain control characters".into()));
        }
        Ok(Self(name.to_owned()))
    }
}
string_newtype!(OrganizationName);

/// An IANA time zone (`Europe/Paris`), in which an organization's days and weeks are counted. Holds the zone
/// itself, so a stored name is parsed once, when its row is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZoneName(chrono_tz::Tz);

impl TimeZoneName {
    /// Checks the name against the IANA database.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        raw.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| ParseError(format!("`{raw}` is not an IANA time zone such as Europe/Paris")))
    }

    /// The zone itself.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}

impl AsRef<str> for TimeZoneName {
    fn as_ref(&self) -> &str {
        self.0.name()
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl TryFrom<String> for TimeZoneName {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TimeZoneName> for String {
    fn from(value: TimeZoneName) -> Self {
        value.0.name().to_owned()
    }
}

impl Default for TimeZoneName {
    fn default() -> Self {
        Self(chrono_tz::UTC)
    }
}

/// An ISO 4217 alphabetic currency code (`EUR`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CurrencyCode(String);

impl CurrencyCode {
    /// Checks the form: three ASCII letters, normalised to upper case.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(ParseError(format!("`{raw}` is not a three-letter ISO 4217 code such as EUR")))
        }
    }
}
string_newtype!(CurrencyCode);

impl Default for CurrencyCode {
    fn default() -> Self {
        Self("USD".into())
    }
}

/// An e-mail address as a mail system takes it: `local@domain`, at most 254 characters, no white space or control
/// characters, a domain of dot-separated labels. Deliverability is the mail service's to judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Trims and checks an address.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let address = raw.trim();
        let refused = || ParseError(format!("`{address}` is not an e-mail address such as ops@example.com"));
        let (local, domain) = address.rsplit_once('@').ok_or_else(refused)?;
        let printable = |text: &str| !text.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        let labels_ok = domain.split('.').count() >= 2
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if address.len() > 254 || local.len() > 64 || !printable(local) || local.contains('@') || !labels_ok {
            return Err(refused());
        }
        Ok(Self(address.to_owned()))
    }
}
string_newtype!(EmailAddress);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_normalised_or_refused_with_a_reason() {
        assert_eq!(OrganizationName::parse("  Acme  ").map(String::from), Ok("Acme".to_owned()));
        assert!(OrganizationName::parse("   ").is_err(), "blank name");
        assert!(OrganizationName::parse(&"x".repeat(201)).is_err(), "long name");
        assert!(OrganizationName::parse("a\u{0}b").is_err(), "control character");
        assert_eq!(TimeZoneName::parse("Europe/Paris").map(String::from), Ok("Europe/Paris".to_owned()));
        assert!(TimeZoneName::parse("Mars/Olympus").is_err(), "unknown zone");
        assert_eq!(CurrencyCode::parse("eur").map(String::from), Ok("EUR".to_owned()));
        for bad in ["EU", "EURO", "E1R", "€UR"] {
            assert!(CurrencyCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(EmailAddress::parse(" ops@beans.example ").map(String::from), Ok("ops@beans.example".to_owned()));
        for bad in
            ["ops", "ops@", "@beans.example", "ops@beans", "o ps@beans.example", "a@b@beans.example", "ops@-x.example"]
        {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }
}

/// A secret's name: 1-127 ASCII letters, digits and dashes (Key Vault's rule), so every adapter can hold it as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SecretName(String);

impl SecretName {
    /// Checks a name.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let valid = !raw.is_empty() && raw.len() <= 127 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new("a secret name is 1-127 ASCII letters, digits and dashes"))
        }
    }

    /// The name of a store's credentials.
    pub fn for_store(store: uuid::Uuid) -> Self {
        Self(format!("store-{store}"))
    }

    /// The name of an alert channel's webhook URL.
    pub fn for_alert_channel(channel: uuid::Uuid) -> Self {
        Self(format!("alert-channel-{channel}"))
    }
}

impl AsRef<str> for SecretName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
