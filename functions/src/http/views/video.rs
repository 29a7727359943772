//! A video's probe and channel fitness as the API shows them.

use serde::Serialize;
use shared::video::{self, fitness, probe};
use utoipa::ToSchema;

use super::wire_enum;

wire_enum! {
    /// Where a video is in its life.
    pub enum VideoStatus mirrors video::VideoStatus {
        /// Created; the upload has not arrived yet.
        Pending,
        /// The upload arrived and is being probed.
        Analyzing,
        /// Probed: facts and fitness are available.
        Ready,
        /// The upload cannot be analysed; `failure_reason` says why.
        Failed,
    }
}

/// What a probe found out about a video.
#[derive(Debug, Serialize, ToSchema)]
pub struct VideoProbe {
    /// Container family: `mp4`, `mov`, `m4v`, `3gp`, `webm` or `matroska`.
    pub container: String,
    /// Length in seconds, when the container says (or its fragments add up to) it.
    pub duration_seconds: Option<f64>,
    /// Picture width in pixels as decoded, before the pixel aspect ratio and the rotation (ffprobe's `width`: for
    /// H.264 the SPS's cropped size, not the coded macroblock size).
    pub width: u32,
    /// Picture height in pixels as decoded (ffprobe's `height`: 1080, not the coded 1088).
    pub height: u32,
    /// Width as displayed: after the pixel aspect ratio and the rotation.
    pub display_width: u32,
    /// Height as displayed: after the pixel aspect ratio and the rotation.
    pub display_height: u32,
    /// Clockwise rotation applied on display, in degrees: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Average frames per second, when known.
    pub frame_rate: Option<f64>,
    /// The video codec, named as ffprobe names it (`h264`, `hevc`, `vp9`, `av1`, …).
    pub video_codec: String,
    /// The codec profile, where the container states it cheaply (`High`, `Main 10`, …).
    pub video_profile: Option<String>,
    /// The first audio track, or `None` for a silent video.
    pub audio: Option<AudioTrack>,
    /// Overall bitrate (file size over duration), bits per second.
    pub bitrate_bps: Option<u64>,
    /// Whether playback can start before the whole file has arrived (MP4: `moov` before `mdat`).
    pub fast_start: bool,
    /// A fragmented MP4 (`moof` fragments, as live and DASH packagers write).
    pub fragmented: bool,
    /// The file's size in bytes.
    pub size_bytes: u64,
}

impl From<probe::VideoProbe> for VideoProbe {
    fn from(probe: probe::VideoProbe) -> Self {
        Self {
            container: probe.container,
            duration_seconds: probe.duration_seconds,
            width: probe.width,
            height: probe.height,
            display_width: probe.display_width,
            display_height: probe.display_height,
            rotation: probe.rotation,
            frame_rate: probe.frame_rate,
            video_codec: probe.video_codec,
            video_profile: probe.video_profile,
            audio: probe.audio.map(AudioTrack::from),
            bitrate_bps: probe.bitrate_bps,
            fast_start: probe.fast_start,
            fragmented: probe.fragmented,
            size_bytes: probe.size_bytes,
        }
    }
}

/// The audio track of a video.
#[derive(Debug, Serialize, ToSchema)]
pub struct AudioTrack {
    /// The codec, named as ffprobe names it (`aac`, `opus`, …).
    pub codec: String,
    /// Channel count.
    pub channels: u16,
    /// Samples per second.
    pub sample_rate: u32,
}

impl From<probe::AudioTrack> for AudioTrack {
    fn from(track: probe::AudioTrack) -> Self {
        Self { codec: track.codec, channels: track.channels, sample_rate: track.sample_rate }
    }
}

wire_enum! {
    /// Where a video may be published.
    pub enum Channel mirrors fitness::Channel {
        /// Vertical short-form feeds: TikTok, Instagram Reels, YouTube Shorts.
        ShortForm,
        /// The video player on the store's own product page.
        ProductPage,
        /// A regular (landscape) YouTube upload.
        Youtube,
    }
}

wire_enum! {
    /// The outcome of one check.
    pub enum FitnessStatus mirrors fitness::Status {
        /// The rule is met.
        Pass,
        /// Usable, but below the recommendation.
        Warn,
        /// The channel rejects it or shows it badly: fix before publishing.
        Fail,
    }
}

wire_enum! {
    /// What a check looked at.
    pub enum FitnessAspect mirrors fitness::Aspect {
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
}

wire_enum! {
    /// A channel's overall verdict.
    pub enum Verdict mirrors fitness::Verdict {
        /// Every check passes.
        Fits,
        /// Publishable, with recommendations.
        FitsWithWarnings,
        /// At least one check fails.
        NeedsFixes,
    }
}

/// One rule applied to one video.
#[derive(Debug, Serialize, ToSchema)]
pub struct FitnessCheck {
    /// What was checked.
    pub aspect: FitnessAspect,
    /// The verdict.
    pub status: FitnessStatus,
    /// The rule, in words.
    pub rule: String,
    /// The measured value, in words.
    pub measured: String,
    /// What to change, when the status is not `pass`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl From<fitness::Check> for FitnessCheck {
    fn from(check: fitness::Check) -> Self {
        Self {
            aspect: check.aspect.into(),
            status: check.status.into(),
            rule: check.rule,
            measured: check.measured,
            fix: check.fix,
        }
    }
}

/// Fitness for one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelFitness {
    /// The channel.
    pub channel: Channel,
    /// Its name for people.
    pub label: &'static str,
    /// The overall verdict.
    pub verdict: Verdict,
    /// Each rule with its evidence.
    pub checks: Vec<FitnessCheck>,
}

impl From<fitness::ChannelFitness> for ChannelFitness {
    fn from(fitness: fitness::ChannelFitness) -> Self {
        Self {
            channel: fitness.channel.into(),
            label: fitness.label,
            verdict: fitness.verdict.into(),
            checks: fitness.checks.into_iter().map(FitnessCheck::from).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::views::wire_name;

    #[test]
    fn the_wire_names_are_the_stored_names() {
        for status in VideoStatus::ALL {
            assert_eq!(video::VideoStatus::from(*status).as_str(), wire_name(status));
        }
    }
}
