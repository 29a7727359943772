//! Video fitness: a probed product video checked against each publishing channel (see
//! [`crate::video::fitness`]). A video that fits every channel needs no advice; otherwise the recommendation lists
//! the checks that fail or warn, each with its rule, the measured value and the fix.

use uuid::Uuid;

use super::Context;
use crate::{
    advisor::evidence::{Evidence, Figure, Kind, Recommendation, Subject, Value, fingerprint},
    video::{
        VideoProbe,
        fitness::{self, Status, Verdict},
    },
};

/// A probed video and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoFacts {
    /// The video.
    pub id: Uuid,
    /// The uploader's file name.
    pub file_name: String,
    /// The product it shows: id and title.
    pub product: Option<(Uuid, String)>,
    /// What the probe found.
    pub probe: VideoProbe,
}

fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Advice for one video, or `None` when it fits every channel.
pub fn video_fitness(_context: &Context, video: &VideoFacts) -> Option<Recommendation> {
    let channels = fitness::assess(&video.probe);
    if channels.iter().all(|c| c.verdict == Verdict::Fits) {
        return None;
    }
    let labels =
        |verdict: Verdict| -> Vec<&str> { channels.iter().filter(|c| c.verdict == verdict).map(|c| c.label).collect() };
    let (fix, warn, fine) = (labels(Verdict::NeedsFixes), labels(Verdict::FitsWithWarnings), labels(Verdict::Fits));
    let shows = video.product.as_ref().map(|(_, title)| format!(" ({title})")).unwrap_or_default();
    let mut parts = Vec::new();
    if !fix.is_empty() {
        parts.push(format!("needs fixes for {}", fix.join(", ")));
    }
    if !warn.is_empty() {
        parts.push(format!("could be better for {}", warn.join(", ")));
    }
    if !fine.is_empty() {
        parts.push(format!("fits {}", fine.join(", ")));
    }
    let title = format!("Video {}{shows} {}", video.file_name, parts.join("; "));

    let probe = &video.probe;
    let mut figures = vec![
        Figure::new(
            "resolution",
            "Displayed size",
            Value::text(format!("{}×{}", probe.display_width, probe.display_height)),
            Some("px"),
        ),
        Figure::new("video_codec", "Video codec", Value::text(probe.video_codec.clone()), None),
        Figure::new(
            "audio",
            "Audio",
            Value::text(probe.audio.as_ref().map_or_else(|| "none".to_owned(), |a| a.codec.clone())),
            None,
        ),
        Figure::new(
            "fast_start",
            "Playback starts before the download ends",
            Value::text(if probe.fast_start || probe.fragmented { "yes" } else { "no" }),
            None,
        ),
    ];
    if let Some(seconds) = probe.duration_seconds {
        figures.insert(0, Figure::new("duration", "Duration", Value::number(seconds, 1), Some("s")));
    }
    let mut actions = Vec::new();
    let mut material = Vec::new();
    for channel in channels.iter().filter(|c| c.verdict != Verdict::Fits) {
        let channel_name = name_of(&channel.channel);
        let mut fixes = Vec::new();
        for check in channel.checks.iter().filter(|c| c.status != Status::Pass) {
            let aspect = name_of(&check.aspect);
            let status = name_of(&check.status);
            figures.push(Figure::new(
                &format!("{channel_name}_{aspect}"),
                &format!("{}: {}", channel.label, check.rule),
                Value::text(format!("{status}: {}", check.measured)),
                None,
            ));
            if let Some(fix) = &check.fix {
                fixes.push(fix.clone());
            }
            material.push(format!("{channel_name}:{aspect}:{status}"));
        }
        if !fixes.is_empty() {
            actions.push(format!("For {}: {}.", channel.label, fixes.join("; ")));
        }
    }
    material.sort();
    let notes = channels.iter().map(|c| format!("{}: {}", c.label, name_of(&c.verdict).replace('_', " "))).collect();
    let subject = Subject::Video {
        id: video.id,
        file_name: video.file_name.clone(),
        product_id: video.product.as_ref().map(|(id, _)| *id),
    };
    Some(Recommendation {
        kind: Kind::VideoFitness,
        fingerprint: fingerprint(Kind::VideoFitness, &subject, &material),
        subject,
        title,
        action: actions.join(" "),
        evidence: Evidence {
            period: None,
            formula: "each channel's published recommendations checked against the probed container metadata; a \
                      channel needs fixes when any check fails"
                .to_owned(),
            figures,
            notes,
        },
        // No money to put on it: ranked after the findings that have an amount.
        score: 0,
        impact: None,
    })
}

#[cfg(test)]
mod tests {
    use super::{super::test_support::*, *};
    use crate::video::AudioTrack;

    fn probe(width: u32, height: u32, seconds: f64) -> VideoProbe {
        VideoProbe {
            container: "mp4".into(),
            duration_seconds: Some(seconds),
            width,
            height,
            display_width: width,
            display_height: height,
            rotation: 0,
            frame_rate: Some(30.0),
            video_codec: "h264".into(),
            video_profile: Some("High".into()),
            audio: Some(AudioTrack { codec: "aac".into(), channels: 2, sample_rate: 48_000 }),
            bitrate_bps: Some(4_000_000),
            fast_start: true,
            fragmented: false,
            size_bytes: 10_000_000,
        }
    }

    #[test]
    fn a_landscape_video_needs_fixes_for_vertical_feeds_and_says_which() {
        let context = context("2024-06-30");
        let video = VideoFacts {
            id: Uuid::new_v4(),
            file_name: "demo.mp4".into(),
            product: Some((Uuid::new_v4(), "Kettle".into())),
            probe: probe(1920, 1080, 30.0),
        };

        let advice = video_fitness(&context, &video).expect("advice");

        assert!(
            advice.title.starts_with("Video demo.mp4 (Kettle) needs fixes for Vertical short-form"),
            "{}",
            advice.title
        );
        assert!(advice.evidence.figure("short_form_aspect_ratio").is_some(), "{:#?}", advice.evidence.figures);
        assert!(advice.action.contains("9:16"), "{}", advice.action);
    }
}
