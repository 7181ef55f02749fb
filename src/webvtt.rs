//! WebVTT's time notation, shared by the subtitle converter (cues) and the thumbnails track:
//! both write times the same way, and neither should reach into the other for it.

/// `HH:MM:SS.mmm`, as WebVTT writes a time.
pub fn format_ms(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// A time in seconds (negative clamps to zero), rounded to the millisecond.
pub fn format_seconds(seconds: f64) -> String {
    format_ms((seconds.max(0.0) * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_webvtt_writes_them() {
        assert_eq!(format_ms(0), "00:00:00.000");
        assert_eq!(format_ms(3_723_004), "01:02:03.004");
        assert_eq!(format_seconds(-1.0), "00:00:00.000");
        assert_eq!(format_seconds(10.0005), "00:00:10.001");
    }
}
