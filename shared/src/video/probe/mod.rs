//! Reads a video's container metadata with a few ranged reads instead of downloading the file: for MP4 the `moov`
//! box (a few KB, at the front or at the end), for Matroska the `Info` and `Tracks` elements near the start. Media
//! data is never read, so a 2 GB upload costs kilobytes.
//!
//! The probe does no I/O itself: it asks a [`RangeSource`] for byte ranges (the blob store in production, a slice in
//! tests and in the fuzz target). It is written for hostile input: every read is bounds-checked, loops advance on
//! every step, nesting is fixed, and the bytes and requests it may spend are capped by [`ProbeLimits`], so a
//! malicious file can cost at most that much and ends as [`ProbeError::Corrupt`] or [`ProbeError::Unsupported`].
//!
//! Why hand-written parsers: the crates checked (`mp4` 0.14, `mp4parse` 0.17, `re_mp4`, `matroska-demuxer`,
//! `webm-iterable`) parse from a `Read`/`Read + Seek` over the whole stream or a whole in-memory file and decide for
//! themselves what to read; we need the opposite (we choose which ranges to fetch, under a byte budget, and only
//! the few boxes that matter). `mp4parse` (Firefox's, MPL-2.0, fuzzed) came closest, but it fails a whole file on
//! sample entries it does not know (HEVC in the released version), which would fail ordinary iPhone uploads.

use std::future::Future;

use serde::{Deserialize, Serialize};

mod cursor;
mod h264;
mod isobmff;
mod matroska;

/// What a probe found out about a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// The audio track of a video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioTrack {
    /// The codec, named as ffprobe names it (`aac`, `opus`, …).
    pub codec: String,
    /// Channel count.
    pub channels: u16,
    /// Samples per second.
    pub sample_rate: u32,
}

/// Where the probe's bytes come from.
pub trait RangeSource: Sync {
    /// Why a read failed (an I/O or storage error, passed through untouched).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Up to `length` bytes from `offset`; fewer only at the end of the data.
    fn read_range(&self, offset: u64, length: u64) -> impl Future<Output = Result<Vec<u8>, Self::Error>> + Send;
}

/// An in-memory source: tests, the fuzz target, and files already in memory.
#[derive(Debug, Clone, Copy)]
pub struct SliceSource<'a>(pub &'a [u8]);

impl RangeSource for SliceSource<'_> {
    type Error = std::convert::Infallible;

    async fn read_range(&self, offset: u64, length: u64) -> Result<Vec<u8>, Self::Error> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.0.len());
        let end = start.saturating_add(usize::try_from(length).unwrap_or(usize::MAX)).min(self.0.len());
        Ok(self.0[start..end].to_vec())
    }
}

/// How much a probe may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeLimits {
    /// Bytes read in total (metadata boxes included). A `moov` larger than this fails the probe.
    pub max_bytes: u64,
    /// Range requests in total (a fragmented file needs one or two per fragment to find its end).
    pub max_requests: u32,
}

impl Default for ProbeLimits {
    /// 1 MiB covers the `moov` of a product video many minutes long; 256 requests bound the latency.
    fn default() -> Self {
        Self { max_bytes: 1024 * 1024, max_requests: 256 }
    }
}

/// Why a probe gave no result.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError<E: std::error::Error + 'static> {
    /// The file is not a container we read, or has no video track: retrying cannot help.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The file claims to be a container we read but is broken or cut short: retrying cannot help.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// Reading the file failed; a retry may succeed.
    #[error("reading the file failed")]
    Source(#[source] E),
}

impl<E: std::error::Error + 'static> ProbeError<E> {
    /// The reason to show for a file that cannot be analysed, or `None` for a read failure worth retrying.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Unsupported(_) | Self::Corrupt(_) => Some(self.to_string()),
            Self::Source(_) => None,
        }
    }
}

/// The probe's outcome with what it cost.
#[derive(Debug)]
pub struct ProbeReport<E: std::error::Error + 'static> {
    /// The facts, or why there are none.
    pub result: Result<VideoProbe, ProbeError<E>>,
    /// Bytes read from the source.
    pub bytes_read: u64,
    /// Range requests made.
    pub requests: u32,
}

/// Probes a file of `size` bytes.
pub async fn probe<S: RangeSource>(source: &S, size: u64, limits: ProbeLimits) -> ProbeReport<S::Error> {
    let mut reader = Reader { source, size, limits, bytes_read: 0, requests: 0, head: Vec::new() };
    let result = probe_with(&mut reader).await;
    ProbeReport { result, bytes_read: reader.bytes_read, requests: reader.requests }
}

/// The first read: enough for the signature, and usually the whole metadata of a fast-start file.
const HEAD_BYTES: u64 = 64 * 1024;

async fn probe_with<S: RangeSource>(reader: &mut Reader<'_, S>) -> Result<VideoProbe, ProbeError<S::Error>> {
    if reader.size == 0 {
        return Err(ProbeError::Corrupt("the file is empty".into()));
    }
    let head_length = reader.size.min(HEAD_BYTES);
    reader.head = reader.read(0, head_length).await?;
    if reader.head.len() as u64 != head_length {
        return Err(ProbeError::Corrupt("the file is shorter than its stated size".into()));
    }
    let mut probe = if matroska::sniff(&reader.head) {
        matroska::probe(reader).await?
    } else if isobmff::sniff(&reader.head) {
        isobmff::probe(reader).await?
    } else {
        return Err(ProbeError::Unsupported("not an MP4, MOV, 3GP, WebM or Matroska file".into()));
    };
    probe.size_bytes = reader.size;
    probe.bitrate_bps =
        probe.duration_seconds.filter(|d| *d > 0.0).map(|d| ((reader.size as f64 * 8.0) / d).round() as u64);
    Ok(probe)
}

/// Ranged reads under the probe's budget, serving what the first read already holds from memory.
pub(crate) struct Reader<'s, S> {
    source: &'s S,
    size: u64,
    limits: ProbeLimits,
    bytes_read: u64,
    requests: u32,
    head: Vec<u8>,
}

impl<S: RangeSource> Reader<'_, S> {
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Bytes `[offset, offset + length)`, clipped to the file's end.
    pub(crate) async fn read(&mut self, offset: u64, length: u64) -> Result<Vec<u8>, ProbeError<S::Error>> {
        let length = length.min(self.size.saturating_sub(offset));
        let head_end = self.head.len() as u64;
        if offset.saturating_add(length) <= head_end {
            // Both bounds are within `head`, whose length fits in usize.
            return Ok(self.head[offset as usize..(offset + length) as usize].to_vec());
        }
        if self.bytes_read.saturating_add(length) > self.limits.max_bytes {
            return Err(ProbeError::Unsupported(format!(
                "its metadata needs more than {} bytes to read, over the probe's limit",
                self.limits.max_bytes
            )));
        }
        if self.requests >= self.limits.max_requests {
            return Err(ProbeError::Unsupported(format!(
                "its metadata needs more than {} reads, over the probe's limit",
                self.limits.max_requests
            )));
        }
        self.requests += 1;
        let bytes = self.source.read_range(offset, length).await.map_err(ProbeError::Source)?;
        self.bytes_read += bytes.len() as u64;
        if (bytes.len() as u64) < length {
            return Err(ProbeError::Corrupt("the file ended early while reading its metadata".into()));
        }
        Ok(bytes)
    }

    /// Whether `[offset, offset + length)` can be had: already in memory, or within the budget.
    pub(crate) fn can_read(&self, offset: u64, length: u64) -> bool {
        offset.saturating_add(length) <= self.head.len() as u64 || self.can_afford(length)
    }

    /// Whether another read of `length` bytes fits the budget.
    pub(crate) fn can_afford(&self, length: u64) -> bool {
        self.requests < self.limits.max_requests && self.bytes_read.saturating_add(length) <= self.limits.max_bytes
    }
}

/// Display size: the pixel aspect ratio stretches the width, a quarter turn swaps the sides.
pub(crate) fn display_size(width: u32, height: u32, pixel_aspect: Option<(u32, u32)>, rotation: u16) -> (u32, u32) {
    let width = match pixel_aspect {
        Some((h, v)) if h > 0 && v > 0 && h != v => ((f64::from(width) * f64::from(h)) / f64::from(v)).round() as u32,
        _ => width,
    };
    if rotation % 180 == 90 { (height, width) } else { (width, height) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> ProbeReport<std::convert::Infallible> {
        futures_lite_block_on(probe(&SliceSource(bytes), bytes.len() as u64, ProbeLimits::default()))
    }

    /// Drives a future whose source never waits (a slice).
    fn futures_lite_block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
        }
    }

    #[test]
    fn empty_and_unknown_files_fail_with_a_reason() {
        let cases: [(&[u8], &str); 3] = [
            (b"", "corrupt: the file is empty"),
            (b"hello, this is text", "unsupported: not an MP4, MOV, 3GP, WebM or Matroska file"),
            (b"\x00\x00\x00\x08ftyp", "corrupt"),
        ];
        for (bytes, expected) in cases {
            let error = run(bytes).result.expect_err("must fail");
            assert!(error.to_string().starts_with(expected), "{bytes:?}: {error}");
            assert!(error.reason().is_some());
        }
    }

    #[test]
    fn display_size_applies_the_pixel_aspect_then_the_rotation() {
        assert_eq!(display_size(480, 270, Some((4, 3)), 0), (640, 270));
        assert_eq!(display_size(480, 270, None, 90), (270, 480));
        assert_eq!(display_size(480, 270, Some((1, 1)), 180), (480, 270));
    }
}
