//! Product videos: what an upload may be ([`UploadFormat`]), what its container says ([`probe`]), and where it fits
//! ([`fitness`]). No I/O here: the probe reads through a [`probe::RangeSource`] the caller provides.

use std::fmt;

pub mod fitness;
pub mod probe;

pub use probe::{AudioTrack, VideoProbe};

/// The blob container videos are uploaded to (the `VideoUploaded` trigger's `path` names the same one; a test checks).
pub const VIDEOS_CONTAINER: &str = "videos";

/// The blob name of a video within [`VIDEOS_CONTAINER`]: `<organization>/<video>.<ext>`, matching the trigger's
/// `videos/{tenant}/{video}` path.
pub fn blob_name(organization: uuid::Uuid, video: uuid::Uuid, format: UploadFormat) -> String {
    format!("{organization}/{video}.{}", format.extension())
}

/// The organization and video a blob name belongs to: the inverse of [`blob_name`], for the trigger's captures.
pub fn parse_blob_name(tenant: &str, file: &str) -> Option<(uuid::Uuid, uuid::Uuid, UploadFormat)> {
    let (stem, extension) = file.rsplit_once('.')?;
    Some((tenant.parse().ok()?, stem.parse().ok()?, UploadFormat::from_extension(extension)?))
}

/// Where a video is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoStatus {
    /// Created; the upload has not arrived yet.
    Pending,
    /// The upload arrived and is being probed.
    Analyzing,
    /// Probed: facts and fitness are available.
    Ready,
    /// The upload cannot be analysed; `failure_reason` says why.
    Failed,
}

impl VideoStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Analyzing => "analyzing",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "analyzing" => Some(Self::Analyzing),
            "ready" => Some(Self::Ready),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for VideoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The media types an upload may declare, with the extension its blob gets.
const FORMATS: [(&str, &str); 6] = [
    ("video/mp4", "mp4"),
    ("video/quicktime", "mov"),
    ("video/x-m4v", "m4v"),
    ("video/3gpp", "3gp"),
    ("video/webm", "webm"),
    ("video/x-matroska", "mkv"),
];

/// A supported upload: its media type and the blob's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadFormat {
    content_type: &'static str,
    extension: &'static str,
}

impl UploadFormat {
    /// Parses a declared media type (parameters such as `codecs=` are ignored, case is not significant).
    pub fn parse(content_type: &str) -> Result<Self, String> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        FORMATS
            .iter()
            .find(|(known, _)| *known == essence)
            .map(|(content_type, extension)| Self { content_type, extension })
            .ok_or_else(|| {
                let known: Vec<&str> = FORMATS.iter().map(|(t, _)| *t).collect();
                format!("unsupported video type; expected one of {}", known.join(", "))
            })
    }

    /// The canonical media type.
    pub fn content_type(self) -> &'static str {
        self.content_type
    }

    /// The blob's extension.
    pub fn extension(self) -> &'static str {
        self.extension
    }

    /// The format a blob extension stands for.
    pub fn from_extension(extension: &str) -> Option<Self> {
        let extension = extension.to_ascii_lowercase();
        FORMATS
            .iter()
            .find(|(_, known)| *known == extension)
            .map(|(content_type, extension)| Self { content_type, extension })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_formats_accept_video_types_with_parameters_and_refuse_others() {
        let mp4 = UploadFormat::parse("Video/MP4; codecs=\"avc1.64001F\"").expect("mp4");
        assert_eq!((mp4.content_type(), mp4.extension()), ("video/mp4", "mp4"));
        assert_eq!(UploadFormat::parse("video/quicktime").map(UploadFormat::extension), Ok("mov"));
        for refused in ["image/png", "video/avi", "", "application/octet-stream"] {
            assert!(UploadFormat::parse(refused).is_err(), "{refused}");
        }
        assert_eq!(UploadFormat::from_extension("WEBM").map(UploadFormat::content_type), Some("video/webm"));
    }

    #[test]
    fn blob_names_round_trip_and_refuse_strangers() {
        let (organization, video) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let format = UploadFormat::parse("video/quicktime").expect("mov");
        let name = blob_name(organization, video, format);
        let (tenant, file) = name.split_once('/').expect("two segments");
        assert_eq!(parse_blob_name(tenant, file), Some((organization, video, format)));
        assert_eq!(parse_blob_name("t-42", "clip.mp4"), None, "not ours");
        assert_eq!(parse_blob_name(tenant, &format!("{video}.exe")), None, "unknown extension");
    }
}
