//! The probe against `ffprobe` run now, on every file in `fixtures/videos/` (not only those `expected.json` lists):
//! a file ffprobe finds a video stream in must probe to the same container, codec, picture size, rotation, display
//! size, duration and audio; a file ffprobe cannot read, or finds no video in, must fail with a reason.
//!
//! ffprobe comes from Debian's `ffmpeg` (`.ci/run` installs it). Under `CI=true` a missing ffprobe fails the test;
//! elsewhere the test says so and passes.

use std::{path::Path, process::Command};

use serde_json::{Value, json};
use shared::video::probe::{ProbeLimits, SliceSource, probe};

use crate::video_probe::{fixtures_dir, stream_mismatches};

/// Files in the fixtures folder that are not media: the records and the scripts that make them.
const NOT_MEDIA: [&str; 4] = ["json", "py", "sh", "md"];

fn ffprobe_present() -> bool {
    Command::new("ffprobe").arg("-version").output().is_ok_and(|output| output.status.success())
}

/// ffprobe's JSON for `path`, or `None` when ffprobe cannot read the file.
fn ffprobe(path: &Path) -> Option<Value> {
    let output = Command::new("ffprobe")
        .args(["-v", "error", "-show_streams", "-show_format", "-of", "json"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    output.status.success().then(|| serde_json::from_slice(&output.stdout).expect("ffprobe JSON"))
}

/// ffprobe's facts in the probe's terms (the conventions of `fixtures/videos/README.md`, as `expected.py` derives
/// them), or `None` when ffprobe finds no video stream.
fn as_probe_would_say(ffprobe: &Value) -> Option<Value> {
    let streams = ffprobe["streams"].as_array()?;
    let video = streams.iter().find(|s| s["codec_type"] == "video" && s["disposition"]["attached_pic"] != 1)?;
    let audio = streams.iter().find(|s| s["codec_type"] == "audio");
    let rotation = video["side_data_list"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|side| side["rotation"].as_f64())
        .map_or(0, |degrees| (-degrees.round() as i64).rem_euclid(360));
    let (width, height) = (video["width"].as_u64()?, video["height"].as_u64()?);
    let display_width = match ratio(&video["sample_aspect_ratio"], ':') {
        Some(sar) if sar > 0.0 => (width as f64 * sar).round() as u64,
        _ => width,
    };
    let (display_width, display_height) =
        if rotation % 180 == 90 { (height, display_width) } else { (display_width, height) };
    let frame_rate = ratio(&video["avg_frame_rate"], '/').map(|rate| (rate * 1000.0).round() / 1000.0);
    Some(json!({
        "container": container(&ffprobe["format"]),
        "duration_seconds": ffprobe["format"]["duration"].as_str().and_then(|d| d.parse::<f64>().ok()),
        "width": width,
        "height": height,
        "display_width": display_width,
        "display_height": display_height,
        "rotation": rotation,
        "frame_rate": frame_rate,
        "video_codec": video["codec_name"],
        "video_profile": video["profile"],
        "audio": audio.map(|a| json!({
            "codec": a["codec_name"],
            "channels": a["channels"],
            "sample_rate": a["sample_rate"].as_str().and_then(|rate| rate.parse::<u64>().ok()),
        })),
    }))
}

/// `"4:3"` or `"25/1"` as a number; `None` for ffprobe's unknowns (`0:1`, `0/0`, `N/A`).
fn ratio(value: &Value, separator: char) -> Option<f64> {
    let (numerator, denominator) = value.as_str()?.split_once(separator)?;
    let (numerator, denominator) = (numerator.parse::<f64>().ok()?, denominator.parse::<f64>().ok()?);
    (numerator > 0.0 && denominator > 0.0).then(|| numerator / denominator)
}

/// The container as the probe names it. ffprobe names one demuxer for all ISO files, so their major brand decides;
/// for Matroska the probe's name must be one of the demuxer's (`matroska,webm`).
fn container(format: &Value) -> Value {
    let demuxers = format["format_name"].as_str().unwrap_or_default();
    if !demuxers.contains("mp4") {
        return json!(demuxers);
    }
    let brand = format["tags"]["major_brand"].as_str().unwrap_or("qt  ");
    json!(match brand {
        "qt  " => "mov",
        "M4V " | "M4VH" | "M4VP" => "m4v",
        _ if brand.starts_with("3gp") || brand.starts_with("3g2") => "3gp",
        _ => "mp4",
    })
}

#[tokio::test]
async fn every_fixture_probes_as_ffprobe_reads_it() {
    if !ffprobe_present() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "ffprobe is missing: CI must install Debian's ffmpeg (.ci/run does)"
        );
        eprintln!("skipped: ffprobe is not installed (apt-get install ffmpeg)");
        return;
    }
    let mut files: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures folder")
        .map(|entry| entry.expect("folder entry").path())
        .filter(|path| !path.extension().is_some_and(|ext| NOT_MEDIA.iter().any(|skip| ext == *skip)))
        .collect();
    files.sort();
    assert!(files.len() >= 17, "{} fixtures", files.len());

    let mut failures = Vec::new();
    for path in &files {
        let file = path.file_name().expect("name").to_string_lossy();
        let bytes = std::fs::read(path).expect("read fixture");
        let want = ffprobe(path).and_then(|found| as_probe_would_say(&found));

        let report = probe(&SliceSource(&bytes), bytes.len() as u64, ProbeLimits::default()).await;

        match (want, report.result) {
            (Some(mut want), Ok(found)) => {
                let found = serde_json::to_value(&found).expect("JSON");
                let demuxers = want["container"].as_str().unwrap_or_default().to_owned();
                if demuxers.split(',').count() > 1 && demuxers.split(',').any(|name| found["container"] == name) {
                    want["container"] = found["container"].clone();
                }
                let wrong = stream_mismatches(&found, &want);
                if !wrong.is_empty() {
                    failures.push(format!("{file}: {}", wrong.join("; ")));
                }
            }
            (None, Err(error)) if error.reason().is_some() => {}
            (None, Err(error)) => {
                failures.push(format!("{file}: ffprobe finds no video, the probe fails with {error:?}"));
            }
            (Some(_), Err(error)) => failures.push(format!("{file}: ffprobe reads it, the probe fails: {error}")),
            (None, Ok(found)) => failures.push(format!("{file}: ffprobe finds no video, the probe reports {found:?}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
