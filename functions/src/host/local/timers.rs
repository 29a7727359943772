//! Fires a timer function on its NCRONTAB schedule, as the Functions host does.

use chrono::{DateTime, Utc};
use shared::schedule::Schedule;

use super::Invoker;
use crate::protocol::{ScheduleStatus, TimerInfo, TimerSchedule};

/// Lateness beyond which an occurrence counts as past due (the process was suspended, or the previous run overran).
const PAST_DUE_AFTER: chrono::Duration = chrono::Duration::seconds(5);

/// Runs forever: one invocation per occurrence, never two at once (like the host, the next occurrence is computed
/// after the previous invocation returns).
pub async fn run(invoker: Invoker, function: String, binding: String, schedule: Schedule, run_on_startup: bool) {
    let mut last: Option<DateTime<Utc>> = None;
    if run_on_startup {
        fire(&invoker, &function, &binding, None, Utc::now()).await;
    }
    loop {
        let next = schedule.next_after(Utc::now());
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let status = ScheduleStatus { last, next: Some(next), last_updated: Some(Utc::now()) };
        fire(&invoker, &function, &binding, Some(status), next).await;
        last = Some(next);
    }
}

async fn fire(invoker: &Invoker, function: &str, binding: &str, status: Option<ScheduleStatus>, due: DateTime<Utc>) {
    let timer = TimerInfo {
        schedule: TimerSchedule { adjust_for_dst: true },
        schedule_status: status,
        is_past_due: Utc::now() - due > PAST_DUE_AFTER,
    };
    let data = match serde_json::to_value(&timer) {
        Ok(value) => serde_json::Map::from_iter([(binding.to_owned(), value)]),
        Err(error) => {
            tracing::error!(function, %error, "cannot encode the timer binding");
            return;
        }
    };
    // Timers are not retried: a failed occurrence is logged and the next one comes on schedule.
    if let Err(error) = invoker.invoke(function, data, serde_json::Map::new()).await {
        tracing::error!(function, error, "timer invocation failed");
    }
}
