//! Channel fitness: for each place a merchant may publish a product video, which rules a probed video meets and what
//! to change where it does not. Each check states its rule and the measured value, so the advice carries its own
//! evidence. Pure: a [`VideoProbe`] in, verdicts out.
//!
//! The thresholds are the platforms' published recommendations (vertical 9:16 at 1080×1920 for TikTok, Reels and
//! Shorts, Shorts and Reels up to 3 minutes; YouTube's 16:9 at 720p or more) and web-playback practice for product
//! pages (H.264 or VP9/AV1, `moov` first, a few Mbit/s).

use serde::Serialize;

use super::VideoProbe;

/// Where a video may be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Vertical short-form feeds: TikTok, Instagram Reels, YouTube Shorts.
    ShortForm,
    /// The video player on the store's own product page.
    ProductPage,
    /// A regular (landscape) YouTube upload.
    Youtube,
}

impl Channel {
    /// Every channel, in report order.
    pub const ALL: [Self; 3] = [Self::ShortForm, Self::ProductPage, Self::Youtube];

    fn label(self) -> &'static str {
        match self {
            Self::ShortForm => "Vertical short-form (TikTok, Instagram Reels, YouTube Shorts)",
            Self::ProductPage => "Product page video",
            Self::Youtube => "YouTube (landscape)",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The rule is met.
    Pass,
    /// Usable, but below the recommendation.
    Warn,
    /// The channel rejects it or shows it badly: fix before publishing.
    Fail,
}

/// What a check looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    /// Display width over height.
    AspectRatio,
    /// Length.
    Duration,
    /// Display size.
    Resolution,
    /// An audio track.
    Audio,
    /// Metadata before media, so web playback starts at once.
    FastStart,
    /// Codec support in browsers.
    Codec,
    /// Bits per second, which sets the page's load.
    Bitrate,
}

/// One rule applied to one video.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// What was checked.
    pub aspect: Aspect,
    /// The verdict.
    pub status: Status,
    /// The rule, in words.
    pub rule: String,
    /// The measured value, in words.
    pub measured: String,
    /// What to change, when the status is not `pass`.
    pub fix: Option<String>,
}

/// A channel's overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passes.
    Fits,
    /// Publishable, with recommendations.
    FitsWithWarnings,
    /// At least one check fails.
    NeedsFixes,
}

/// Fitness for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelFitness {
    /// The channel.
    pub channel: Channel,
    /// Its name for people.
    pub label: &'static str,
    /// The overall verdict.
    pub verdict: Verdict,
    /// Each rule with its evidence.
    pub checks: Vec<Check>,
}

/// Fitness for every channel.
pub fn assess(video: &VideoProbe) -> Vec<ChannelFitness> {
    Channel::ALL.iter().map(|channel| assess_for(video, *channel)).collect()
}

/// Fitness for one channel.
pub fn assess_for(video: &VideoProbe, channel: Channel) -> ChannelFitness {
    let checks = match channel {
        Channel::ShortForm => vec![
            aspect_ratio(video, 9.0 / 16.0, "9:16 (portrait)", "crop or pad to 9:16 portrait, e.g. 1080×1920"),
            duration(video, 3.0, 60.0, 180.0, "between 3 and 60 s (Shorts and Reels accept up to 3 minutes)"),
            resolution(video, (1080, 1920), (720, 1280)),
            audio(video, Status::Fail, "sound-on feeds expect an audio track"),
        ],
        Channel::ProductPage => vec![
            fast_start(video),
            web_codec(video),
            duration(video, 1.0, 60.0, 120.0, "between 1 and 60 s (shoppers watch short clips on product pages)"),
            resolution_long_side(video, 1080, 720),
            bitrate(video, 5_000_000, 8_000_000),
        ],
        Channel::Youtube => vec![
            aspect_ratio(
                video,
                16.0 / 9.0,
                "16:9 (landscape)",
                "export at 16:9, e.g. 1920×1080; other shapes get bars",
            ),
            duration(video, 1.0, 15.0 * 60.0, 12.0 * 3600.0, "up to 15 minutes (longer needs a verified account)"),
            resolution(video, (1920, 1080), (1280, 720)),
            audio(video, Status::Warn, "viewers expect sound on YouTube"),
        ],
    };
    let verdict = if checks.iter().any(|c| c.status == Status::Fail) {
        Verdict::NeedsFixes
    } else if checks.iter().any(|c| c.status == Status::Warn) {
        Verdict::FitsWithWarnings
    } else {
        Verdict::Fits
    };
    ChannelFitness { channel, label: channel.label(), verdict, checks }
}

/// How far a ratio may stray from the target and still count as that shape (1080×1918 is still 9:16).
const RATIO_TOLERANCE: f64 = 0.02;

fn ratio(video: &VideoProbe) -> f64 {
    f64::from(video.display_width) / f64::from(video.display_height.max(1))
}

fn check(aspect: Aspect, status: Status, rule: String, measured: String, fix: &str) -> Check {
    let fix = (status != Status::Pass).then(|| fix.to_owned());
    Check { aspect, status, rule, measured, fix }
}

fn aspect_ratio(video: &VideoProbe, target: f64, shape: &str, fix: &str) -> Check {
    let actual = ratio(video);
    let off = (actual / target - 1.0).abs();
    let same_orientation = (actual < 1.0) == (target < 1.0);
    let status = if off <= RATIO_TOLERANCE {
        Status::Pass
    } else if same_orientation {
        Status::Warn
    } else {
        Status::Fail
    };
    check(
        Aspect::AspectRatio,
        status,
        format!("display aspect ratio {shape}, {target:.4} ± {:.0}%", RATIO_TOLERANCE * 100.0),
        format!("{}×{} displayed, ratio {actual:.4}", video.display_width, video.display_height),
        fix,
    )
}

fn duration(video: &VideoProbe, min: f64, ideal_max: f64, hard_max: f64, rule: &str) -> Check {
    let Some(seconds) = video.duration_seconds else {
        return check(
            Aspect::Duration,
            Status::Warn,
            rule.to_owned(),
            "unknown".into(),
            "re-export with a duration in the container",
        );
    };
    let (status, fix) = if seconds < min {
        (Status::Fail, format!("make it at least {min:.0} s long"))
    } else if seconds <= ideal_max {
        (Status::Pass, String::new())
    } else if seconds <= hard_max {
        (Status::Warn, format!("trim to {ideal_max:.0} s or less"))
    } else {
        (Status::Fail, format!("trim to {ideal_max:.0} s or less (the limit is {hard_max:.0} s)"))
    };
    check(Aspect::Duration, status, rule.to_owned(), format!("{seconds:.2} s"), &fix)
}

/// Short side and long side against the recommended and minimum sizes, in either orientation.
fn resolution(video: &VideoProbe, recommended: (u32, u32), minimum: (u32, u32)) -> Check {
    let short = video.display_width.min(video.display_height);
    let (rec_short, min_short) = (recommended.0.min(recommended.1), minimum.0.min(minimum.1));
    let status = if short >= rec_short {
        Status::Pass
    } else if short >= min_short {
        Status::Warn
    } else {
        Status::Fail
    };
    check(
        Aspect::Resolution,
        status,
        format!(
            "at least {}×{} (minimum {}×{}): short side ≥ {rec_short} px",
            recommended.0, recommended.1, minimum.0, minimum.1
        ),
        format!("{}×{}, short side {short} px", video.display_width, video.display_height),
        &format!("export at {}×{} from a source of at least that size", recommended.0, recommended.1),
    )
}

fn resolution_long_side(video: &VideoProbe, recommended: u32, minimum: u32) -> Check {
    let long = video.display_width.max(video.display_height);
    let status = if long >= recommended {
        Status::Pass
    } else if long >= minimum {
        Status::Warn
    } else {
        Status::Fail
    };
    check(
        Aspect::Resolution,
        status,
        format!("long side ≥ {recommended} px (minimum {minimum} px) to stay sharp on large screens"),
        format!("{}×{}, long side {long} px", video.display_width, video.display_height),
        &format!("export with a long side of {recommended} px"),
    )
}

fn audio(video: &VideoProbe, when_missing: Status, why: &str) -> Check {
    let (status, measured) = match &video.audio {
        Some(audio) => {
            (Status::Pass, format!("{} audio, {} channel(s), {} Hz", audio.codec, audio.channels, audio.sample_rate))
        }
        None => (when_missing, "no audio track".to_owned()),
    };
    check(Aspect::Audio, status, format!("an audio track: {why}"), measured, "add music or a voice-over")
}

fn fast_start(video: &VideoProbe) -> Check {
    let progressive = video.fast_start || video.fragmented;
    let measured = match (video.fast_start, video.fragmented) {
        (_, true) => "fragmented: plays as fragments arrive",
        (true, false) => "metadata before media",
        (false, false) => "metadata after media: the browser must fetch the end of the file first",
    };
    check(
        Aspect::FastStart,
        if progressive { Status::Pass } else { Status::Fail },
        "metadata (moov) before media so playback starts at once".into(),
        measured.into(),
        "remux with the metadata first, e.g. `ffmpeg -i in.mp4 -c copy -movflags +faststart out.mp4`",
    )
}

fn web_codec(video: &VideoProbe) -> Check {
    let codec = video.video_codec.as_str();
    let status = match codec {
        "h264" | "vp9" | "av1" | "vp8" => Status::Pass,
        "hevc" => Status::Warn,
        _ => Status::Fail,
    };
    check(
        Aspect::Codec,
        status,
        "a codec every browser plays: H.264 (MP4), VP9 or AV1 (WebM); HEVC plays only in some".into(),
        format!("{codec} in {}", video.container),
        "transcode to H.264 in MP4, e.g. `ffmpeg -i in.mov -c:v libx264 -c:a aac -movflags +faststart out.mp4`",
    )
}

fn bitrate(video: &VideoProbe, recommended: u64, maximum: u64) -> Check {
    let rule = format!("at most {:.1} Mbit/s (limit {:.1}) so the page loads fast", mbps(recommended), mbps(maximum));
    let Some(bps) = video.bitrate_bps else {
        return check(
            Aspect::Bitrate,
            Status::Warn,
            rule,
            "unknown".into(),
            "re-export with a duration in the container",
        );
    };
    let status = if bps <= recommended {
        Status::Pass
    } else if bps <= maximum {
        Status::Warn
    } else {
        Status::Fail
    };
    check(
        Aspect::Bitrate,
        status,
        rule,
        format!("{:.2} Mbit/s", mbps(bps)),
        &format!("re-encode at about {:.0} Mbit/s", mbps(recommended)),
    )
}

fn mbps(bps: u64) -> f64 {
    bps as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::AudioTrack;

    fn video(width: u32, height: u32, seconds: f64) -> VideoProbe {
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

    fn status(fitness: &ChannelFitness, aspect: Aspect) -> Status {
        fitness.checks.iter().find(|c| c.aspect == aspect).map(|c| c.status).expect("checked")
    }

    #[test]
    fn a_vertical_full_hd_clip_with_sound_fits_short_form_but_not_youtube() {
        let clip = video(1080, 1920, 30.0);

        let short = assess_for(&clip, Channel::ShortForm);
        let youtube = assess_for(&clip, Channel::Youtube);

        assert_eq!(short.verdict, Verdict::Fits, "{short:#?}");
        assert_eq!(youtube.verdict, Verdict::NeedsFixes);
        let aspect = youtube.checks.iter().find(|c| c.aspect == Aspect::AspectRatio).expect("aspect");
        assert_eq!(aspect.status, Status::Fail);
        assert_eq!(aspect.measured, "1080×1920 displayed, ratio 0.5625");
        assert!(aspect.rule.contains("16:9") && aspect.fix.is_some());
    }

    #[test]
    fn each_rule_states_its_thresholds_with_known_answers() {
        let table: [(VideoProbe, Channel, Aspect, Status, &str); 10] = [
            (video(1080, 1920, 2.0), Channel::ShortForm, Aspect::Duration, Status::Fail, "too short for a feed"),
            (video(1080, 1920, 60.0), Channel::ShortForm, Aspect::Duration, Status::Pass, "60 s is the ideal limit"),
            (video(1080, 1920, 90.0), Channel::ShortForm, Aspect::Duration, Status::Warn, "accepted, not ideal"),
            (video(1080, 1920, 181.0), Channel::ShortForm, Aspect::Duration, Status::Fail, "over 3 minutes"),
            (video(1080, 1350, 20.0), Channel::ShortForm, Aspect::AspectRatio, Status::Warn, "4:5 is portrait"),
            (video(720, 1280, 20.0), Channel::ShortForm, Aspect::Resolution, Status::Warn, "720p is the minimum"),
            (video(360, 640, 20.0), Channel::ShortForm, Aspect::Resolution, Status::Fail, "below 720p"),
            (video(1920, 1080, 20.0), Channel::Youtube, Aspect::AspectRatio, Status::Pass, "16:9"),
            (video(960, 540, 20.0), Channel::ProductPage, Aspect::Resolution, Status::Warn, "long side 960"),
            (video(640, 360, 20.0), Channel::ProductPage, Aspect::Resolution, Status::Fail, "long side 640"),
        ];
        for (clip, channel, aspect, expected, why) in table {
            assert_eq!(status(&assess_for(&clip, channel), aspect), expected, "{why}");
        }
    }

    #[test]
    fn the_product_page_needs_fast_start_a_web_codec_and_a_moderate_bitrate() {
        let mut clip = video(1920, 1080, 20.0);
        clip.fast_start = false;
        clip.video_codec = "hevc".into();
        clip.bitrate_bps = Some(9_000_000);

        let page = assess_for(&clip, Channel::ProductPage);

        assert_eq!(page.verdict, Verdict::NeedsFixes);
        assert_eq!(status(&page, Aspect::FastStart), Status::Fail);
        assert_eq!(status(&page, Aspect::Codec), Status::Warn);
        assert_eq!(status(&page, Aspect::Bitrate), Status::Fail);
        let bitrate = page.checks.iter().find(|c| c.aspect == Aspect::Bitrate).expect("bitrate");
        assert_eq!(bitrate.measured, "9.00 Mbit/s");
        clip.fragmented = true;
        assert_eq!(
            status(&assess_for(&clip, Channel::ProductPage), Aspect::FastStart),
            Status::Pass,
            "fragments stream"
        );
    }

    #[test]
    fn a_silent_video_fails_short_form_and_only_warns_on_youtube() {
        let mut clip = video(1920, 1080, 20.0);
        clip.audio = None;
        assert_eq!(status(&assess_for(&clip, Channel::ShortForm), Aspect::Audio), Status::Fail);
        assert_eq!(status(&assess_for(&clip, Channel::Youtube), Aspect::Audio), Status::Warn);
        let page = assess_for(&clip, Channel::ProductPage);
        assert!(page.checks.iter().all(|c| c.aspect != Aspect::Audio), "pages autoplay muted");
    }

    #[test]
    fn a_passing_check_has_no_fix_and_every_other_one_has() {
        for fitness in assess(&video(1280, 720, 200.0)) {
            for c in &fitness.checks {
                assert_eq!(c.fix.is_some(), c.status != Status::Pass, "{c:?}");
            }
        }
    }
}
