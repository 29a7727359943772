//! The picture size an H.264 stream displays, read from its sequence parameter set (SPS).
//!
//! Why: H.264 codes whole 16×16 macroblocks, so 1080p is coded as 1088 rows and the SPS crops 8 of them. Muxers
//! differ on which size they write into the MP4 sample entry; decoders (and ffprobe) show the SPS's cropped size.

/// The cropped picture size stated by the first SPS of an `avcC` (AVCDecoderConfigurationRecord), or `None` when
/// the record holds no SPS or the SPS cannot be read (the caller keeps the sample entry's size then).
pub(crate) fn avcc_picture_size(avcc: &[u8]) -> Option<(u32, u32)> {
    // version, profile, compatibility, level, length size; then the SPS count in the low 5 bits.
    let sps_count = avcc.get(5)? & 0x1F;
    if sps_count == 0 {
        return None;
    }
    let length = usize::from(u16::from_be_bytes([*avcc.get(6)?, *avcc.get(7)?]));
    let nal = avcc.get(8..8usize.checked_add(length)?)?;
    // The NAL header: forbidden bit, reference idc, type 7 = sequence parameter set.
    if nal.first()? & 0x1F != 7 {
        return None;
    }
    sps_picture_size(&without_emulation_prevention(&nal[1..]))
}

/// The RBSP of a NAL unit: every `00 00 03` loses its `03`, which the encoder inserted so that the payload never
/// looks like a start code.
fn without_emulation_prevention(payload: &[u8]) -> Vec<u8> {
    let mut rbsp = Vec::with_capacity(payload.len());
    let mut zeros = 0;
    for &byte in payload {
        if zeros >= 2 && byte == 3 {
            zeros = 0;
            continue;
        }
        zeros = if byte == 0 { zeros + 1 } else { 0 };
        rbsp.push(byte);
    }
    rbsp
}

/// Profiles whose SPS carries the chroma format, bit depths and scaling matrices (H.264 7.3.2.1.1).
const HIGH_PROFILES: [u8; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

/// Width and height after `frame_cropping`, from an SPS RBSP (after the NAL header byte).
fn sps_picture_size(rbsp: &[u8]) -> Option<(u32, u32)> {
    let mut bits = Bits::new(rbsp);
    let profile = u8::try_from(bits.fixed(8)?).ok()?;
    bits.fixed(16)?; // constraint flags and level
    bits.ue()?; // seq_parameter_set_id
    let mut chroma_format = 1;
    let mut separate_colour_planes = false;
    if HIGH_PROFILES.contains(&profile) {
        chroma_format = bits.ue()?;
        if chroma_format == 3 {
            separate_colour_planes = bits.flag()?;
        }
        bits.ue()?; // bit_depth_luma_minus8
        bits.ue()?; // bit_depth_chroma_minus8
        bits.flag()?; // qpprime_y_zero_transform_bypass_flag
        if bits.flag()? {
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for list in 0..lists {
                if bits.flag()? {
                    skip_scaling_list(&mut bits, if list < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    bits.ue()?; // log2_max_frame_num_minus4
    match bits.ue()? {
        0 => {
            bits.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            bits.flag()?; // delta_pic_order_always_zero_flag
            bits.se()?; // offset_for_non_ref_pic
            bits.se()?; // offset_for_top_to_bottom_field
            for _ in 0..bits.ue()? {
                bits.se()?; // offset_for_ref_frame
            }
        }
        _ => {}
    }
    bits.ue()?; // max_num_ref_frames
    bits.flag()?; // gaps_in_frame_num_value_allowed_flag
    let width_in_macroblocks = bits.ue()?.checked_add(1)?;
    let height_in_map_units = bits.ue()?.checked_add(1)?;
    let frames_only = bits.flag()?;
    if !frames_only {
        bits.flag()?; // mb_adaptive_frame_field_flag
    }
    bits.flag()?; // direct_8x8_inference_flag
    let field_factor = if frames_only { 1 } else { 2 };
    let width = width_in_macroblocks.checked_mul(16)?;
    let height = height_in_map_units.checked_mul(16)?.checked_mul(field_factor)?;
    if !bits.flag()? {
        return Some((width, height));
    }
    let [left, right, top, bottom] = [bits.ue()?, bits.ue()?, bits.ue()?, bits.ue()?];
    // Crop offsets count chroma samples (and field pairs of rows when interlaced): H.264 equations 7-19 to 7-22.
    let chroma_array_type = if separate_colour_planes { 0 } else { chroma_format };
    let (unit_x, unit_y) = match chroma_array_type {
        0 => (1, field_factor),
        1 => (2, 2 * field_factor),
        2 => (2, field_factor),
        3 => (1, field_factor),
        _ => return None,
    };
    let cropped_width = width.checked_sub(left.checked_add(right)?.checked_mul(unit_x)?)?;
    let cropped_height = height.checked_sub(top.checked_add(bottom)?.checked_mul(unit_y)?)?;
    (cropped_width > 0 && cropped_height > 0).then_some((cropped_width, cropped_height))
}

/// `scaling_list()`: only read past, its values do not affect the picture size.
fn skip_scaling_list(bits: &mut Bits<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            next = (last + bits.se()? + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

/// A most-significant-bit-first reader with Exp-Golomb codes; every read past the end gives `None`.
struct Bits<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, position: 0 }
    }

    fn flag(&mut self) -> Option<bool> {
        let byte = self.data.get(self.position / 8)?;
        let bit = (byte >> (7 - self.position % 8)) & 1;
        self.position += 1;
        Some(bit == 1)
    }

    /// `u(n)` for n ≤ 32.
    fn fixed(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |value, _| Some((value << 1) | u32::from(self.flag()?)))
    }

    /// `ue(v)`: a run of zeros, a one, then as many bits again. Values need at most 32 bits (H.264 7.2).
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while !self.flag()? {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let suffix = self.fixed(zeros)?;
        u32::try_from((1u64 << zeros) - 1 + u64::from(suffix)).ok()
    }

    /// `se(v)`: the unsigned code mapped to 0, 1, −1, 2, −2, …
    fn se(&mut self) -> Option<i64> {
        let code = i64::from(self.ue()?);
        Some(if code % 2 == 1 { (code + 1) / 2 } else { -(code / 2) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The avcC of x264's 1920×1080 High profile encode (`sps-cropped-1080p.mp4`): coded 1088 rows, 8 cropped.
    const AVCC_1080P: &str = "01640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801";

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex")).collect()
    }

    #[test]
    fn a_1080p_sps_crops_the_coded_1088_rows_to_1080() {
        assert_eq!(avcc_picture_size(&hex(AVCC_1080P)), Some((1920, 1080)));
    }

    #[test]
    fn emulation_prevention_bytes_are_removed_before_parsing() {
        assert_eq!(without_emulation_prevention(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3]), [0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(without_emulation_prevention(&[0, 3, 0, 0, 0, 3]), [0, 3, 0, 0, 0]);
    }

    #[test]
    fn exp_golomb_codes_decode_to_their_values() {
        // 1 | 010 | 011 | 00100 | 00101 → ue 0, 1, 2, 3 and then se of code 4 = −2.
        let data = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut bits = Bits::new(&data);
        assert_eq!([bits.ue(), bits.ue(), bits.ue(), bits.ue()], [Some(0), Some(1), Some(2), Some(3)]);
        assert_eq!(bits.se(), Some(-2));
        assert_eq!(Bits::new(&[0, 0, 0, 0, 0]).ue(), None, "a run of 32+ zeros is no valid code");
    }

    #[test]
    fn unreadable_records_give_no_size_instead_of_a_wrong_one() {
        let full = hex(AVCC_1080P);
        let cases: [(&[u8], &str); 4] = [
            (&[], "empty record"),
            (&full[..6], "SPS length missing"),
            (&full[..14], "SPS cut short before the picture size"),
            (&[1, 0x64, 0, 0x28, 0xFF, 0xE0], "no SPS in the record"),
        ];
        for (record, why) in cases {
            assert_eq!(avcc_picture_size(record), None, "{why}");
        }
        let mut not_sps = full.clone();
        not_sps[8] = 0x68; // a picture parameter set's NAL header
        assert_eq!(avcc_picture_size(&not_sps), None, "the first NAL is not an SPS");
    }
}
