//! Alerts that reach the merchant where they already look: a Slack incoming webhook, a Microsoft Teams workflow
//! webhook, or e-mail through Azure Communication Services. A channel is told when a high-severity recommendation
//! appears (stock that runs out within the lead time, a revenue anomaly), once per subject per cooldown, and gets a
//! digest of the open recommendations every Monday morning in the organization's time zone. Every delivery is
//! recorded, sent or failed.
//!
//! - [`channel`]: channels, webhook URLs (secrets, under the store-URL egress rules) and delivery records;
//! - [`notice`]: what a notice says, in each channel's format;
//! - [`sender`]: the HTTP side, with retries;
//! - [`dispatch`]: the `SendAlerts` tick.

pub mod channel;
pub mod dispatch;
pub mod notice;
pub mod sender;
