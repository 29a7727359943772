//! The payload of a Supabase access token, and the checks that turn it into a [`Principal`]. Signature checks
//! happen before this (in the parent module); these are the claim checks, with the clock passed in so tests can pin
//! it.
//!
//! Every claim is optional when deserialized, so a missing one is reported by name instead of as a parse error.

use serde::{Deserialize, Serialize};

use super::{AUDIENCE, AuthError, Principal};

/// Clock skew tolerated on `exp` and `nbf`, in seconds: serverless instances and Supabase's servers keep good time,
/// and a short-lived token should not outlive its expiry by more than this.
pub(super) const LEEWAY_SECS: i64 = 30;

/// The claims we read (Supabase's "JWT fields" page lists the rest).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Kept as raw JSON: its shape is the project's own, and an unexpected field must not make the token unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_metadata: Option<serde_json::Value>,
}

/// `aud` is a string or an array of strings (RFC 7519 §4.1.3; Supabase uses both).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::One(aud) => aud == wanted,
            Self::Many(auds) => auds.iter().any(|aud| aud == wanted),
        }
    }
}

impl Claims {
    /// The caller, if the token is current at `now` (Unix seconds), was issued by `issuer` for signed-in users, and
    /// names a user.
    pub fn into_principal(self, issuer: &str, now: i64) -> Result<Principal, AuthError> {
        let exp = self.exp.ok_or(AuthError::MissingClaim("exp"))?;
        if exp < now - LEEWAY_SECS {
            return Err(AuthError::Expired);
        }
        if self.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
            return Err(AuthError::NotYetValid);
        }
        match self.iss {
            None => return Err(AuthError::MissingClaim("iss")),
            Some(iss) if iss != issuer => return Err(AuthError::WrongIssuer(iss)),
            Some(_) => {}
        }
        if !self.aud.ok_or(AuthError::MissingClaim("aud"))?.contains(AUDIENCE) {
            return Err(AuthError::WrongAudience);
        }
        match self.role {
            None => return Err(AuthError::MissingClaim("role")),
            Some(role) if role != AUDIENCE => return Err(AuthError::WrongRole(role)),
            Some(_) => {}
        }
        let user_id = self.sub.ok_or(AuthError::MissingClaim("sub"))?.parse().map_err(|_| AuthError::SubjectNotUuid)?;
        let is_super_admin = self
            .app_metadata
            .as_ref()
            .and_then(|metadata| metadata.get("super_admin"))
            .is_some_and(|flag| flag == &serde_json::Value::Bool(true));
        Ok(Principal { user_id, email: self.email, is_super_admin })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    const ISSUER: &str = "https://abc.supabase.co/auth/v1";
    const NOW: i64 = 1_750_000_000;
    const USER: &str = "6f1b8a56-4c1e-4d9a-9f3e-2b7a1c0d5e42";

    /// A payload as Supabase issues it for a signed-in user, with `changes` merged in (`null` removes a claim).
    fn claims(changes: serde_json::Value) -> Claims {
        let mut payload = json!({
            "iss": ISSUER, "sub": USER, "aud": "authenticated", "exp": NOW + 3600, "iat": NOW,
            "role": "authenticated", "email": "ada@example.com", "aal": "aal1", "session_id": Uuid::nil(),
            "is_anonymous": false, "app_metadata": {"provider": "email", "providers": ["email"]},
        });
        for (name, value) in changes.as_object().expect("an object of changes") {
            match value {
                serde_json::Value::Null => payload.as_object_mut().expect("object").remove(name),
                value => payload.as_object_mut().expect("object").insert(name.clone(), value.clone()),
            };
        }
        serde_json::from_value(payload).expect("claims deserialize")
    }

    #[test]
    fn a_current_token_for_a_signed_in_user_names_them() {
        let principal = claims(json!({})).into_principal(ISSUER, NOW).expect("valid");
        assert_eq!(
            principal,
            Principal {
                user_id: USER.parse().expect("uuid"),
                email: Some("ada@example.com".into()),
                is_super_admin: false
            }
        );
    }

    #[test]
    fn tokens_within_the_leeway_are_accepted() {
        let cases = [
            (json!({"exp": NOW - LEEWAY_SECS}), "expired, but within the leeway"),
            (json!({"nbf": NOW + LEEWAY_SECS}), "not yet valid, but within the leeway"),
            (json!({"aud": ["other", "authenticated"]}), "an audience array that includes ours"),
            (json!({"email": null}), "no e-mail (phone sign-in)"),
            (json!({"app_metadata": null}), "no app_metadata"),
        ];
        for (changes, why) in cases {
            assert!(claims(changes).into_principal(ISSUER, NOW).is_ok(), "{why}");
        }
    }

    #[test]
    fn each_failed_check_is_named() {
        let cases = [
            (json!({"exp": NOW - LEEWAY_SECS - 1}), AuthError::Expired, "expired beyond the leeway"),
            (json!({"nbf": NOW + LEEWAY_SECS + 1}), AuthError::NotYetValid, "not valid until after the leeway"),
            (json!({"iss": "supabase"}), AuthError::WrongIssuer("supabase".into()), "the anon key's issuer"),
            (json!({"aud": "anon"}), AuthError::WrongAudience, "an anonymous audience"),
            (json!({"aud": ["anon", "other"]}), AuthError::WrongAudience, "an audience array without ours"),
            (json!({"role": "anon"}), AuthError::WrongRole("anon".into()), "the anon role"),
            (json!({"role": "service_role"}), AuthError::WrongRole("service_role".into()), "the service role"),
            (json!({"sub": "user-42"}), AuthError::SubjectNotUuid, "a subject that is not a UUID"),
            (json!({"exp": null}), AuthError::MissingClaim("exp"), "no expiry"),
            (json!({"iss": null}), AuthError::MissingClaim("iss"), "no issuer"),
            (json!({"aud": null}), AuthError::MissingClaim("aud"), "no audience"),
            (json!({"role": null}), AuthError::MissingClaim("role"), "no role"),
            (json!({"sub": null}), AuthError::MissingClaim("sub"), "no subject"),
        ];
        for (changes, expected, why) in cases {
            assert_eq!(claims(changes).into_principal(ISSUER, NOW), Err(expected), "{why}");
        }
    }

    #[test]
    fn only_a_true_super_admin_flag_in_app_metadata_makes_a_super_admin() {
        let cases = [
            (json!({"app_metadata": {"super_admin": true}}), true, "the flag set"),
            (json!({"app_metadata": {"super_admin": false}}), false, "the flag cleared"),
            (json!({"app_metadata": {"super_admin": "true"}}), false, "a string is not the flag"),
            (json!({"app_metadata": {"role": "super_admin"}}), false, "a role is not the flag"),
            (json!({"user_metadata": {"super_admin": true}}), false, "user_metadata is user-editable"),
            (json!({"super_admin": true}), false, "a top-level claim is not app_metadata"),
        ];
        for (changes, expected, why) in cases {
            let principal = claims(changes).into_principal(ISSUER, NOW).expect("valid");
            assert_eq!(principal.is_super_admin, expected, "{why}");
        }
    }
}
