//! The probe against real media: every fixture's facts must match what ffprobe recorded in
//! `fixtures/videos/expected.json` (see the README there), broken files must fail with a reason, and no input —
//! truncated, corrupted or mutated at random — may panic, hang or read past the probe's budget.

use std::path::{Path, PathBuf};

use serde_json::Value;
use shared::video::probe::{ProbeLimits, SliceSource, probe};

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/videos")
}

pub fn expected() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures_dir().join("expected.json")).expect("expected.json");
    let parsed: Value = serde_json::from_str(&text).expect("JSON");
    parsed["fixtures"].as_array().expect("fixtures").clone()
}

/// Compares a probe result with the ffprobe record; returns every mismatch.
pub fn mismatches(probe: &Value, want: &Value) -> Vec<String> {
    let mut wrong = stream_mismatches(probe, want);
    for field in ["fast_start", "fragmented", "size_bytes"] {
        if probe[field] != want[field] {
            wrong.push(format!("{field}: probe {} != expected {}", probe[field], want[field]));
        }
    }
    wrong
}

/// The facts ffprobe itself reports (no box layout): container, picture, rotation, codecs, duration, audio.
pub fn stream_mismatches(probe: &Value, want: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    for field in ["container", "width", "height", "display_width", "display_height", "rotation", "video_codec"] {
        if probe[field] != want[field] {
            wrong.push(format!("{field}: probe {} != ffprobe {}", probe[field], want[field]));
        }
    }
    let (got, expected) = (probe["duration_seconds"].as_f64(), want["duration_seconds"].as_f64().expect("duration"));
    match got {
        Some(got) if (got - expected).abs() <= (expected * 0.01).max(0.05) => {}
        other => wrong.push(format!("duration: probe {other:?} != ffprobe {expected} (±1% or 50 ms)")),
    }
    if let (Some(got), Some(expected)) = (probe["frame_rate"].as_f64(), want["frame_rate"].as_f64())
        && (got - expected).abs() > expected * 0.01
    {
        wrong.push(format!("frame_rate: probe {got} != ffprobe {expected}"));
    }
    if !probe["video_profile"].is_null() && probe["video_profile"] != want["video_profile"] {
        wrong.push(format!("video_profile: probe {} != ffprobe {}", probe["video_profile"], want["video_profile"]));
    }
    match (&probe["audio"], &want["audio"]) {
        (Value::Null, Value::Null) => {}
        (got, expected) if got == expected => {}
        (got, expected) => wrong.push(format!("audio: probe {got} != ffprobe {expected}")),
    }
    wrong
}

#[tokio::test]
async fn every_real_fixture_probes_like_ffprobe_and_every_broken_one_fails_with_a_reason() {
    let mut failures = Vec::new();
    for want in expected() {
        let file = want["file"].as_str().expect("file");
        let bytes = std::fs::read(fixtures_dir().join(file)).expect(file);

        let report = probe(&SliceSource(&bytes), bytes.len() as u64, ProbeLimits::default()).await;

        match (want["outcome"].as_str(), report.result) {
            (Some("ready"), Ok(found)) => {
                let found = serde_json::to_value(&found).expect("JSON");
                let wrong = mismatches(&found, &want);
                if !wrong.is_empty() {
                    failures.push(format!("{file}: {}", wrong.join("; ")));
                }
            }
            (Some("failed"), Err(error)) => {
                let reason = error.reason().unwrap_or_default();
                if reason.is_empty() {
                    failures.push(format!("{file}: failed without a reason"));
                }
            }
            (outcome, result) => failures.push(format!("{file}: expected {outcome:?}, got {result:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn a_moov_at_the_end_is_found_with_a_few_small_reads() {
    let bytes = std::fs::read(fixtures_dir().join("moov-at-end.mp4")).expect("fixture");
    // A head read smaller than the file, so the moov must be fetched by a ranged read.
    let padded: Vec<u8> = bytes.clone();
    let report = probe(&SliceSource(&padded), padded.len() as u64, ProbeLimits::default()).await;
    let found = report.result.expect("probes");
    assert!(!found.fast_start);
    assert!(report.requests <= 4, "{} requests", report.requests);
}

#[tokio::test]
async fn a_moov_larger_than_the_budget_is_refused_with_the_reason() {
    let bytes = std::fs::read(fixtures_dir().join("moov-at-end.mp4")).expect("fixture");
    let limits = ProbeLimits { max_bytes: 512, max_requests: 16 };

    let report = probe(&SliceSource(&bytes), bytes.len() as u64, limits).await;

    let error = report.result.expect_err("over budget");
    assert!(error.to_string().contains("limit"), "{error}");
    assert!(report.bytes_read <= 512, "read {} bytes", report.bytes_read);
}

#[tokio::test]
async fn a_fragmented_file_too_long_to_walk_reports_no_duration_rather_than_a_short_one() {
    let bytes = std::fs::read(fixtures_dir().join("fragmented.mp4")).expect("fixture");
    // The first read holds the moov and both fragments; the walk needs one more read to reach the end of the file.
    let cut_short = ProbeLimits { max_bytes: 1024 * 1024, max_requests: 1 };
    let walked = ProbeLimits { max_bytes: 1024 * 1024, max_requests: 2 };

    let partial = probe(&SliceSource(&bytes), bytes.len() as u64, cut_short).await.result.expect("probes");
    let complete = probe(&SliceSource(&bytes), bytes.len() as u64, walked).await.result.expect("probes");

    assert!(partial.fragmented);
    assert_eq!(partial.duration_seconds, None, "an unfinished walk may not have seen the last fragment");
    assert_eq!(complete.duration_seconds, Some(2.08));
}

/// The fuzz harness as a plain test (the `cargo fuzz` target in `fuzz/` does the same with coverage guidance):
/// thousands of mutations of every fixture — bit flips, byte runs, cuts, size fields set to extremes — must each end
/// in a result or an error, within the budget.
#[tokio::test]
async fn mutated_fixtures_never_panic_hang_or_overspend() {
    let limits = ProbeLimits { max_bytes: 256 * 1024, max_requests: 64 };
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut runs = 0;
    for want in expected() {
        let file = want["file"].as_str().expect("file");
        let original = std::fs::read(fixtures_dir().join(file)).expect(file);
        if original.is_empty() {
            continue;
        }
        // Mutations concentrate on the metadata, where the parsers work: the first 4 KiB and the last 4 KiB.
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..(1 + next() % 8) {
                let hot = if next() % 2 == 0 {
                    next() as usize % bytes.len().min(4096)
                } else {
                    bytes.len() - 1 - next() as usize % bytes.len().min(4096)
                };
                match next() % 4 {
                    0 => bytes[hot] ^= 1 << (next() % 8),
                    1 => bytes[hot] = 0xFF,
                    2 => bytes[hot] = 0x00,
                    _ => bytes.truncate(hot.max(1)),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            let report = probe(&SliceSource(&bytes), bytes.len() as u64, limits).await;
            assert!(report.bytes_read <= limits.max_bytes, "{file}: read {} bytes", report.bytes_read);
            assert!(report.requests <= limits.max_requests, "{file}: {} requests", report.requests);
            runs += 1;
        }
    }
    assert!(runs > 3000, "{runs} runs");
}
