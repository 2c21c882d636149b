//! A render's poster frame: one still from the middle of the video, at most
//! [`POSTER_WIDTH`] pixels wide, as JPEG. Made once with ffmpeg when the render is
//! stored, so a gallery shows a picture per render without decoding any video.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::RenderError;
use crate::error::{Error, Result};

/// The widest a poster is (narrower videos keep their width).
pub const POSTER_WIDTH: u32 = 640;

/// The most bytes a poster may have: more means ffmpeg wrote something else.
const POSTER_LIMIT: u64 = 4 * 1024 * 1024;

/// How long ffmpeg may take for one frame.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// The ffmpeg beside an ffprobe (Remotion's compositor package and Debian ship both
/// together): `ffprobe` → `ffmpeg` on `PATH`, `…/compositor-x/ffprobe` → `…/ffmpeg`.
#[must_use]
pub fn ffmpeg_beside(ffprobe: &Path) -> PathBuf {
    let name = ffprobe.file_name().map_or_else(
        || "ffmpeg".into(),
        |n| n.to_string_lossy().replacen("ffprobe", "ffmpeg", 1),
    );
    ffprobe.with_file_name(name)
}

/// Where in a video of `duration_s` seconds the poster is taken: the middle (the first
/// frame of a composition is often blank), as ffmpeg's `-ss` argument.
#[must_use]
pub fn instant(duration_s: f64) -> String {
    let t = if duration_s.is_finite() && duration_s > 0.0 {
        duration_s / 2.0
    } else {
        0.0
    };
    format!("{t:.3}")
}

/// Extracts the poster of `video` (`duration_s` long) with `ffmpeg` into `out` and
/// returns its bytes.
pub async fn extract(ffmpeg: &Path, video: &Path, duration_s: f64, out: &Path) -> Result<Vec<u8>> {
    let mut cmd = tokio::process::Command::new(ffmpeg);
    cmd.args([
        "-v",
        "error",
        "-nostdin",
        "-y",
        "-ss",
        &instant(duration_s),
        "-i",
    ])
    .arg(video)
    .args([
        "-frames:v",
        "1",
        "-vf",
        &format!("scale='min({POSTER_WIDTH},iw)':-2"),
        "-q:v",
        "4",
        "-f",
        "image2",
        "-c:v",
        "mjpeg",
    ])
    .arg(out)
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    // Remotion's bundled ffmpeg finds its shared libraries next to itself.
    if let Some(dir) = ffmpeg.parent().filter(|d| !d.as_os_str().is_empty()) {
        cmd.env("LD_LIBRARY_PATH", dir);
    }
    let run = tokio::time::timeout(TIME_LIMIT, cmd.output())
        .await
        .map_err(|_| {
            RenderError::Output(format!(
                "ffmpeg took more than {}s for the poster frame",
                TIME_LIMIT.as_secs()
            ))
        })?
        .map_err(|source| RenderError::Spawn {
            program: ffmpeg.to_path_buf(),
            source,
        })?;
    if !run.status.success() {
        return Err(RenderError::Output(format!(
            "ffmpeg could not take a poster frame: {}",
            String::from_utf8_lossy(&run.stderr).trim()
        ))
        .into());
    }
    let bytes = tokio::fs::read(out).await.map_err(Error::io("read", out))?;
    if bytes.len() as u64 > POSTER_LIMIT || !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(RenderError::Output(format!(
            "ffmpeg's poster frame is not a JPEG of at most {POSTER_LIMIT} bytes"
        ))
        .into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_is_found_beside_ffprobe() {
        assert_eq!(ffmpeg_beside(Path::new("ffprobe")), Path::new("ffmpeg"));
        assert_eq!(
            ffmpeg_beside(Path::new("/n/@remotion/compositor-linux-x64-gnu/ffprobe")),
            Path::new("/n/@remotion/compositor-linux-x64-gnu/ffmpeg")
        );
        assert_eq!(
            ffmpeg_beside(Path::new("/usr/bin/ffprobe-7")),
            Path::new("/usr/bin/ffmpeg-7")
        );
    }

    #[test]
    fn the_poster_is_taken_from_the_middle() {
        assert_eq!(instant(20.0), "10.000");
        assert_eq!(instant(0.1), "0.050");
        assert_eq!(instant(0.0), "0.000");
        assert_eq!(instant(f64::NAN), "0.000");
    }
}
