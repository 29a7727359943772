//! Matroska and WebM: the EBML header names the document type; inside the Segment, `Info` holds the duration and
//! `Tracks` the codecs and picture sizes. Muxers write both before the first Cluster, so the first read usually
//! holds them; otherwise the SeekHead says where they are, and sized Clusters can be stepped over.

use super::{AudioTrack, ProbeError, RangeSource, Reader, VideoProbe, cursor::Cursor, display_size};

const EBML: u32 = 0x1A45_DFA3;
const DOC_TYPE: u32 = 0x4282;
const SEGMENT: u32 = 0x1853_8067;
const SEEK_HEAD: u32 = 0x114D_9B74;
const SEEK: u32 = 0x4DBB;
const SEEK_ID: u32 = 0x53AB;
const SEEK_POSITION: u32 = 0x53AC;
const INFO: u32 = 0x1549_A966;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
const DURATION: u32 = 0x4489;
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_TYPE: u32 = 0x83;
const CODEC_ID: u32 = 0x86;
const DEFAULT_DURATION: u32 = 0x23_E383;
const VIDEO: u32 = 0xE0;
const PIXEL_WIDTH: u32 = 0xB0;
const PIXEL_HEIGHT: u32 = 0xBA;
const DISPLAY_WIDTH: u32 = 0x54B0;
const DISPLAY_HEIGHT: u32 = 0x54BA;
const DISPLAY_UNIT: u32 = 0x54B2;
const PROJECTION: u32 = 0x7670;
const PROJECTION_POSE_ROLL: u32 = 0x7675;
const AUDIO: u32 = 0xE1;
const SAMPLING_FREQUENCY: u32 = 0xB5;
const CHANNELS: u32 = 0x9F;
const CLUSTER: u32 = 0x1F43_B675;

/// Segment children walked before giving up.
const MAX_SEGMENT_CHILDREN: usize = 10_000;
/// Header bytes to fetch for one element: a 4-byte id and an 8-byte size at most.
const HEADER_BYTES: u64 = 12;

pub(crate) fn sniff(head: &[u8]) -> bool {
    head.starts_with(&EBML.to_be_bytes())
}

/// An element's id, and its size (`None`: unknown, as live muxers write it).
fn element_header(c: &mut Cursor<'_>) -> Option<(u32, Option<u64>)> {
    let first = c.u8()?;
    let length = first.leading_zeros() as usize + 1;
    if length > 4 {
        return None;
    }
    let mut id = u32::from(first);
    for _ in 1..length {
        id = (id << 8) | u32::from(c.u8()?);
    }
    let first = c.u8()?;
    let length = first.leading_zeros() as usize + 1;
    if length > 8 {
        return None;
    }
    let mut size = u64::from(first) & (0xFF >> length);
    let mut all_ones = size == (0xFF >> length);
    for _ in 1..length {
        let byte = c.u8()?;
        all_ones &= byte == 0xFF;
        size = (size << 8) | u64::from(byte);
    }
    Some((id, (!all_ones).then_some(size)))
}

/// Children of an element body: `(id, body)`, stopping at the first malformed or oversized one.
fn children(body: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    let mut cursor = Cursor::new(body);
    std::iter::from_fn(move || {
        let (id, size) = element_header(&mut cursor)?;
        let child = cursor.take(usize::try_from(size?).ok()?)?;
        Some((id, child))
    })
}

fn uint(body: &[u8]) -> Option<u64> {
    (body.len() <= 8).then(|| body.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b)))
}

fn float(body: &[u8]) -> Option<f64> {
    match body.len() {
        4 => Some(f64::from(f32::from_be_bytes(body.try_into().ok()?))),
        8 => Some(f64::from_be_bytes(body.try_into().ok()?)),
        _ => None,
    }
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).trim_end_matches('\0').to_owned()
}

pub(crate) async fn probe<S: RangeSource>(reader: &mut Reader<'_, S>) -> Result<VideoProbe, ProbeError<S::Error>> {
    let head = reader.read(0, reader.size().min(64)).await?;
    let mut c = Cursor::new(&head);
    let (_, Some(header_size)) = element_header(&mut c).ok_or_else(|| corrupt("the EBML header is malformed"))? else {
        return Err(corrupt("the EBML header has no size"));
    };
    let header_start = c.position() as u64;
    let header = reader.read(header_start, header_size.min(1024)).await?;
    let doc_type = children(&header).find(|(id, _)| *id == DOC_TYPE).map(|(_, b)| text(b));
    let container = match doc_type.as_deref() {
        Some("webm") => "webm",
        Some("matroska") | None => "matroska",
        Some(other) => return Err(ProbeError::Unsupported(format!("EBML document type `{other}` is not Matroska"))),
    };

    let segment_offset = header_start + header_size;
    let bytes = reader.read(segment_offset, HEADER_BYTES).await?;
    let mut c = Cursor::new(&bytes);
    let (id, segment_size) = element_header(&mut c).ok_or_else(|| corrupt("no Segment after the EBML header"))?;
    if id != SEGMENT {
        return Err(corrupt("no Segment after the EBML header"));
    }
    let segment_start = segment_offset + c.position() as u64;
    let segment_end = segment_size.map_or(reader.size(), |s| segment_start.saturating_add(s).min(reader.size()));

    let mut info: Option<Vec<u8>> = None;
    let mut tracks: Option<Vec<u8>> = None;
    let mut cluster_seen_before_tracks = false;
    let mut seek_targets: Vec<(u32, u64)> = Vec::new();
    let mut offset = segment_start;
    let mut visited = 0usize;
    while offset < segment_end && (info.is_none() || tracks.is_none()) {
        visited += 1;
        if visited > MAX_SEGMENT_CHILDREN {
            break;
        }
        let bytes = reader.read(offset, HEADER_BYTES).await?;
        let mut c = Cursor::new(&bytes);
        let Some((id, size)) = element_header(&mut c) else { break };
        let body_start = offset + c.position() as u64;
        match (id, size) {
            (INFO | TRACKS | SEEK_HEAD, Some(size)) => {
                let body = reader.read(body_start, size).await?;
                match id {
                    INFO => info = Some(body),
                    TRACKS => tracks = Some(body),
                    _ => seek_targets.extend(seek_entries(&body)),
                }
            }
            (CLUSTER, _) => {
                cluster_seen_before_tracks |= tracks.is_none();
                // Jump to whatever the SeekHead promises after this point, else step over the cluster.
                let next = seek_targets
                    .iter()
                    .filter(|(target, _)| {
                        (*target == INFO && info.is_none()) || (*target == TRACKS && tracks.is_none())
                    })
                    .map(|(_, position)| segment_start.saturating_add(*position))
                    .find(|position| *position > offset);
                match (next, size) {
                    (Some(position), _) => {
                        offset = position;
                        continue;
                    }
                    (None, Some(_)) => {}
                    (None, None) => break,
                }
            }
            (_, None) => return Err(corrupt("an element of unknown size where only clusters may have one")),
            _ => {}
        }
        let Some(size) = size else { break };
        offset = body_start.saturating_add(size);
    }
    let tracks = tracks.ok_or_else(|| corrupt("no Tracks element found"))?;
    describe(container, info.as_deref(), &tracks, !cluster_seen_before_tracks)
}

fn corrupt<E: std::error::Error>(why: &str) -> ProbeError<E> {
    ProbeError::Corrupt(format!("Matroska: {why}"))
}

/// `(element id, position within the segment)` for each SeekHead entry.
fn seek_entries(body: &[u8]) -> Vec<(u32, u64)> {
    children(body)
        .filter(|(id, _)| *id == SEEK)
        .filter_map(|(_, seek)| {
            let id = children(seek).find(|(id, _)| *id == SEEK_ID).and_then(|(_, b)| uint(b))?;
            let position = children(seek).find(|(id, _)| *id == SEEK_POSITION).and_then(|(_, b)| uint(b))?;
            Some((u32::try_from(id).ok()?, position))
        })
        .collect()
}

#[derive(Default)]
struct Entry {
    kind: u64,
    codec: String,
    default_duration: Option<u64>,
    width: u64,
    height: u64,
    display: Option<(u64, u64)>,
    roll: Option<f64>,
    channels: u64,
    sample_rate: Option<f64>,
}

fn parse_entry(body: &[u8]) -> Entry {
    let mut entry = Entry { channels: 1, ..Entry::default() };
    let mut display_unit = 0;
    let (mut display_width, mut display_height) = (None, None);
    for (id, value) in children(body) {
        match id {
            TRACK_TYPE => entry.kind = uint(value).unwrap_or(0),
            CODEC_ID => entry.codec = text(value),
            DEFAULT_DURATION => entry.default_duration = uint(value),
            VIDEO => {
                for (id, value) in children(value) {
                    match id {
                        PIXEL_WIDTH => entry.width = uint(value).unwrap_or(0),
                        PIXEL_HEIGHT => entry.height = uint(value).unwrap_or(0),
                        DISPLAY_WIDTH => display_width = uint(value),
                        DISPLAY_HEIGHT => display_height = uint(value),
                        DISPLAY_UNIT => display_unit = uint(value).unwrap_or(0),
                        PROJECTION => {
                            entry.roll =
                                children(value).find(|(id, _)| *id == PROJECTION_POSE_ROLL).and_then(|(_, b)| float(b));
                        }
                        _ => {}
                    }
                }
            }
            AUDIO => {
                for (id, value) in children(value) {
                    match id {
                        SAMPLING_FREQUENCY => entry.sample_rate = float(value),
                        CHANNELS => entry.channels = uint(value).unwrap_or(1),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if display_unit == 0 {
        entry.display = display_width.zip(display_height);
    }
    entry
}

fn describe<E: std::error::Error>(
    container: &str,
    info: Option<&[u8]>,
    tracks: &[u8],
    fast_start: bool,
) -> Result<VideoProbe, ProbeError<E>> {
    let entries: Vec<Entry> =
        children(tracks).filter(|(id, _)| *id == TRACK_ENTRY).map(|(_, body)| parse_entry(body)).collect();
    let video = entries
        .iter()
        .find(|e| e.kind == 1)
        .ok_or_else(|| ProbeError::Unsupported("the file has no video track".into()))?;
    let (width, height) = (u32::try_from(video.width).unwrap_or(0), u32::try_from(video.height).unwrap_or(0));
    if width == 0 || height == 0 {
        return Err(corrupt("the video track has no picture size"));
    }
    let duration_seconds = info.and_then(|info| {
        let scale =
            children(info).find(|(id, _)| *id == TIMESTAMP_SCALE).and_then(|(_, b)| uint(b)).unwrap_or(1_000_000);
        let duration = children(info).find(|(id, _)| *id == DURATION).and_then(|(_, b)| float(b))?;
        let seconds = duration * scale as f64 / 1e9;
        (seconds.is_finite() && seconds >= 0.0).then_some(seconds)
    });
    // Roll is counter-clockwise in the Matroska spec; the probe reports clockwise turns.
    let rotation = video.roll.filter(|r| r.is_finite()).map_or(0, |roll| {
        let quarter = (-roll / 90.0).round() as i64;
        (quarter.rem_euclid(4) * 90) as u16
    });
    // DisplayWidth/Height give the aspect ratio; keep the coded height, as ffprobe does.
    let pixel_aspect = video.display.and_then(|(dw, dh)| {
        let numerator = u32::try_from(dw.checked_mul(video.height)?).ok()?;
        let denominator = u32::try_from(dh.checked_mul(video.width)?).ok()?;
        Some((numerator, denominator))
    });
    let (display_width, display_height) = display_size(width, height, pixel_aspect, rotation);
    let audio = entries.iter().find(|e| e.kind == 2).map(|a| AudioTrack {
        codec: audio_codec(&a.codec),
        channels: u16::try_from(a.channels).unwrap_or(u16::MAX),
        sample_rate: a.sample_rate.filter(|r| r.is_finite() && *r > 0.0).map_or(0, |r| r.round() as u32),
    });
    let frame_rate =
        video.default_duration.filter(|d| *d > 0).map(|nanos| (1e9 / nanos as f64 * 1000.0).round() / 1000.0);
    Ok(VideoProbe {
        container: container.to_owned(),
        duration_seconds,
        width,
        height,
        display_width,
        display_height,
        rotation,
        frame_rate,
        video_codec: video_codec(&video.codec),
        video_profile: None,
        audio,
        bitrate_bps: None,
        fast_start,
        fragmented: false,
        size_bytes: 0,
    })
}

fn video_codec(id: &str) -> String {
    let name = match id {
        "V_VP8" => "vp8",
        "V_VP9" => "vp9",
        "V_AV1" => "av1",
        "V_MPEG4/ISO/AVC" => "h264",
        "V_MPEGH/ISO/HEVC" => "hevc",
        "V_MPEG4/ISO/SP" | "V_MPEG4/ISO/ASP" | "V_MPEG4/ISO/AP" => "mpeg4",
        "V_MPEG1" => "mpeg1video",
        "V_MPEG2" => "mpeg2video",
        "V_THEORA" => "theora",
        "V_PRORES" => "prores",
        other => return other.to_owned(),
    };
    name.to_owned()
}

fn audio_codec(id: &str) -> String {
    let name = match id {
        "A_OPUS" => "opus",
        "A_VORBIS" => "vorbis",
        "A_MPEG/L3" => "mp3",
        "A_AC3" => "ac3",
        "A_EAC3" => "eac3",
        "A_FLAC" => "flac",
        "A_PCM/INT/LIT" => "pcm_s16le",
        id if id.starts_with("A_AAC") => "aac",
        other => return other.to_owned(),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_headers_read_ids_sizes_and_unknown_sizes() {
        let mut c = Cursor::new(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]);
        assert_eq!(element_header(&mut c), Some((EBML, Some(0x1F))));
        let mut c = Cursor::new(&[0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(element_header(&mut c), Some((SEGMENT, None)), "all ones means unknown");
        let mut c = Cursor::new(&[0x00, 0x81]);
        assert_eq!(element_header(&mut c), None, "an id longer than four bytes is malformed");
    }
}
