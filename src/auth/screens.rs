//! Screens per plan (contract section 10): how many playbacks a user may have at once, and
//! what each player is called when the viewer is shown the ones in use.

use crate::config::PlansConfig;
use crate::store::{Plan, Tier, Timestamp, User};

/// The user's screens; 0 is unlimited. Admins are never limited; a user's own number
/// (`user plan --screens`) wins over the plan's; a lapsed premium plan counts as free.
pub fn screens(user: &User, plan: &Plan, plans: &PlansConfig, now: Timestamp) -> u32 {
    if user.admin {
        return 0;
    }
    if let Some(n) = plan.screens {
        return n;
    }
    let premium = plan.tier == Tier::Premium && plan.until.is_none_or(|t| now < t);
    if premium {
        plans.premium_screens
    } else {
        plans.free_screens
    }
}

/// A name a person recognises for the player behind a user agent: "Firefox on Linux", "VLC",
/// "ffmpeg". Only the product and the system, never the full string (it fingerprints).
pub fn device(user_agent: &str) -> String {
    let ua = user_agent.to_ascii_lowercase();
    let players = [
        ("vlc", "VLC"),
        ("mpv", "mpv"),
        ("lavf", "ffmpeg"),
        ("gstreamer", "GStreamer"),
        ("kodi", "Kodi"),
        ("applecoremedia", "Apple player"),
        ("curl", "curl"),
    ];
    if let Some((_, name)) = players.iter().find(|(needle, _)| ua.contains(needle)) {
        return (*name).to_string();
    }
    // Order matters: Edge and Opera say "chrome", Chrome says "safari", Android says "linux".
    let browsers = [
        ("edg/", "Edge"),
        ("opr/", "Opera"),
        ("firefox/", "Firefox"),
        ("chromium/", "Chromium"),
        ("chrome/", "Chrome"),
        ("safari/", "Safari"),
    ];
    let systems = [
        ("iphone", "iPhone"),
        ("ipad", "iPad"),
        ("android", "Android"),
        ("windows", "Windows"),
        ("mac os", "macOS"),
        ("cros", "ChromeOS"),
        ("linux", "Linux"),
    ];
    let browser = browsers.iter().find(|(n, _)| ua.contains(n)).map(|b| b.1);
    let system = systems.iter().find(|(n, _)| ua.contains(n)).map(|s| s.1);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) if ua.trim().is_empty() => "Unknown device".into(),
        (None, None) => "Another player".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_read_as_people_name_them() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
                "Firefox on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            ("Lavf/59.27.100", "ffmpeg"),
            ("VLC/3.0.18 LibVLC/3.0.18", "VLC"),
            ("libmpv", "mpv"),
            ("", "Unknown device"),
        ];
        for (ua, want) in cases {
            assert_eq!(device(ua), want, "{ua}");
        }
    }
}
