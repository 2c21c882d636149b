//! Render settings: what a caller may ask for, checked before anything runs, and their
//! canonical form (the part of the memo key that is not the tree or the renderer).

use serde::{Deserialize, Serialize};

use super::error::RenderError;
use crate::error::Result;

/// Output codec, as Remotion names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub enum Codec {
    /// H.264 in MP4 (the default).
    #[default]
    H264,
    /// H.265 (HEVC) in MP4.
    H265,
    /// VP8 in `WebM`.
    Vp8,
    /// VP9 in `WebM`.
    Vp9,
    /// Apple `ProRes` in MOV.
    Prores,
    /// Animated GIF.
    Gif,
}

impl Codec {
    /// The name Remotion's `--codec` takes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
            Codec::Vp8 => "vp8",
            Codec::Vp9 => "vp9",
            Codec::Prores => "prores",
            Codec::Gif => "gif",
        }
    }

    /// The output file's extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Codec::H264 | Codec::H265 => "mp4",
            Codec::Vp8 | Codec::Vp9 => "webm",
            Codec::Prores => "mov",
            Codec::Gif => "gif",
        }
    }

    /// The CRF range the encoder accepts, or `None` when the codec has no CRF.
    #[must_use]
    pub fn crf_range(self) -> Option<(u8, u8)> {
        match self {
            Codec::H264 => Some((1, 51)),
            Codec::H265 => Some((0, 51)),
            Codec::Vp8 => Some((4, 63)),
            Codec::Vp9 => Some((0, 63)),
            Codec::Prores | Codec::Gif => None,
        }
    }
}

/// Quality preset: a CRF chosen for the codec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub enum Quality {
    /// Small files (H.264/H.265 CRF 28).
    Low,
    /// The default (H.264/H.265 CRF 23).
    #[default]
    Medium,
    /// Near-lossless (H.264/H.265 CRF 18).
    High,
}

impl Quality {
    /// The CRF this preset means for `codec` (`None` when the codec has no CRF).
    #[must_use]
    pub fn crf(self, codec: Codec) -> Option<u8> {
        let (low, medium, high) = match codec {
            Codec::H264 | Codec::H265 => (28, 23, 18),
            // VP8/VP9 CRF scales run to 63; these give about the same visual steps.
            Codec::Vp8 | Codec::Vp9 => (40, 32, 24),
            Codec::Prores | Codec::Gif => return None,
        };
        Some(match self {
            Quality::Low => low,
            Quality::Medium => medium,
            Quality::High => high,
        })
    }

    /// The `ProRes` profile this preset means.
    #[must_use]
    pub fn prores_profile(self) -> &'static str {
        match self {
            Quality::Low => "proxy",
            Quality::Medium => "standard",
            Quality::High => "hq",
        }
    }
}

/// Still-frame format used while rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub enum ImageFormat {
    /// JPEG frames (Remotion's default: fast).
    #[serde(alias = "jpg")]
    #[cfg_attr(feature = "cli", value(alias = "jpg"))]
    Jpeg,
    /// PNG frames (lossless, slower; needed for transparency).
    Png,
}

/// x264 speed presets Remotion passes through as `--x264-preset`.
pub const X264_PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// Everything that decides what a render produces. The one definition: the CLI's flags
/// (`reel render --codec …`) and the MCP tool's arguments are derived from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[cfg_attr(feature = "mcp", derive(schemars::JsonSchema))]
pub struct RenderSettings {
    /// Entry file, relative to the project root (default `src/index.ts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long, value_name = "PATH"))]
    pub entry: Option<String>,
    /// Composition id (default: the project's only composition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long, value_name = "ID"))]
    pub composition: Option<String>,
    /// Codec: h264 (.mp4, the default), h265 (.mp4), vp8 or vp9 (.webm), prores (.mov), gif.
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t))]
    pub codec: Codec,
    /// Quality preset: low, medium (the default) or high (for h264: CRF 28, 23, 18).
    #[serde(default)]
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t))]
    pub quality: Quality,
    /// Explicit CRF, overriding the preset (h264 1-51, h265 0-51, vp8 4-63, vp9 0-63).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long))]
    pub crf: Option<u8>,
    /// x264 speed preset (h264 only), e.g. `veryfast` or `slow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long, value_name = "PRESET"))]
    pub x264_preset: Option<String>,
    /// Frames rendered in parallel (default: the renderer's own choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long, value_name = "N"))]
    pub concurrency: Option<u32>,
    /// Input props passed to the composition (a JSON object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long, value_name = "JSON", value_parser = parse_props))]
    #[cfg_attr(
        feature = "mcp",
        schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")
    )]
    pub props: Option<serde_json::Value>,
    /// First and last frame to render, inclusive (on the command line `FIRST-LAST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long, value_name = "A-B", value_parser = parse_frames))]
    pub frames: Option<(u32, u32)>,
    /// Output scale factor, e.g. 0.5 for half size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long))]
    pub scale: Option<f64>,
    /// Still-frame format: jpeg (the default) or png.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "cli", arg(long, value_enum, value_name = "FORMAT"))]
    pub image_format: Option<ImageFormat>,
}

/// Parses `--props`: a JSON object.
pub fn parse_props(s: &str) -> std::result::Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not valid JSON: {e}"))
}

/// Parses `--frames FIRST-LAST` (or one frame, `N`).
pub fn parse_frames(s: &str) -> std::result::Result<(u32, u32), String> {
    let (x, y) = s.split_once('-').unwrap_or((s, s));
    match (x.trim().parse(), y.trim().parse()) {
        (Ok(x), Ok(y)) => Ok((x, y)),
        _ => Err(format!("expected FIRST-LAST, e.g. 0-29, not {s:?}")),
    }
}

/// The entry file Remotion uses when none is given.
pub const DEFAULT_ENTRY: &str = "src/index.ts";

impl RenderSettings {
    /// The entry file.
    #[must_use]
    pub fn entry(&self) -> &str {
        self.entry.as_deref().unwrap_or(DEFAULT_ENTRY)
    }

    /// The CRF to pass, from the explicit value or the preset.
    #[must_use]
    pub fn effective_crf(&self) -> Option<u8> {
        self.crf.or_else(|| self.quality.crf(self.codec))
    }

    /// Refuses invalid values and combinations, before anything runs.
    pub fn validate(&self) -> Result<()> {
        if let Some(entry) = &self.entry {
            crate::artifact::ProjectPath::parse(entry)?;
        }
        match self.encoder_problem().or_else(|| self.input_problem()) {
            Some(m) => Err(RenderError::Setting(m).into()),
            None => Ok(()),
        }
    }

    /// What is wrong with the encoder settings (CRF, x264 preset, frames for `ProRes`).
    fn encoder_problem(&self) -> Option<String> {
        let codec = self.codec.as_str();
        match (self.crf, self.codec.crf_range()) {
            (Some(_), None) => return Some(format!("codec {codec} takes no CRF")),
            (Some(crf), Some((lo, hi))) if crf < lo || crf > hi => {
                return Some(format!(
                    "CRF {crf} is out of range for {codec}: use {lo}-{hi}"
                ));
            }
            _ => {}
        }
        if let Some(p) = &self.x264_preset {
            if self.codec != Codec::H264 {
                return Some(format!("`x264_preset` applies to h264 only, not {codec}"));
            }
            if !X264_PRESETS.contains(&p.as_str()) {
                return Some(format!(
                    "unknown x264 preset `{p}`: use one of {}",
                    X264_PRESETS.join(", ")
                ));
            }
        }
        if self.codec == Codec::Prores && self.image_format == Some(ImageFormat::Jpeg) {
            // Not an encoder limit, but ProRes exists for quality; JPEG frames defeat it.
            return Some("prores renders need PNG frames (`image_format` png)".into());
        }
        None
    }

    /// What is wrong with the rest: composition id, concurrency, props, frames, scale.
    fn input_problem(&self) -> Option<String> {
        if let Some(c) = &self.composition {
            let ok = !c.is_empty()
                && c.len() <= 256
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Some(format!(
                    "invalid composition id {c:?}: Remotion ids use letters, digits, `-` and `_`"
                ));
            }
        }
        if let Some(n) = self.concurrency
            && !(1..=256).contains(&n)
        {
            return Some(format!("concurrency {n} is out of range: use 1-256"));
        }
        if self.props.as_ref().is_some_and(|p| !p.is_object()) {
            return Some("props must be a JSON object".into());
        }
        if let Some((a, b)) = self.frames
            && a > b
        {
            return Some(format!(
                "frame range {a}-{b} is empty: the first frame comes after the last"
            ));
        }
        if let Some(s) = self.scale
            && !(s.is_finite() && s > 0.0 && s <= 16.0)
        {
            return Some(format!(
                "scale {s} is out of range: use a number above 0 and at most 16"
            ));
        }
        None
    }

    /// The settings as canonical JSON: keys sorted, no whitespace, defaults spelled out,
    /// so equal settings always give equal bytes.
    #[must_use]
    pub fn canonical(&self) -> String {
        let mut v = serde_json::to_value(self).expect("settings serialize");
        if let serde_json::Value::Object(m) = &mut v {
            m.insert(
                "entry".into(),
                serde_json::Value::String(self.entry().to_owned()),
            );
            m.insert("crf".into(), self.effective_crf().into());
            if self.codec.crf_range().is_some() {
                // The CRF says it all; `high` and `crf: 18` are the same render.
                m.remove("quality");
            }
        }
        canonical_json(&v)
    }
}

/// JSON with object keys sorted at every level and no whitespace.
#[must_use]
pub fn canonical_json(v: &serde_json::Value) -> String {
    fn sort(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                let sorted: std::collections::BTreeMap<&String, serde_json::Value> =
                    m.iter().map(|(k, v)| (k, sort(v))).collect();
                serde_json::Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    // `serde_json::Map` keeps insertion order when another crate turns on
    // `preserve_order`; inserting in sorted order makes the output canonical either way.
    serde_json::to_string(&sort(v)).expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(json: serde_json::Value) -> RenderSettings {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn presets_map_to_crf() {
        let mut st = RenderSettings::default();
        assert_eq!(st.effective_crf(), Some(23));
        st.quality = Quality::Low;
        assert_eq!(st.effective_crf(), Some(28));
        st.quality = Quality::High;
        assert_eq!(st.effective_crf(), Some(18));
        st.crf = Some(30);
        assert_eq!(st.effective_crf(), Some(30));
        st.codec = Codec::Gif;
        st.crf = None;
        assert_eq!(st.effective_crf(), None);
    }

    #[test]
    fn invalid_combinations_are_refused() {
        for bad in [
            serde_json::json!({"codec": "gif", "crf": 20}),
            serde_json::json!({"codec": "h264", "crf": 60}),
            serde_json::json!({"codec": "vp9", "x264_preset": "fast"}),
            serde_json::json!({"x264_preset": "warp"}),
            serde_json::json!({"concurrency": 0}),
            serde_json::json!({"props": [1, 2]}),
            serde_json::json!({"frames": [10, 2]}),
            serde_json::json!({"scale": 0.0}),
            serde_json::json!({"entry": "../outside.ts"}),
            serde_json::json!({"entry": "/etc/passwd"}),
            serde_json::json!({"composition": "a b"}),
            serde_json::json!({"codec": "prores", "image_format": "jpeg"}),
        ] {
            let st = s(bad.clone());
            assert!(
                matches!(st.validate(), Err(crate::Error::Invalid(_))),
                "{bad} should be refused"
            );
        }
        assert!(
            serde_json::from_value::<RenderSettings>(serde_json::json!({"codec": "mpeg1"}))
                .is_err()
        );
        assert!(serde_json::from_value::<RenderSettings>(serde_json::json!({"bogus": 1})).is_err());
        s(
            serde_json::json!({"codec": "h264", "crf": 18, "x264_preset": "veryfast",
            "frames": [0, 29], "scale": 0.5, "props": {"title": "x"}}),
        )
        .validate()
        .unwrap();
    }

    #[test]
    fn canonical_form_ignores_key_order_and_spells_defaults() {
        let a = s(serde_json::json!({"props": {"b": 1, "a": {"y": 2, "x": 1}}, "codec": "h264"}));
        let b = s(serde_json::json!({"codec": "h264", "props": {"a": {"x": 1, "y": 2}, "b": 1}}));
        assert_eq!(a.canonical(), b.canonical());
        assert!(a.canonical().contains(r#""crf":23"#), "{}", a.canonical());
        assert!(a.canonical().contains(r#""entry":"src/index.ts""#));
        // An explicit default and an omitted one are the same render.
        let c = s(
            serde_json::json!({"codec": "h264", "quality": "medium", "crf": 23,
            "entry": "src/index.ts", "props": {"a": {"x": 1, "y": 2}, "b": 1}}),
        );
        assert_eq!(a.canonical(), c.canonical());
        let d = s(serde_json::json!({"codec": "h264", "quality": "high",
            "props": {"a": {"x": 1, "y": 2}, "b": 1}}));
        assert_ne!(a.canonical(), d.canonical());
    }
}
