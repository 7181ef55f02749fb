//! Audio and subtitle renditions as players list them: the BCP 47 language of a stream's tag,
//! a human name ("English 5.1", "Français"), and rendition names that are unique in a movie.

use isolang::Language;

use super::command::audio_rendition;
use super::probe::Probe;
use crate::store::AudioRendition;

/// One audio rendition per source stream ffmpeg can decode, in the source's order; the
/// source's default stream (or the first) is the DEFAULT one. What was skipped or downmixed is
/// said in `notes`.
pub fn plan_audio(probe: &Probe, notes: &mut Vec<String>) -> Vec<AudioRendition> {
    for skipped in probe.audio.iter().filter(|a| a.codec.is_none()) {
        notes.push(format!(
            "audio stream {} is in a codec this ffmpeg cannot decode: skipped",
            skipped.index
        ));
    }
    let playable: Vec<_> = probe.playable_audio().collect();
    let default = playable.iter().position(|a| a.default).unwrap_or(0);
    let mut labels: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (n, a) in playable.iter().enumerate() {
        let lang = bcp47(a.language.as_deref());
        let label = unique(audio_name(&lang, a.title.as_deref(), a.channels), &labels);
        labels.push(label.clone());
        if a.channels > 2 {
            notes.push(format!(
                "audio {label}: {} channels downmixed to stereo",
                a.channels
            ));
        }
        out.push(AudioRendition {
            name: audio_rendition(n),
            lang,
            label,
            channels: 2,
            source_channels: a.channels,
            default: n == default,
            bandwidth: 0,
            average_bandwidth: 0,
        });
    }
    out
}

/// ISO 639-2/B codes (the bibliographic ones Matroska and DVDs often carry) and their 639-2/T
/// twins, which is what isolang knows.
const BIBLIOGRAPHIC: &[(&str, &str)] = &[
    ("alb", "sqi"),
    ("arm", "hye"),
    ("baq", "eus"),
    ("bur", "mya"),
    ("chi", "zho"),
    ("cze", "ces"),
    ("dut", "nld"),
    ("fre", "fra"),
    ("geo", "kat"),
    ("ger", "deu"),
    ("gre", "ell"),
    ("ice", "isl"),
    ("mac", "mkd"),
    ("mao", "mri"),
    ("may", "msa"),
    ("per", "fas"),
    ("rum", "ron"),
    ("slo", "slk"),
    ("tib", "bod"),
    ("wel", "cym"),
];

/// The BCP 47 tag for a stream's language tag: the shortest ISO 639 code (`eng` and `en` give
/// `en`, `fre` gives `fr`), a region kept (`pt-BR`), `und` when absent or unknown.
pub fn bcp47(tag: Option<&str>) -> String {
    let Some(tag) = tag.map(str::trim).filter(|t| !t.is_empty()) else {
        return "und".into();
    };
    let mut parts = tag.split(['-', '_']);
    let primary = parts.next().unwrap_or("").to_ascii_lowercase();
    let region = parts
        .next()
        .filter(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|r| r.to_ascii_uppercase());
    let terminological = BIBLIOGRAPHIC
        .iter()
        .find(|(b, _)| *b == primary)
        .map(|(_, t)| *t)
        .unwrap_or(primary.as_str());
    let language = match terminological.len() {
        2 => Language::from_639_1(terminological),
        3 => Language::from_639_3(terminological),
        _ => None,
    };
    let code = match language {
        Some(l) => l.to_639_1().unwrap_or(l.to_639_3()).to_string(),
        None => return "und".into(),
    };
    if code == "und" || code == "zxx" || code == "mul" {
        return code;
    }
    match region {
        Some(r) => format!("{code}-{r}"),
        None => code,
    }
}

/// The language's own name for itself, capitalised ("Français", "Deutsch"), or its English
/// name where isolang has no autonym.
pub fn language_name(bcp47: &str) -> Option<String> {
    let primary = bcp47.split('-').next().unwrap_or(bcp47);
    let language = match primary.len() {
        2 => Language::from_639_1(primary),
        _ => Language::from_639_3(primary),
    }?;
    if matches!(primary, "und" | "zxx" | "mul" | "mis") {
        return None;
    }
    let name = language.to_autonym().unwrap_or(language.to_name());
    // Autonyms list alternatives ("español, castellano"): the first is the name people use.
    let name = name.split([',', ';']).next().unwrap_or(name).trim();
    let mut chars = name.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// "5.1" for a 6-channel source, "7.1" for 8; nothing for mono and stereo.
fn channel_label(channels: u32) -> Option<String> {
    match channels {
        0..=2 => None,
        3 => Some("2.1".into()),
        6 => Some("5.1".into()),
        7 => Some("6.1".into()),
        8 => Some("7.1".into()),
        n => Some(format!("{n}ch")),
    }
}

/// What a track without a (known) language tag is called: a name people understand, where
/// "Audio 1" made them guess.
pub const UNKNOWN_LANGUAGE: &str = "Unknown language";

/// A track's name when its title says nothing: its language's name, else what its special
/// code means (several languages, none spoken), else "Unknown language".
fn language_or_unknown(lang: &str) -> String {
    language_name(lang).unwrap_or_else(|| {
        match lang.split('-').next().unwrap_or(lang) {
            "mul" => "Several languages",
            "zxx" => "No dialogue",
            _ => UNKNOWN_LANGUAGE,
        }
        .to_string()
    })
}

/// NAME of an audio rendition: the stream's title when it has one ("Director's commentary"),
/// else its language and layout ("English 5.1"), else "Unknown language" (and its layout).
pub fn audio_name(lang: &str, title: Option<&str>, channels: u32) -> String {
    if let Some(title) = title.map(str::trim).filter(|t| !t.is_empty()) {
        return clip(title);
    }
    let base = language_or_unknown(lang);
    match channel_label(channels) {
        Some(label) => format!("{base} {label}"),
        None => base,
    }
}

/// NAME of a subtitle rendition: the title, else the language, else "Unknown language";
/// forced tracks say so.
pub fn subtitle_name(lang: &str, title: Option<&str>, forced: bool) -> String {
    let base = title
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(clip)
        .unwrap_or_else(|| language_or_unknown(lang));
    if forced && !base.to_lowercase().contains("forced") {
        format!("{base} (forced)")
    } else {
        base
    }
}

/// Names are shown in menus and quoted in playlists: one line, no quotes, a sane length.
fn clip(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(60)
        .collect::<String>()
        .trim()
        .to_string()
}

/// `name` made unique among `taken` by appending " 2", " 3"... (HLS requires distinct NAMEs
/// within a group).
pub fn unique(name: String, taken: &[String]) -> String {
    if !taken.contains(&name) {
        return name;
    }
    (2..)
        .map(|n| format!("{name} {n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(name)
}

/// The object-key-safe rendition name for a subtitle language: `subs_fr`, `subs_fr_2`...
pub fn subtitle_rendition(lang: &str, taken: &[String]) -> String {
    let safe: String = lang
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let base = format!("subs_{safe}");
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_tags_become_bcp47() {
        assert_eq!(bcp47(Some("eng")), "en");
        assert_eq!(bcp47(Some("fre")), "fr");
        assert_eq!(bcp47(Some("fra")), "fr");
        assert_eq!(bcp47(Some("ger")), "de");
        assert_eq!(bcp47(Some("EN")), "en");
        assert_eq!(bcp47(Some("pt-br")), "pt-BR");
        assert_eq!(bcp47(Some("pt_BR")), "pt-BR");
        assert_eq!(bcp47(Some("und")), "und");
        assert_eq!(bcp47(Some("")), "und");
        assert_eq!(bcp47(None), "und");
        assert_eq!(bcp47(Some("klingon")), "und");
        // No two-letter code: the three-letter one is the BCP 47 tag.
        assert_eq!(bcp47(Some("haw")), "haw");
    }

    #[test]
    fn names_are_what_people_read_in_a_menu() {
        assert_eq!(audio_name("en", None, 6), "English 5.1");
        assert_eq!(audio_name("fr", None, 2), "Français");
        assert_eq!(audio_name("de", None, 8), "Deutsch 7.1");
        assert_eq!(audio_name("und", None, 2), "Unknown language");
        assert_eq!(audio_name("und", None, 6), "Unknown language 5.1");
        assert_eq!(audio_name("und", Some("Commentary"), 2), "Commentary");
        assert_eq!(audio_name("mul", None, 2), "Several languages");
        assert_eq!(audio_name("zxx", None, 2), "No dialogue");
        assert_eq!(audio_name("mis", None, 2), "Unknown language");
        assert_eq!(
            audio_name("en", Some("Director's \"commentary\""), 2),
            "Director's commentary"
        );
        assert_eq!(subtitle_name("fr", None, true), "Français (forced)");
        assert_eq!(subtitle_name("en", None, false), "English");
        assert_eq!(subtitle_name("und", None, false), "Unknown language");
        assert_eq!(language_name("es").as_deref(), Some("Español"));
    }

    #[test]
    fn rendition_names_and_labels_are_unique() {
        let taken = vec!["subs_en".to_string()];
        assert_eq!(subtitle_rendition("en", &taken), "subs_en_2");
        assert_eq!(subtitle_rendition("pt-BR", &[]), "subs_pt_br");
        assert_eq!(unique("English".into(), &["English".into()]), "English 2");
        assert_eq!(unique("Français".into(), &["English".into()]), "Français");
    }
}
