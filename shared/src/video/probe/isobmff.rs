//! ISO base media files (MP4, MOV, M4V, 3GP): find the top-level boxes by reading their headers, fetch `moov`, and
//! read the few boxes inside it that describe the tracks. Fragmented files keep their sample timing in `moof`
//! boxes, so for those the last fragment is read too.

use super::{AudioTrack, ProbeError, RangeSource, Reader, VideoProbe, cursor::Cursor, display_size, h264};

/// Top-level box types that may open an ISO base media file (QuickTime files may lack `ftyp`).
const OPENING_BOXES: [&[u8; 4]; 7] = [b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"];

/// The most top-level boxes walked before giving up on finding `moov`.
const MAX_TOP_LEVEL_BOXES: usize = 100_000;

pub(crate) fn sniff(head: &[u8]) -> bool {
    head.get(4..8).is_some_and(|kind| OPENING_BOXES.iter().any(|known| kind == *known))
}

/// A box's place in the file.
#[derive(Debug, Clone, Copy)]
struct Located {
    offset: u64,
    header: u64,
    /// The bytes the file holds of it: its stated size, or less when the file ends inside it.
    size: u64,
    /// The file ends before the box does.
    cut: bool,
}

impl Located {
    fn body(self) -> (u64, u64) {
        (self.offset + self.header, self.size - self.header)
    }
}

#[derive(Default)]
struct Layout {
    ftyp: Option<Located>,
    moov: Option<Located>,
    first_mdat: Option<u64>,
    last_moof: Option<Located>,
    moofs: u64,
    /// The walk stopped before the end (budget or a box running past the end of the file).
    incomplete: Option<String>,
}

pub(crate) async fn probe<S: RangeSource>(reader: &mut Reader<'_, S>) -> Result<VideoProbe, ProbeError<S::Error>> {
    let layout = walk_top_level(reader).await?;
    let Some(moov) = layout.moov else {
        let why = layout.incomplete.unwrap_or_else(|| "the file has no moov box".into());
        return Err(ProbeError::Corrupt(format!("no movie metadata (moov) found: {why}")));
    };
    let brand = match layout.ftyp {
        Some(ftyp) if ftyp.size >= ftyp.header + 4 => {
            let bytes = reader.read(ftyp.offset + ftyp.header, 4).await?;
            <[u8; 4]>::try_from(bytes.as_slice()).ok()
        }
        _ => None,
    };
    let (body_offset, body_size) = moov.body();
    if !reader.can_afford(body_size) && body_offset + body_size > reader.head_len() {
        return Err(ProbeError::Unsupported(format!(
            "its movie metadata (moov) is {body_size} bytes, over the probe's limit"
        )));
    }
    let body = reader.read(body_offset, body_size).await?;
    if moov.cut {
        refuse_a_cut_in_the_tracks(&body)?;
    }
    let movie =
        parse_moov(&body).ok_or_else(|| ProbeError::Corrupt("the movie metadata (moov) is malformed".into()))?;
    // Only the file's true last fragment gives its length: a walk cut short by the budget would under-report it.
    let fragment_end = match (movie.fragmented, layout.last_moof) {
        (true, Some(moof)) if layout.incomplete.is_none() && reader.can_read(moof.offset, moof.size) => {
            let (offset, size) = moof.body();
            parse_moof_end(&reader.read(offset, size).await?, &movie)
        }
        _ => None,
    };
    describe(&movie, &layout, brand, fragment_end)
}

impl<S: RangeSource> Reader<'_, S> {
    fn head_len(&self) -> u64 {
        self.head.len() as u64
    }
}

/// Walks the top-level boxes by their headers. Stops at the end of the file, at a box that runs past it, or when
/// `moov` and media have both been seen in a file that is not fragmented.
async fn walk_top_level<S: RangeSource>(reader: &mut Reader<'_, S>) -> Result<Layout, ProbeError<S::Error>> {
    let mut layout = Layout::default();
    let mut offset = 0u64;
    let size = reader.size();
    for _ in 0..MAX_TOP_LEVEL_BOXES {
        if offset >= size {
            return Ok(layout);
        }
        if size - offset < 8 {
            layout.incomplete = Some(format!("{} stray bytes at the end of the file", size - offset));
            return Ok(layout);
        }
        if offset >= reader.head_len() && !reader.can_afford(16) {
            layout.incomplete = Some("too many boxes to walk within the probe's limits".into());
            return Ok(layout);
        }
        let header = reader.read(offset, 16).await?;
        let mut cursor = Cursor::new(&header);
        let (Some(size32), Some(kind)) = (cursor.u32(), cursor.fourcc()) else {
            return Ok(layout);
        };
        let (header_length, box_size) = match size32 {
            0 => (8, size - offset),
            1 => match cursor.u64() {
                Some(large) => (16, large),
                None => {
                    layout.incomplete = Some("a 64-bit box size is cut off".into());
                    return Ok(layout);
                }
            },
            n => (8, u64::from(n)),
        };
        if box_size < header_length {
            return Err(ProbeError::Corrupt(format!(
                "box `{}` at offset {offset} has an impossible size {box_size}",
                String::from_utf8_lossy(&kind)
            )));
        }
        let located = Located { offset, header: header_length, size: box_size, cut: false };
        let end = offset.saturating_add(box_size);
        if end > size {
            layout.incomplete = Some(format!(
                "box `{}` at offset {offset} runs past the end of the file (the upload is truncated)",
                String::from_utf8_lossy(&kind)
            ));
            match &kind {
                // A truncated mdat still counts as media for the fast-start flag.
                b"mdat" => {
                    layout.first_mdat.get_or_insert(offset);
                }
                // What the file holds of a cut moov may still describe every track (see `refuse_a_cut_in_the_tracks`).
                b"moov" if layout.moov.is_none() && size - offset >= header_length => {
                    layout.moov = Some(Located { size: size - offset, cut: true, ..located });
                }
                _ => {}
            }
            return Ok(layout);
        }
        match &kind {
            b"ftyp" => layout.ftyp = layout.ftyp.or(Some(located)),
            b"moov" if layout.moov.is_none() => layout.moov = Some(located),
            b"mdat" => {
                layout.first_mdat.get_or_insert(offset);
            }
            b"moof" => {
                layout.moofs += 1;
                layout.last_moof = Some(located);
            }
            _ => {}
        }
        // Without fragments nothing after both moov and media matters.
        if layout.moov.is_some() && layout.first_mdat.is_some() && layout.moofs == 0 && !reader.may_fragment() {
            return Ok(layout);
        }
        offset = end;
    }
    layout.incomplete = Some("too many top-level boxes".into());
    Ok(layout)
}

impl<S: RangeSource> Reader<'_, S> {
    /// Whether walking on could find fragments: only when the moov seen so far (in the head) declares `mvex`.
    /// Without the moov in hand we walk on, which costs a few header reads at most.
    fn may_fragment(&self) -> bool {
        contains_fourcc(&self.head, b"mvex")
    }
}

fn contains_fourcc(haystack: &[u8], needle: &[u8; 4]) -> bool {
    haystack.windows(4).any(|window| window == needle)
}

/// Boxes a moov cannot lose: the movie header, the tracks, and the fragment defaults.
const VITAL_MOOV_CHILDREN: [&[u8; 4]; 3] = [b"mvhd", b"trak", b"mvex"];

/// A file that ends inside its `moov` is read as ffprobe reads it when the cut falls after the vital boxes (only
/// user data or padding lost), and refused when it falls inside one of them.
fn refuse_a_cut_in_the_tracks<E: std::error::Error>(moov_body: &[u8]) -> Result<(), ProbeError<E>> {
    let mut cursor = Cursor::new(moov_body);
    loop {
        // A header cut short names no box; what precedes it is complete.
        let (Some(size), Some(kind)) = (cursor.u32(), cursor.fourcc()) else { return Ok(()) };
        let body = match size {
            0 => return Ok(()), // runs to the end of the moov: nothing in it is cut from a stated size
            1 => cursor.u64().and_then(|large| large.checked_sub(16)),
            n => u64::from(n).checked_sub(8),
        };
        // An impossible size is left to the parser, which stops there and judges what it has.
        let Some(body) = body else { return Ok(()) };
        if usize::try_from(body).ok().and_then(|body| cursor.skip(body)).is_none() {
            if VITAL_MOOV_CHILDREN.iter().any(|vital| **vital == kind) {
                return Err(ProbeError::Corrupt(format!(
                    "the file ends inside its movie metadata (moov), in a `{}` box",
                    String::from_utf8_lossy(&kind)
                )));
            }
            return Ok(());
        }
    }
}

/// What `moov` says.
#[derive(Debug, Default)]
struct Movie {
    timescale: u32,
    duration: u64,
    fragmented: bool,
    /// `trex` default sample duration per track id.
    default_durations: Vec<(u32, u32)>,
    tracks: Vec<Track>,
}

#[derive(Debug, Default)]
struct Track {
    id: u32,
    handler: [u8; 4],
    timescale: u32,
    duration: u64,
    /// The display matrix's first row: `a`, `b` (16.16 fixed point).
    matrix: [i32; 2],
    entry: Option<SampleEntry>,
    sample_count: u64,
    sample_ticks: u64,
}

#[derive(Debug, Default)]
struct SampleEntry {
    fourcc: [u8; 4],
    width: u16,
    height: u16,
    /// The size the codec's own header states after cropping (H.264 SPS), which decoders show.
    picture_size: Option<(u32, u32)>,
    pixel_aspect: Option<(u32, u32)>,
    profile: Option<String>,
    channels: u16,
    sample_rate: u32,
    audio_object: Option<u8>,
}

/// Children of a box body: `(type, body)` pairs, stopping at the first malformed header.
fn children(body: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    let mut cursor = Cursor::new(body);
    std::iter::from_fn(move || {
        let size = cursor.u32()?;
        let kind = cursor.fourcc()?;
        let (header, size) = match size {
            0 => (8, (cursor.remaining() + 8) as u64),
            1 => (16, cursor.u64()?),
            n => (8, u64::from(n)),
        };
        let body_length = usize::try_from(size.checked_sub(header)?).ok()?;
        let child = cursor.take(body_length)?;
        Some((kind, child))
    })
}

fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(body).find(|(k, _)| k == kind).map(|(_, b)| b)
}

fn parse_moov(body: &[u8]) -> Option<Movie> {
    let mut movie = Movie::default();
    let mvhd = child(body, b"mvhd")?;
    let mut c = Cursor::new(mvhd);
    let version = c.u8()?;
    c.skip(3)?;
    if version == 1 {
        c.skip(16)?;
        movie.timescale = c.u32()?;
        movie.duration = c.u64()?;
    } else {
        c.skip(8)?;
        movie.timescale = c.u32()?;
        movie.duration = u64::from(c.u32()?);
    }
    for (kind, child_body) in children(body) {
        match &kind {
            b"trak" => {
                if let Some(track) = parse_trak(child_body) {
                    movie.tracks.push(track);
                }
            }
            b"mvex" => {
                movie.fragmented = true;
                // `mehd` is not read: see `describe` for why the fragments present decide the duration.
                for (_, trex) in children(child_body).filter(|(kind, _)| kind == b"trex") {
                    let mut c = Cursor::new(trex);
                    c.skip(4)?;
                    let track = c.u32()?;
                    c.skip(4)?;
                    movie.default_durations.push((track, c.u32()?));
                }
            }
            _ => {}
        }
    }
    Some(movie)
}

fn parse_trak(body: &[u8]) -> Option<Track> {
    let mut track = Track::default();
    let tkhd = child(body, b"tkhd")?;
    let mut c = Cursor::new(tkhd);
    let version = c.u8()?;
    c.skip(3)?;
    c.skip(if version == 1 { 16 } else { 8 })?;
    track.id = c.u32()?;
    // reserved, duration, reserved[2], layer, alternate group, volume, reserved
    c.skip(4 + if version == 1 { 8 } else { 4 } + 8 + 8)?;
    track.matrix = [c.i32()?, c.i32()?];

    let mdia = child(body, b"mdia")?;
    let mdhd = child(mdia, b"mdhd")?;
    let mut c = Cursor::new(mdhd);
    let version = c.u8()?;
    c.skip(3)?;
    if version == 1 {
        c.skip(16)?;
        track.timescale = c.u32()?;
        track.duration = c.u64()?;
    } else {
        c.skip(8)?;
        track.timescale = c.u32()?;
        track.duration = u64::from(c.u32()?);
    }
    let hdlr = child(mdia, b"hdlr")?;
    let mut c = Cursor::new(hdlr);
    c.skip(8)?;
    track.handler = c.fourcc()?;

    let stbl = child(mdia, b"minf").and_then(|minf| child(minf, b"stbl"));
    if let Some(stbl) = stbl {
        if let Some(stsd) = child(stbl, b"stsd") {
            let mut c = Cursor::new(stsd);
            c.skip(8)?;
            track.entry = children(c.rest()).next().and_then(|(fourcc, entry)| match &track.handler {
                b"vide" => parse_visual_entry(fourcc, entry),
                b"soun" => parse_audio_entry(fourcc, entry),
                _ => None,
            });
        }
        if let Some(stts) = child(stbl, b"stts") {
            let mut c = Cursor::new(stts);
            c.skip(4)?;
            let entries = c.u32()?;
            for _ in 0..entries {
                let (Some(count), Some(delta)) = (c.u32(), c.u32()) else { break };
                track.sample_count = track.sample_count.saturating_add(u64::from(count));
                track.sample_ticks = track.sample_ticks.saturating_add(u64::from(count) * u64::from(delta));
            }
        }
    }
    Some(track)
}

fn parse_visual_entry(fourcc: [u8; 4], entry: &[u8]) -> Option<SampleEntry> {
    let mut c = Cursor::new(entry);
    c.skip(24)?;
    let mut parsed = SampleEntry { fourcc, width: c.u16()?, height: c.u16()?, ..SampleEntry::default() };
    c.skip(50)?;
    for (kind, config) in children(c.rest()) {
        match &kind {
            b"pasp" => {
                let mut c = Cursor::new(config);
                parsed.pixel_aspect = Some((c.u32()?, c.u32()?));
            }
            b"avcC" => {
                parsed.profile = config.get(1..3).and_then(|b| avc_profile(b[0], b[1]));
                parsed.picture_size = h264::avcc_picture_size(config);
            }
            b"hvcC" => parsed.profile = config.get(1).and_then(|b| hevc_profile(b & 0x1F)),
            b"vpcC" => parsed.profile = config.get(4).map(|p| format!("Profile {p}")),
            b"av1C" => parsed.profile = config.get(1).and_then(|b| av1_profile(b >> 5)),
            _ => {}
        }
    }
    Some(parsed)
}

fn parse_audio_entry(fourcc: [u8; 4], entry: &[u8]) -> Option<SampleEntry> {
    let mut c = Cursor::new(entry);
    c.skip(8)?;
    let version = c.u16()?;
    c.skip(6)?;
    let mut channels = c.u16()?;
    c.skip(6)?;
    let mut sample_rate = c.u32()? >> 16;
    match version {
        1 => c.skip(16)?,
        2 => {
            c.skip(4)?;
            sample_rate = c.f64()?.round() as u32;
            channels = u16::try_from(c.u32()?).unwrap_or(u16::MAX);
            c.skip(20)?;
        }
        _ => {}
    }
    let mut parsed = SampleEntry { fourcc, channels, sample_rate, ..SampleEntry::default() };
    let rest = c.rest();
    // QuickTime nests esds in a `wave` box.
    let esds = child(rest, b"esds").or_else(|| child(rest, b"wave").and_then(|wave| child(wave, b"esds")));
    if let Some((object, config)) = esds.and_then(parse_esds) {
        parsed.audio_object = Some(object);
        if let Some((rate, channel_config)) = config.and_then(audio_specific_config) {
            parsed.sample_rate = rate;
            if channel_config > 0 {
                parsed.channels = channel_config;
            }
        }
    }
    Some(parsed)
}

/// `esds`: the decoder config's object type and its decoder-specific info, when present.
fn parse_esds(esds: &[u8]) -> Option<(u8, Option<&[u8]>)> {
    let mut c = Cursor::new(esds);
    c.skip(4)?;
    let (tag, mut es) = descriptor(&mut c)?;
    if tag != 3 {
        return None;
    }
    let id_and_flags = es.u16().and(es.u8())?;
    if id_and_flags & 0x80 != 0 {
        es.skip(2)?;
    }
    if id_and_flags & 0x40 != 0 {
        let length = es.u8()?;
        es.skip(usize::from(length))?;
    }
    if id_and_flags & 0x20 != 0 {
        es.skip(2)?;
    }
    let (tag, mut config) = descriptor(&mut es)?;
    if tag != 4 {
        return None;
    }
    let object = config.u8()?;
    config.skip(12)?;
    let specific = descriptor(&mut config).filter(|(tag, _)| *tag == 5).map(|(_, mut c)| c.rest());
    Some((object, specific))
}

/// One MPEG-4 descriptor: its tag and a cursor over its body.
fn descriptor<'a>(c: &mut Cursor<'a>) -> Option<(u8, Cursor<'a>)> {
    let tag = c.u8()?;
    let mut length = 0usize;
    for _ in 0..4 {
        let byte = c.u8()?;
        length = (length << 7) | usize::from(byte & 0x7F);
        if byte & 0x80 == 0 {
            break;
        }
    }
    Some((tag, Cursor::new(c.take(length)?)))
}

/// AAC AudioSpecificConfig: sample rate and channel configuration.
fn audio_specific_config(config: &[u8]) -> Option<(u32, u16)> {
    const RATES: [u32; 13] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];
    let bits = u32::from(u16::from_be_bytes([*config.first()?, *config.get(1)?]));
    let object = bits >> 11;
    if object == 31 {
        return None; // escaped object types: rare, keep the sample entry's values
    }
    let index = ((bits >> 7) & 0x0F) as usize;
    let channels = ((bits >> 3) & 0x0F) as u16;
    Some((*RATES.get(index)?, channels))
}

fn avc_profile(profile: u8, constraints: u8) -> Option<String> {
    let name = match profile {
        66 if constraints & 0x40 != 0 => "Constrained Baseline",
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4 Predictive",
        _ => return None,
    };
    Some(name.to_owned())
}

fn hevc_profile(profile: u8) -> Option<String> {
    let name = match profile {
        1 => "Main",
        2 => "Main 10",
        3 => "Main Still Picture",
        4 => "Rext",
        _ => return None,
    };
    Some(name.to_owned())
}

fn av1_profile(profile: u8) -> Option<String> {
    let name = match profile {
        0 => "Main",
        1 => "High",
        2 => "Professional",
        _ => return None,
    };
    Some(name.to_owned())
}

/// The end of the last fragment, per track: `(track id, base decode time + its samples' durations)`.
fn parse_moof_end(moof: &[u8], movie: &Movie) -> Option<Vec<(u32, u64, u64)>> {
    let mut ends = Vec::new();
    for (kind, traf) in children(moof) {
        if &kind != b"traf" {
            continue;
        }
        let tfhd = child(traf, b"tfhd")?;
        let mut c = Cursor::new(tfhd);
        let flags = c.u32()? & 0x00FF_FFFF;
        let track = c.u32()?;
        if flags & 0x01 != 0 {
            c.skip(8)?;
        }
        if flags & 0x02 != 0 {
            c.skip(4)?;
        }
        let default_duration = if flags & 0x08 != 0 {
            c.u32()?
        } else {
            movie.default_durations.iter().find(|(id, _)| *id == track).map_or(0, |(_, d)| *d)
        };
        let base = child(traf, b"tfdt").and_then(|tfdt| {
            let mut c = Cursor::new(tfdt);
            let version = c.u8()?;
            c.skip(3)?;
            if version == 1 { c.u64() } else { c.u32().map(u64::from) }
        });
        let mut ticks = 0u64;
        let mut samples = 0u64;
        for (kind, trun) in children(traf) {
            if &kind != b"trun" {
                continue;
            }
            let mut c = Cursor::new(trun);
            let flags = c.u32()? & 0x00FF_FFFF;
            let count = c.u32()?;
            samples = samples.saturating_add(u64::from(count));
            if flags & 0x01 != 0 {
                c.skip(4)?;
            }
            if flags & 0x04 != 0 {
                c.skip(4)?;
            }
            if flags & 0x100 == 0 {
                ticks = ticks.saturating_add(u64::from(count) * u64::from(default_duration));
                continue;
            }
            let per_sample = [0x100, 0x200, 0x400, 0x800].iter().filter(|bit| flags & **bit != 0).count() * 4;
            for _ in 0..count {
                let sample = c.take(per_sample)?;
                ticks = ticks.saturating_add(u64::from(u32::from_be_bytes(sample.get(..4)?.try_into().ok()?)));
            }
        }
        ends.push((track, base?.saturating_add(ticks), samples));
    }
    Some(ends)
}

fn describe<E: std::error::Error>(
    movie: &Movie,
    layout: &Layout,
    brand: Option<[u8; 4]>,
    fragment_end: Option<Vec<(u32, u64, u64)>>,
) -> Result<VideoProbe, ProbeError<E>> {
    let video = movie
        .tracks
        .iter()
        .find(|t| &t.handler == b"vide" && t.entry.is_some())
        .ok_or_else(|| ProbeError::Unsupported("the file has no video track".into()))?;
    let entry = video.entry.as_ref().ok_or_else(|| ProbeError::Unsupported("no video sample entry".into()))?;
    if entry.width == 0 || entry.height == 0 {
        return Err(ProbeError::Corrupt("the video track has no picture size".into()));
    }
    let seconds = |ticks: u64, timescale: u32| (timescale > 0).then(|| ticks as f64 / f64::from(timescale));
    let fragment_seconds = fragment_end.as_ref().and_then(|ends| {
        ends.iter()
            .filter_map(|(id, end, _)| {
                let track = movie.tracks.iter().find(|t| t.id == *id)?;
                seconds(*end, track.timescale)
            })
            .reduce(f64::max)
    });
    // A fragmented file's moov states the whole presentation (mvhd, mehd) as its packager planned it; a file that
    // holds only the first DASH segments claims far more than it has. Only the fragments present count (as for
    // ffprobe), and an unfinished walk gives no duration rather than a guess.
    let duration_seconds = if movie.fragmented && layout.moofs > 0 {
        fragment_seconds
    } else if movie.duration > 0 && movie.duration != u64::from(u32::MAX) && movie.duration != u64::MAX {
        seconds(movie.duration, movie.timescale)
    } else {
        None
    };
    let frame_rate = if video.sample_count > 0 && video.sample_ticks > 0 {
        Some(video.sample_count as f64 * f64::from(video.timescale) / video.sample_ticks as f64)
    } else {
        movie
            .default_durations
            .iter()
            .find(|(id, _)| *id == video.id)
            .and_then(|(_, d)| (*d > 0 && video.timescale > 0).then(|| f64::from(video.timescale) / f64::from(*d)))
    }
    .map(|fps| (fps * 1000.0).round() / 1000.0);
    let rotation = rotation_of(video.matrix);
    let (width, height) = entry.picture_size.unwrap_or((u32::from(entry.width), u32::from(entry.height)));
    let (display_width, display_height) = display_size(width, height, entry.pixel_aspect, rotation);
    let audio = movie.tracks.iter().find(|t| &t.handler == b"soun").and_then(|t| t.entry.as_ref()).map(|a| {
        AudioTrack { codec: audio_codec(a.fourcc, a.audio_object), channels: a.channels, sample_rate: a.sample_rate }
    });
    let fast_start = match layout.first_mdat {
        Some(mdat) => layout.moov.is_some_and(|moov| moov.offset < mdat),
        None => true,
    };
    Ok(VideoProbe {
        container: container_of(brand).to_owned(),
        duration_seconds,
        width,
        height,
        display_width,
        display_height,
        rotation,
        frame_rate,
        video_codec: video_codec(entry.fourcc),
        video_profile: entry.profile.clone(),
        audio,
        bitrate_bps: None,
        fast_start,
        fragmented: movie.fragmented || layout.moofs > 0,
        size_bytes: 0,
    })
}

/// Clockwise quarter turns from the display matrix's first row (`a` = cos θ, `b` = sin θ), as ffmpeg reads it.
fn rotation_of([a, b]: [i32; 2]) -> u16 {
    let degrees = f64::from(b).atan2(f64::from(a)).to_degrees();
    let quarter = (degrees / 90.0).round() as i64;
    (quarter.rem_euclid(4) * 90) as u16
}

fn container_of(brand: Option<[u8; 4]>) -> &'static str {
    match brand.as_ref() {
        Some(b"qt  ") | None => "mov",
        Some(b"M4V " | b"M4VH" | b"M4VP") => "m4v",
        Some([b'3', b'g', b'p' | b'2', _]) => "3gp",
        Some(_) => "mp4",
    }
}

fn video_codec(fourcc: [u8; 4]) -> String {
    let name = match &fourcc {
        b"avc1" | b"avc3" => "h264",
        b"hvc1" | b"hev1" => "hevc",
        b"vp09" => "vp9",
        b"vp08" => "vp8",
        b"av01" => "av1",
        b"mp4v" => "mpeg4",
        b"s263" | b"h263" => "h263",
        b"apch" | b"apcn" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => "prores",
        b"jpeg" | b"mjpa" => "mjpeg",
        _ => return fourcc_text(fourcc),
    };
    name.to_owned()
}

fn audio_codec(fourcc: [u8; 4], object: Option<u8>) -> String {
    let name = match (&fourcc, object) {
        (b"mp4a", Some(0x69 | 0x6B)) => "mp3",
        (b"mp4a", _) => "aac",
        (b"ac-3", _) => "ac3",
        (b"ec-3", _) => "eac3",
        (b"Opus", _) => "opus",
        (b"fLaC", _) => "flac",
        (b"samr", _) => "amr_nb",
        (b"sawb", _) => "amr_wb",
        (b"alac", _) => "alac",
        (b"sowt", _) => "pcm_s16le",
        (b"twos", _) => "pcm_s16be",
        (b".mp3", _) => "mp3",
        _ => return fourcc_text(fourcc),
    };
    name.to_owned()
}

fn fourcc_text(fourcc: [u8; 4]) -> String {
    fourcc.iter().map(|b| if b.is_ascii_graphic() { char::from(*b) } else { '?' }).collect::<String>().trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matrices_map_to_clockwise_quarter_turns() {
        let one = 0x10000;
        assert_eq!(rotation_of([one, 0]), 0);
        assert_eq!(rotation_of([0, one]), 90);
        assert_eq!(rotation_of([-one, 0]), 180);
        assert_eq!(rotation_of([0, -one]), 270);
        assert_eq!(rotation_of([0, 0]), 0, "a degenerate matrix counts as upright");
    }

    #[test]
    fn children_stop_at_a_box_that_claims_more_than_its_parent_holds() {
        let body = [0, 0, 0, 12, b'f', b'r', b'e', b'e', 1, 2, 3, 4, 0, 0, 0, 99, b'm', b'd', b'a', b't', 0];
        let kinds: Vec<[u8; 4]> = children(&body).map(|(k, _)| k).collect();
        assert_eq!(kinds, [*b"free"]);
    }
}
