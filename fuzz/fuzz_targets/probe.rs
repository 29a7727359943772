//! Feeds arbitrary bytes to the video probe as if they were an uploaded file. The probe must return (a result or an
//! error) without panicking, and within its byte and request budget. Seed it with `tests/fixtures/videos/*`:
//! `cargo +nightly fuzz run probe ../tests/fixtures/videos`.
#![no_main]

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use libfuzzer_sys::fuzz_target;
use shared::video::probe::{ProbeLimits, SliceSource, probe};

/// The slice source never waits, so one poll loop drives the probe to completion.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = ProbeLimits { max_bytes: 256 * 1024, max_requests: 64 };
    let report = block_on(probe(&SliceSource(data), data.len() as u64, limits));
    assert!(report.bytes_read <= limits.max_bytes);
    assert!(report.requests <= limits.max_requests);
});
