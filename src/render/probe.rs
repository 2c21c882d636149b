//! Reads a video's metadata with ffprobe.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::RenderError;
use crate::artifact::{Rational, RenderMeta};
use crate::error::Result;

#[derive(Debug, Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<Stream>,
    format: Format,
}

#[derive(Debug, Deserialize)]
struct Stream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    r_frame_rate: Option<String>,
    avg_frame_rate: Option<String>,
    nb_frames: Option<String>,
    duration: Option<String>,
}

#[derive(Debug, Deserialize)]
#[allow(clippy::struct_field_names)] // ffprobe's own field names
struct Format {
    format_name: String,
    duration: Option<String>,
    bit_rate: Option<String>,
}

fn rational(s: &str) -> Option<Rational> {
    let (n, d) = s.split_once('/')?;
    let r = Rational {
        num: n.parse().ok()?,
        den: d.parse().ok()?,
    };
    (r.num > 0 && r.den > 0).then_some(r)
}

/// Metadata from ffprobe's `-show_format -show_streams` JSON. `extension` picks the
/// container name when ffprobe lists several (`mov,mp4,m4a,…`).
pub fn parse(json: &[u8], extension: &str) -> Result<RenderMeta> {
    let p: Probe = serde_json::from_slice(json)
        .map_err(|e| RenderError::Output(format!("ffprobe's output does not parse: {e}")))?;
    let video = p
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video"))
        .ok_or_else(|| RenderError::Output("the rendered file has no video stream".into()))?;
    let names: Vec<&str> = p.format.format_name.split(',').collect();
    let container = if names.contains(&extension) {
        extension.to_owned()
    } else {
        names[0].to_owned()
    };
    let fps = video
        .r_frame_rate
        .as_deref()
        .and_then(rational)
        .or_else(|| video.avg_frame_rate.as_deref().and_then(rational));
    let duration_s = p
        .format
        .duration
        .as_deref()
        .or(video.duration.as_deref())
        .and_then(|d| d.parse::<f64>().ok())
        .unwrap_or(0.0);
    let frames = video
        .nb_frames
        .as_deref()
        .and_then(|n| n.parse().ok())
        .or_else(|| {
            // Containers such as WebM do not count frames; derive them from the rate.
            let r = fps?;
            let f = duration_s * f64::from(r.num) / f64::from(r.den);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // positive, small
            (f > 0.0).then(|| f.round() as u64)
        });
    Ok(RenderMeta {
        container,
        codec: video.codec_name.clone().unwrap_or_default(),
        width: video.width.unwrap_or(0),
        height: video.height.unwrap_or(0),
        fps,
        duration_s,
        bitrate: p.format.bit_rate.as_deref().and_then(|b| b.parse().ok()),
        frames,
        settings: serde_json::Map::new(),
        poster: None,
        lockfile: None,
    })
}

/// The ffprobe to use: Remotion's bundled one under
/// `node_modules/@remotion/compositor-*/`, else `fallback` (from config or `PATH`).
#[must_use]
pub fn locate(workdir: &Path, fallback: &Path) -> PathBuf {
    let remotion = workdir.join("node_modules").join("@remotion");
    if let Ok(entries) = std::fs::read_dir(&remotion) {
        let mut found: Vec<PathBuf> = entries
            .filter_map(std::result::Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("compositor-"))
            .map(|e| e.path().join("ffprobe"))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        if let Some(p) = found.into_iter().next() {
            return p;
        }
    }
    fallback.to_path_buf()
}

/// Runs ffprobe on `file`.
pub async fn probe(ffprobe: &Path, file: &Path, extension: &str) -> Result<RenderMeta> {
    let mut cmd = tokio::process::Command::new(ffprobe);
    cmd.args([
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ])
    .arg(file)
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    // Remotion's bundled ffprobe finds its shared libraries next to itself.
    if let Some(dir) = ffprobe.parent().filter(|d| !d.as_os_str().is_empty()) {
        cmd.env("LD_LIBRARY_PATH", dir);
    }
    let out = cmd.output().await.map_err(|source| RenderError::Spawn {
        program: ffprobe.to_path_buf(),
        source,
    })?;
    if !out.status.success() {
        return Err(RenderError::Output(format!(
            "ffprobe could not read the rendered file: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
        .into());
    }
    parse(&out.stdout, extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debian_ffprobe_fixture_parses() {
        let json = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/remotion-4.0.529/ffprobe-debian.json"
        ))
        .unwrap();
        let m = parse(&json, "mp4").unwrap();
        assert_eq!(m.container, "mp4");
        assert_eq!(m.codec, "h264");
        assert_eq!((m.width, m.height), (320, 180));
        assert_eq!(m.fps, Some(Rational { num: 30, den: 1 }));
        assert!((m.duration_s - 2.0).abs() < 1e-9);
        assert_eq!(m.bitrate, Some(66_512));
        assert_eq!(m.frames, Some(60));
        // Another extension keeps ffprobe's first name.
        assert_eq!(parse(&json, "gif").unwrap().container, "mov");
    }

    #[test]
    fn frames_are_derived_when_the_container_does_not_count_them() {
        let json = br#"{"streams":[{"codec_type":"video","codec_name":"vp9","width":64,
            "height":36,"r_frame_rate":"30000/1001"}],
            "format":{"format_name":"matroska,webm","duration":"2.002"}}"#;
        let m = parse(json, "webm").unwrap();
        assert_eq!(m.container, "webm");
        assert_eq!(
            m.fps,
            Some(Rational {
                num: 30000,
                den: 1001
            })
        );
        assert_eq!(m.frames, Some(60));
        assert_eq!(m.bitrate, None);
    }

    #[test]
    fn no_video_stream_is_an_error() {
        let json = br#"{"streams":[{"codec_type":"audio"}],"format":{"format_name":"wav"}}"#;
        assert!(matches!(
            parse(json, "wav"),
            Err(crate::Error::Render { .. })
        ));
        assert!(matches!(
            parse(b"not json", "mp4"),
            Err(crate::Error::Render { .. })
        ));
    }
}
