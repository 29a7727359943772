//! Shared access signatures signed with a storage account key: an *account* SAS for our own requests (the official
//! client has no shared-key auth, so with a key we sign a short-lived SAS per request) and a *service* SAS for one
//! blob, handed to clients as their upload URL.
//!
//! In Azure with managed identity there is no account key: upload URLs are then *user delegation* SAS, built by the
//! SDK's `azure_storage_sas` crate from a key obtained with `Get User Delegation Key` (see `azure.rs`).

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The service version our signatures state.
pub const SAS_VERSION: &str = "2021-08-06";

/// An account key, decoded.
#[derive(Clone)]
pub struct AccountKey(Vec<u8>);

impl std::fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccountKey(**redacted**)")
    }
}

impl AccountKey {
    /// Decodes the base64 key as the portal shows it.
    pub fn parse(base64_key: &str) -> Result<Self, String> {
        STANDARD.decode(base64_key.trim()).map(Self).map_err(|_| "the account key is not base64".to_owned())
    }

    fn sign(&self, string_to_sign: &str) -> String {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(string_to_sign.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An account SAS over the blob service: every resource type, read/write/delete/list/add/create.
pub fn account_sas(
    account: &str,
    key: &AccountKey,
    start: DateTime<Utc>,
    expiry: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    signed_account_sas(account, key, ("b", "rwdlac"), start, expiry)
}

/// An account SAS over the queue service: every resource type, read/write/delete/list/add/create/update/process.
pub fn queue_account_sas(
    account: &str,
    key: &AccountKey,
    start: DateTime<Utc>,
    expiry: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    signed_account_sas(account, key, ("q", "rwdlacup"), start, expiry)
}

fn signed_account_sas(
    account: &str,
    key: &AccountKey,
    (services, permissions): (&'static str, &'static str),
    start: DateTime<Utc>,
    expiry: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let (resource_types, protocol) = ("sco", "https,http");
    let (start, expiry) = (time(start), time(expiry));
    let string_to_sign =
        [account, permissions, services, resource_types, &start, &expiry, "", protocol, SAS_VERSION, "", ""].join("\n");
    vec![
        ("sv", SAS_VERSION.to_owned()),
        ("ss", services.to_owned()),
        ("srt", resource_types.to_owned()),
        ("sp", permissions.to_owned()),
        ("st", start),
        ("se", expiry),
        ("spr", protocol.to_owned()),
        ("sig", key.sign(&string_to_sign)),
    ]
}

/// A service SAS for one blob.
#[derive(Debug, Clone, Copy)]
pub struct BlobSas<'a> {
    /// The storage account's name.
    pub account: &'a str,
    /// The container.
    pub container: &'a str,
    /// The blob's name.
    pub blob: &'a str,
    /// e.g. `cw`: create and write, no read.
    pub permissions: &'a str,
    /// Valid from (a few minutes back, for clock skew).
    pub start: DateTime<Utc>,
    /// Valid until.
    pub expiry: DateTime<Utc>,
    /// Refuse plain HTTP (always, except against a local emulator).
    pub https_only: bool,
}

impl BlobSas<'_> {
    /// The query parameters, signed with `key`.
    pub fn sign(&self, key: &AccountKey) -> Vec<(&'static str, String)> {
        let protocol = if self.https_only { "https" } else { "https,http" };
        let (start, expiry) = (time(self.start), time(self.expiry));
        let resource = format!("/blob/{}/{}/{}", self.account, self.container, self.blob);
        // Version 2020-12-06 and later: ... signedResource, signedSnapshotTime, signedEncryptionScope, then the
        // five response-header overrides.
        let string_to_sign = [
            self.permissions,
            &start,
            &expiry,
            &resource,
            "",
            "",
            protocol,
            SAS_VERSION,
            "b",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n");
        vec![
            ("sv", SAS_VERSION.to_owned()),
            ("sr", "b".to_owned()),
            ("sp", self.permissions.to_owned()),
            ("st", start),
            ("se", expiry),
            ("spr", protocol.to_owned()),
            ("sig", key.sign(&string_to_sign)),
        ]
    }
}

/// What a folder-store URL signs: the dev host's stand-in for a SAS on one resource (a video's upload, an export's
/// download).
#[derive(Debug, Clone, Copy)]
pub struct LocalGrant<'a> {
    /// The request method it allows (`PUT` to upload, `GET` to download).
    pub method: &'a str,
    /// Whose resource.
    pub organization: &'a str,
    /// Which.
    pub resource: &'a str,
    /// Until when, Unix seconds.
    pub expires: i64,
}

impl LocalGrant<'_> {
    fn mac(&self, key: &[u8]) -> Hmac<Sha256> {
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
        let Self { method, organization, resource, expires } = self;
        mac.update(format!("{method}\n{organization}\n{resource}\n{expires}").as_bytes());
        mac
    }

    /// HMAC-SHA256 over the grant, base64url without padding.
    pub fn sign(&self, key: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.mac(key).finalize().into_bytes())
    }

    /// Checks a signature of this grant in constant time.
    pub fn verify(&self, key: &[u8], signature: &str) -> bool {
        let Ok(given) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        self.mac(key).verify_slice(&given).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Azurite's published development key.
    const DEV_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    #[test]
    fn a_blob_sas_signs_the_documented_string_and_names_its_fields() {
        let key = AccountKey::parse(DEV_KEY).expect("key");
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").expect("time").with_timezone(&Utc);
        let expiry = start + chrono::Duration::minutes(15);

        let sas = BlobSas {
            account: "devstoreaccount1",
            container: "videos",
            blob: "t/v.mp4",
            permissions: "cw",
            start,
            expiry,
            https_only: false,
        }
        .sign(&key);

        let expected_string = "cw\n2026-01-01T00:00:00Z\n2026-01-01T00:15:00Z\n/blob/devstoreaccount1/videos/t/v.mp4\n\n\nhttps,http\n2021-08-06\nb\n\n\n\n\n\n\n";
        let field = |name: &str| sas.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone()).expect(name);
        assert_eq!(field("sig"), key.sign(expected_string));
        assert_eq!((field("sr"), field("sp"), field("se")), ("b".into(), "cw".into(), "2026-01-01T00:15:00Z".into()));
        assert!(format!("{key:?}").contains("redacted"));
    }

    #[test]
    fn local_signatures_bind_the_method_the_resource_and_the_expiry() {
        let grant = LocalGrant { method: "PUT", organization: "org", resource: "video", expires: 100 };
        let signature = grant.sign(b"key");
        assert!(grant.verify(b"key", &signature));
        assert!(!LocalGrant { expires: 101, ..grant }.verify(b"key", &signature), "another expiry");
        assert!(!LocalGrant { resource: "other", ..grant }.verify(b"key", &signature), "another resource");
        assert!(!LocalGrant { method: "GET", ..grant }.verify(b"key", &signature), "another method");
        assert!(!grant.verify(b"other", &signature), "another key");
        assert!(!grant.verify(b"key", "not base64!"), "garbage");
    }
}
