//! The little of fMP4 a resumed encode needs: where a fragment's decode time ends, and moving a
//! fragment along the timeline. ffmpeg's mp4 muxer starts every run's first fragment at decode
//! time 0 (its offset goes into the init segment's edit list, which a resumed movie keeps from
//! its first run), so the fragments of a resumed run are shifted to continue where the
//! published ones stop.

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Fmp4Error {
    #[error("malformed fMP4: {0}")]
    Malformed(&'static str),
}

type Result<T> = std::result::Result<T, Fmp4Error>;

/// One box: its type, where its body starts and where it ends.
struct Box4 {
    kind: [u8; 4],
    body: usize,
    end: usize,
}

fn read_u32(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or(Fmp4Error::Malformed("truncated field"))
}

fn read_u64(b: &[u8], at: usize) -> Result<u64> {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_be_bytes)
        .ok_or(Fmp4Error::Malformed("truncated field"))
}

/// The boxes directly inside `b[start..end]`.
fn children(b: &[u8], start: usize, end: usize) -> Result<Vec<Box4>> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        let size = read_u32(b, at)? as usize;
        let kind: [u8; 4] = b[at + 4..at + 8]
            .try_into()
            .map_err(|_| Fmp4Error::Malformed("box type"))?;
        let (body, total) = match size {
            1 => (at + 16, read_u64(b, at + 8)? as usize),
            0 => (at + 8, end - at),
            n => (at + 8, n),
        };
        if total < body - at || at.checked_add(total).is_none_or(|e| e > end) {
            return Err(Fmp4Error::Malformed("box size"));
        }
        out.push(Box4 {
            kind,
            body,
            end: at + total,
        });
        at += total;
    }
    Ok(out)
}

fn find<'a>(boxes: &'a [Box4], kind: &[u8; 4]) -> impl Iterator<Item = &'a Box4> {
    boxes.iter().filter(move |x| &x.kind == kind)
}

/// The first track's timescale, from an init segment's `mdhd`.
pub fn timescale(init: &[u8]) -> Result<u32> {
    let top = children(init, 0, init.len())?;
    let moov = find(&top, b"moov")
        .next()
        .ok_or(Fmp4Error::Malformed("no moov"))?;
    let moov_children = children(init, moov.body, moov.end)?;
    let trak = find(&moov_children, b"trak")
        .next()
        .ok_or(Fmp4Error::Malformed("no trak"))?;
    let trak_children = children(init, trak.body, trak.end)?;
    let mdia = find(&trak_children, b"mdia")
        .next()
        .ok_or(Fmp4Error::Malformed("no mdia"))?;
    let mdia_children = children(init, mdia.body, mdia.end)?;
    let mdhd = find(&mdia_children, b"mdhd")
        .next()
        .ok_or(Fmp4Error::Malformed("no mdhd"))?;
    // version 0: created(4) modified(4) timescale; version 1: created(8) modified(8) timescale.
    let offset = if init.get(mdhd.body) == Some(&1) {
        20
    } else {
        12
    };
    read_u32(init, mdhd.body + 4 + offset - 4)
}

/// The box at the end of a path of first children (`moov/trak/mdia/...`).
fn descend(b: &[u8], path: &[&[u8; 4]]) -> Option<Box4> {
    let (mut start, mut end) = (0, b.len());
    let mut found = None;
    for kind in path {
        let boxes = children(b, start, end).ok()?;
        let next = boxes.into_iter().find(|x| &x.kind == *kind)?;
        (start, end) = (next.body, next.end);
        found = Some(next);
    }
    found
}

/// The RFC 6381 codec string of an init segment's first sample entry, from its decoder
/// configuration record (`avc1.64001f`, `hvc1.2.4.L150.B0`, `av01.0.12M.10`): what the master's
/// CODECS must say for players to pick the rows they can decode. `None` for anything else.
pub fn codecs(init: &[u8]) -> Option<String> {
    let stsd = descend(
        init,
        &[b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"],
    )?;
    // stsd: version/flags(4) entry_count(4), then the sample entries.
    let entry = children(init, stsd.body + 8, stsd.end)
        .ok()?
        .into_iter()
        .next()?;
    // A visual sample entry's own fields take 78 bytes before its child boxes.
    let inner = children(init, entry.body + 78, entry.end).ok()?;
    let config = |kind: &[u8; 4]| {
        inner
            .iter()
            .find(|x| &x.kind == kind)
            .and_then(|x| init.get(x.body..x.end))
    };
    let fourcc = std::str::from_utf8(&entry.kind).ok()?;
    match &entry.kind {
        b"avc1" | b"avc3" => {
            let c = config(b"avcC")?;
            Some(format!(
                "{fourcc}.{:02x}{:02x}{:02x}",
                c.get(1)?,
                c.get(2)?,
                c.get(3)?
            ))
        }
        b"hvc1" | b"hev1" => hevc_codecs(fourcc, config(b"hvcC")?),
        b"av01" => {
            let c = config(b"av1C")?;
            let (b1, b2) = (*c.get(1)?, *c.get(2)?);
            let (profile, level) = (b1 >> 5, b1 & 0x1f);
            let tier = if b2 & 0x80 != 0 { 'H' } else { 'M' };
            let depth = match (b2 & 0x40 != 0, b2 & 0x20 != 0) {
                (true, true) => 12,
                (true, false) => 10,
                _ => 8,
            };
            Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}"))
        }
        _ => None,
    }
}

/// ISO/IEC 14496-15 Annex E: profile space and idc, the compatibility flags bit-reversed in
/// hex, tier and level, then the constraint bytes without the trailing zero ones.
fn hevc_codecs(fourcc: &str, c: &[u8]) -> Option<String> {
    let b1 = *c.get(1)?;
    let space = ["", "A", "B", "C"][usize::from(b1 >> 6)];
    let tier = if b1 & 0x20 != 0 { 'H' } else { 'L' };
    let profile = b1 & 0x1f;
    let compat = u32::from_be_bytes(c.get(2..6)?.try_into().ok()?).reverse_bits();
    let constraints = c.get(6..12)?;
    let level = c.get(12)?;
    let mut out = format!("{fourcc}.{space}{profile}.{compat:X}.{tier}{level}");
    let used = constraints
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |i| i + 1);
    for b in &constraints[..used] {
        out.push_str(&format!(".{b:X}"));
    }
    Some(out)
}

/// `trex` default sample duration from an init segment (for fragments that name none).
fn trex_default_duration(init: &[u8]) -> Option<u32> {
    let top = children(init, 0, init.len()).ok()?;
    let moov = find(&top, b"moov").next()?;
    let moov_children = children(init, moov.body, moov.end).ok()?;
    let mvex = find(&moov_children, b"mvex").next()?;
    let mvex_children = children(init, mvex.body, mvex.end).ok()?;
    let trex = find(&mvex_children, b"trex").next()?;
    // version/flags(4) track_ID(4) default_sample_description_index(4) default_sample_duration
    read_u32(init, trex.body + 12).ok()
}

/// Decode time (in the track's timescale) at which a media segment ends: its last fragment's
/// `tfdt` plus the durations of that fragment's samples.
pub fn end_ticks(init: &[u8], segment: &[u8]) -> Result<u64> {
    let fallback = trex_default_duration(init);
    let top = children(segment, 0, segment.len())?;
    let mut end = None;
    for moof in find(&top, b"moof") {
        let moof_children = children(segment, moof.body, moof.end)?;
        for traf in find(&moof_children, b"traf") {
            let parts = children(segment, traf.body, traf.end)?;
            let tfdt = find(&parts, b"tfdt")
                .next()
                .ok_or(Fmp4Error::Malformed("no tfdt"))?;
            let base = if segment.get(tfdt.body) == Some(&1) {
                read_u64(segment, tfdt.body + 4)?
            } else {
                u64::from(read_u32(segment, tfdt.body + 4)?)
            };
            let tfhd = find(&parts, b"tfhd")
                .next()
                .ok_or(Fmp4Error::Malformed("no tfhd"))?;
            let tfhd_flags = read_u32(segment, tfhd.body)? & 0x00ff_ffff;
            // Optional tfhd fields after track_ID, in this order.
            let mut at = tfhd.body + 8;
            if tfhd_flags & 0x01 != 0 {
                at += 8;
            }
            if tfhd_flags & 0x02 != 0 {
                at += 4;
            }
            let default_duration = if tfhd_flags & 0x08 != 0 {
                Some(read_u32(segment, at)?)
            } else {
                fallback
            };
            let mut total: u64 = 0;
            for trun in find(&parts, b"trun") {
                let flags = read_u32(segment, trun.body)? & 0x00ff_ffff;
                let count = read_u32(segment, trun.body + 4)? as usize;
                let mut at = trun.body + 8;
                if flags & 0x01 != 0 {
                    at += 4; // data offset
                }
                if flags & 0x04 != 0 {
                    at += 4; // first sample flags
                }
                let per_sample = [0x100, 0x200, 0x400, 0x800]
                    .iter()
                    .filter(|f| flags & **f != 0)
                    .count()
                    * 4;
                for i in 0..count {
                    let duration = if flags & 0x100 != 0 {
                        read_u32(segment, at + i * per_sample)?
                    } else {
                        default_duration.ok_or(Fmp4Error::Malformed("no sample duration"))?
                    };
                    total += u64::from(duration);
                }
            }
            end = Some(base + total);
        }
    }
    end.ok_or(Fmp4Error::Malformed("no fragment"))
}

/// Moves every fragment of a media segment `delta` ticks later on the decode timeline and
/// `sequence_delta` further in fragment numbering, in place.
pub fn shift(segment: &mut [u8], delta: u64, sequence_delta: u32) -> Result<()> {
    let top = children(segment, 0, segment.len())?;
    for moof in find(&top, b"moof") {
        let moof_children = children(segment, moof.body, moof.end)?;
        for mfhd in find(&moof_children, b"mfhd") {
            let seq = read_u32(segment, mfhd.body + 4)?.wrapping_add(sequence_delta);
            segment[mfhd.body + 4..mfhd.body + 8].copy_from_slice(&seq.to_be_bytes());
        }
        for traf in find(&moof_children, b"traf") {
            let parts = children(segment, traf.body, traf.end)?;
            let tfdt = find(&parts, b"tfdt")
                .next()
                .ok_or(Fmp4Error::Malformed("no tfdt"))?;
            if segment.get(tfdt.body) == Some(&1) {
                let value = read_u64(segment, tfdt.body + 4)? + delta;
                segment[tfdt.body + 4..tfdt.body + 12].copy_from_slice(&value.to_be_bytes());
            } else {
                let value = u64::from(read_u32(segment, tfdt.body + 4)?) + delta;
                let value =
                    u32::try_from(value).map_err(|_| Fmp4Error::Malformed("tfdt overflow"))?;
                segment[tfdt.body + 4..tfdt.body + 8].copy_from_slice(&value.to_be_bytes());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn init() -> Vec<u8> {
        let mut mdhd = vec![0u8; 4 + 8];
        mdhd.extend_from_slice(&12_800u32.to_be_bytes());
        mdhd.extend_from_slice(&[0u8; 8]);
        let mdia = boxed(b"mdia", &boxed(b"mdhd", &mdhd));
        let trak = boxed(b"trak", &mdia);
        let mut trex = vec![0u8; 4];
        trex.extend_from_slice(&1u32.to_be_bytes());
        trex.extend_from_slice(&1u32.to_be_bytes());
        trex.extend_from_slice(&512u32.to_be_bytes());
        trex.extend_from_slice(&[0u8; 8]);
        let mvex = boxed(b"mvex", &boxed(b"trex", &trex));
        let mut moov = trak;
        moov.extend(mvex);
        let mut out = boxed(b"ftyp", b"iso5\0\0\0\0");
        out.extend(boxed(b"moov", &moov));
        out
    }

    /// One fragment: `n` samples, durations in the trun when `explicit`, else from trex.
    fn segment(base: u64, n: u32, explicit: bool) -> Vec<u8> {
        let mut mfhd = vec![0u8; 4];
        mfhd.extend_from_slice(&1u32.to_be_bytes());
        let mut tfhd = vec![0u8; 4];
        tfhd.extend_from_slice(&1u32.to_be_bytes());
        let mut tfdt = vec![1u8, 0, 0, 0];
        tfdt.extend_from_slice(&base.to_be_bytes());
        let mut trun = vec![0u8, 0, if explicit { 1 } else { 0 }, 0];
        trun.extend_from_slice(&n.to_be_bytes());
        if explicit {
            for _ in 0..n {
                trun.extend_from_slice(&1000u32.to_be_bytes());
            }
        }
        let mut traf = boxed(b"tfhd", &tfhd);
        traf.extend(boxed(b"tfdt", &tfdt));
        traf.extend(boxed(b"trun", &trun));
        let mut moof = boxed(b"mfhd", &mfhd);
        moof.extend(boxed(b"traf", &traf));
        let mut out = boxed(b"moof", &moof);
        out.extend(boxed(b"mdat", &[0u8; 16]));
        out
    }

    #[test]
    fn a_fragment_ends_where_its_samples_do() {
        let init = init();
        assert_eq!(timescale(&init), Ok(12_800));
        assert_eq!(end_ticks(&init, &segment(5_000, 3, true)), Ok(8_000));
        assert_eq!(
            end_ticks(&init, &segment(0, 4, false)),
            Ok(2_048),
            "trex default"
        );
    }

    #[test]
    fn shifting_moves_decode_time_and_numbering() {
        let init = init();
        let mut seg = segment(0, 3, true);
        shift(&mut seg, 96_000, 2).expect("shift");
        assert_eq!(end_ticks(&init, &seg), Ok(99_000));
        let top = children(&seg, 0, seg.len()).expect("boxes");
        let moof = &top[0];
        let mfhd = &children(&seg, moof.body, moof.end).expect("moof")[0];
        assert_eq!(read_u32(&seg, mfhd.body + 4), Ok(3));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let seg = segment(0, 3, true);
        for cut in 0..seg.len() {
            let _ = end_ticks(&init(), &seg[..cut]);
            let mut part = seg[..cut].to_vec();
            let _ = shift(&mut part, 1, 1);
        }
        let mut huge = seg.clone();
        huge[0..4].copy_from_slice(&1u32.to_be_bytes());
        huge.splice(8..8, u64::MAX.to_be_bytes());
        assert!(end_ticks(&init(), &huge).is_err());
        assert!(timescale(b"nonsense").is_err());
    }

    /// An init segment whose only sample entry is `entry` holding the config box `config`.
    fn init_with(entry: &[u8; 4], config: &[u8; 4], record: &[u8]) -> Vec<u8> {
        let mut sample = vec![0u8; 78];
        sample.extend(boxed(config, record));
        let mut stsd = vec![0u8, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(boxed(entry, &sample));
        let mut inner = boxed(b"stsd", &stsd);
        for kind in [b"stbl", b"minf", b"mdia", b"trak", b"moov"] {
            inner = boxed(kind, &inner);
        }
        inner
    }

    #[test]
    fn codec_strings_come_from_the_decoder_configuration() {
        let avc = init_with(b"avc1", b"avcC", &[1, 0x64, 0, 0x1f, 0xff]);
        assert_eq!(codecs(&avc).as_deref(), Some("avc1.64001f"));
        // x265 Main 10, level 5.0: compatibility flag of profile 2, progressive/frame-only.
        let mut hvcc = vec![1, 0x02, 0x20, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 150];
        hvcc.extend([0u8; 10]);
        let hevc = init_with(b"hvc1", b"hvcC", &hvcc);
        assert_eq!(codecs(&hevc).as_deref(), Some("hvc1.2.4.L150.B0"));
        hvcc[1] = 0x21; // high tier, Main (profile 1, compatibility flags 1 and 2)
        hvcc[2] = 0x60;
        assert_eq!(
            codecs(&init_with(b"hvc1", b"hvcC", &hvcc)).as_deref(),
            Some("hvc1.1.6.H150.B0")
        );
        let av1 = init_with(b"av01", b"av1C", &[0x81, 0x0c, 0x4c, 0]);
        assert_eq!(codecs(&av1).as_deref(), Some("av01.0.12M.10"));
        assert_eq!(codecs(&init_with(b"mp4a", b"esds", &[0; 20])), None);
        assert_eq!(codecs(b"nonsense"), None);
        for cut in 0..hevc.len() {
            let _ = codecs(&hevc[..cut]);
        }
    }
}
