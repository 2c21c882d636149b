//! Renderers: what turns a materialized project into a video. [`Remotion`] drives the
//! project's own `@remotion/cli`; [`CommandTemplate`] runs any program.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::error::RenderError;
use super::process::CommandSpec;
use super::progress::{LineParser, PatternParser, RemotionParser};
use super::settings::{Codec, ImageFormat, RenderSettings};
use crate::error::Result;

/// One render, as a renderer sees it. Paths are absolute.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The materialized project.
    pub workdir: &'a Path,
    /// Entry file, relative to `workdir`.
    pub entry: &'a str,
    /// Composition id, when known.
    pub composition: Option<&'a str>,
    /// Where the video must be written.
    pub output: &'a Path,
    /// A JSON file holding the input props.
    pub props_file: &'a Path,
    /// The settings.
    pub settings: &'a RenderSettings,
}

/// Something that renders a project into a video file.
pub trait Renderer: Send + Sync + std::fmt::Debug {
    /// Name and version, part of every render key: a different renderer (or version,
    /// or configuration) never reuses another's output. `package_json` is the
    /// project's, when it has one.
    fn identity(&self, package_json: Option<&[u8]>) -> String;

    /// The identity once the project's dependencies are installed: `installed` maps
    /// package names to installed versions. Defaults to [`Renderer::identity`].
    fn installed_identity(
        &self,
        package_json: Option<&[u8]>,
        installed: &BTreeMap<String, String>,
    ) -> String {
        let _ = installed;
        self.identity(package_json)
    }

    /// The command that renders `inv`.
    fn command(&self, inv: &Invocation<'_>) -> Result<CommandSpec>;

    /// The command that lists the compositions (`None`: the renderer has no such
    /// notion, and the composition is passed through as given).
    fn list_compositions(&self, workdir: &Path, entry: &str) -> Option<CommandSpec> {
        let _ = (workdir, entry);
        None
    }

    /// A parser for the render command's stdout.
    fn parser(&self) -> Result<Box<dyn LineParser>>;
}

/// The version a `package.json` asks for of `package` (exact pins are what makes
/// renders reproducible; the tree id covers the file itself too).
#[must_use]
pub fn dependency_version(package_json: &[u8], package: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(package_json).ok()?;
    ["dependencies", "devDependencies"]
        .iter()
        .find_map(|section| v.get(section)?.get(package)?.as_str().map(str::to_owned))
}

/// The system Chromium, when one is installed where distributions put it.
#[must_use]
pub fn find_browser() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
        "/usr/bin/google-chrome-stable",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Remotion 4, run from the project's own `node_modules/.bin/remotion`.
#[derive(Debug, Clone, Default)]
pub struct Remotion {
    /// Chromium to use (`--browser-executable`); `None` lets Remotion download one,
    /// which fails without network, so callers normally set it (see [`find_browser`]).
    pub browser: Option<PathBuf>,
}

fn cli(workdir: &Path) -> Result<PathBuf> {
    let bin = workdir.join("node_modules").join(".bin").join("remotion");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(RenderError::Setting(
            "node_modules/.bin/remotion is missing: add `@remotion/cli` to the project's package.json dependencies".into(),
        )
        .into())
    }
}

impl Remotion {
    fn browser_args(&self, args: &mut Vec<OsString>) {
        if let Some(b) = &self.browser {
            args.push("--browser-executable".into());
            args.push(b.into());
        }
    }
}

impl Renderer for Remotion {
    fn identity(&self, package_json: Option<&[u8]>) -> String {
        let version = package_json
            .and_then(|p| dependency_version(p, "@remotion/cli"))
            .unwrap_or_else(|| "unknown".into());
        format!("remotion@{version}")
    }

    fn installed_identity(
        &self,
        package_json: Option<&[u8]>,
        installed: &BTreeMap<String, String>,
    ) -> String {
        match installed.get("@remotion/cli") {
            Some(v) => format!("remotion@{v}"),
            None => self.identity(package_json),
        }
    }

    fn command(&self, inv: &Invocation<'_>) -> Result<CommandSpec> {
        let s = inv.settings;
        let composition = inv
            .composition
            .ok_or_else(|| RenderError::Composition("a composition id is needed".into()))?;
        let mut args: Vec<OsString> = vec![
            "render".into(),
            inv.entry.into(),
            composition.into(),
            inv.output.into(),
            "--codec".into(),
            s.codec.as_str().into(),
            "--props".into(),
            inv.props_file.into(),
        ];
        if let Some(crf) = s.effective_crf() {
            args.extend(["--crf".into(), crf.to_string().into()]);
        }
        if s.codec == Codec::Prores {
            args.extend(["--prores-profile".into(), s.quality.prores_profile().into()]);
        }
        if let Some(p) = &s.x264_preset {
            args.extend(["--x264-preset".into(), p.into()]);
        }
        if let Some(n) = s.concurrency {
            args.extend(["--concurrency".into(), n.to_string().into()]);
        }
        if let Some((a, b)) = s.frames {
            args.extend(["--frames".into(), format!("{a}-{b}").into()]);
        }
        if let Some(x) = s.scale {
            args.extend(["--scale".into(), x.to_string().into()]);
        }
        if let Some(f) = s.image_format {
            let f = match f {
                ImageFormat::Jpeg => "jpeg",
                ImageFormat::Png => "png",
            };
            args.extend(["--image-format".into(), f.into()]);
        }
        self.browser_args(&mut args);
        Ok(CommandSpec {
            program: cli(inv.workdir)?,
            args,
            cwd: inv.workdir.to_path_buf(),
            env: Vec::new(),
        })
    }

    fn list_compositions(&self, workdir: &Path, entry: &str) -> Option<CommandSpec> {
        let mut args: Vec<OsString> = vec!["compositions".into(), entry.into()];
        self.browser_args(&mut args);
        Some(CommandSpec {
            program: cli(workdir).ok()?,
            args,
            cwd: workdir.to_path_buf(),
            env: Vec::new(),
        })
    }

    fn parser(&self) -> Result<Box<dyn LineParser>> {
        Ok(Box::new(RemotionParser::default()))
    }
}

/// The composition ids in `remotion compositions` output.
#[must_use]
pub fn parse_compositions(stdout: &[String]) -> Vec<String> {
    stdout
        .iter()
        .skip_while(|l| !l.contains("compositions are available"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Any program, from an argument template. Placeholders: `{workdir}`, `{entry}`,
/// `{composition}`, `{output}`, `{props}`, `{codec}`, `{crf}`, `{concurrency}`,
/// `{frames}` (`A-B`). An argument that is nothing but an unset placeholder is dropped.
/// A relative program path is taken from the work directory when it exists there.
#[derive(Debug, Clone)]
pub struct CommandTemplate {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Progress pattern (see [`PatternParser`]); `None` reads Remotion-style lines.
    pub progress_pattern: Option<String>,
    /// A version string for the render key (bump it when the program changes).
    pub version: String,
}

impl CommandTemplate {
    /// Parses a command line (shell quoting rules) into a template.
    pub fn parse(command: &str, progress_pattern: Option<String>, version: &str) -> Result<Self> {
        let argv = shlex::split(command)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                RenderError::Template(format!("cannot parse the render command {command:?}"))
            })?;
        if let Some(p) = &progress_pattern {
            PatternParser::new(p)?;
        }
        Ok(CommandTemplate {
            argv,
            progress_pattern,
            version: version.to_owned(),
        })
    }
}

impl Renderer for CommandTemplate {
    fn identity(&self, _package_json: Option<&[u8]>) -> String {
        let v = serde_json::json!({
            "argv": self.argv, "progress": self.progress_pattern, "version": self.version,
        });
        format!("command:{}", super::settings::canonical_json(&v))
    }

    fn command(&self, inv: &Invocation<'_>) -> Result<CommandSpec> {
        let s = inv.settings;
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let vars: [(&str, Option<String>); 9] = [
            ("workdir", Some(path(inv.workdir))),
            ("entry", Some(inv.entry.to_owned())),
            ("composition", inv.composition.map(str::to_owned)),
            ("output", Some(path(inv.output))),
            ("props", Some(path(inv.props_file))),
            ("codec", Some(s.codec.as_str().to_owned())),
            ("crf", s.effective_crf().map(|c| c.to_string())),
            ("concurrency", s.concurrency.map(|c| c.to_string())),
            ("frames", s.frames.map(|(a, b)| format!("{a}-{b}"))),
        ];
        let mut words = Vec::new();
        for arg in &self.argv {
            let mut out = arg.clone();
            let mut unset_only = false;
            for (name, value) in &vars {
                let ph = format!("{{{name}}}");
                if out.contains(&ph) {
                    if value.is_none() && out == ph {
                        unset_only = true;
                    }
                    out = out.replace(&ph, value.as_deref().unwrap_or(""));
                }
            }
            if !unset_only {
                words.push(out);
            }
        }
        let (program, args) = words
            .split_first()
            .ok_or_else(|| RenderError::Template("the render command is empty".into()))?;
        let mut program = PathBuf::from(program);
        if program.is_relative() && program.components().count() > 1 {
            program = inv.workdir.join(program);
        }
        Ok(CommandSpec {
            program,
            args: args.iter().map(Into::into).collect(),
            cwd: inv.workdir.to_path_buf(),
            env: Vec::new(),
        })
    }

    fn parser(&self) -> Result<Box<dyn LineParser>> {
        Ok(match &self.progress_pattern {
            Some(p) => Box::new(PatternParser::new(p)?),
            None => Box::new(RemotionParser::default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv<'a>(s: &'a RenderSettings, composition: Option<&'a str>) -> Invocation<'a> {
        Invocation {
            workdir: Path::new("/w"),
            entry: "src/index.ts",
            composition,
            output: Path::new("/o/out.mp4"),
            props_file: Path::new("/o/props.json"),
            settings: s,
        }
    }

    #[test]
    fn template_substitutes_and_drops_unset_placeholders() {
        let t = CommandTemplate::parse(
            "./render.sh '{entry}' {composition} --out={output} {crf} --props {props}",
            None,
            "1",
        )
        .unwrap();
        let s = RenderSettings {
            codec: Codec::Gif,
            ..RenderSettings::default()
        };
        let c = t.command(&inv(&s, None)).unwrap();
        assert_eq!(c.program, PathBuf::from("/w/./render.sh"));
        let args: Vec<String> = c
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "src/index.ts",
                "--out=/o/out.mp4",
                "--props",
                "/o/props.json"
            ]
        );
        assert!(CommandTemplate::parse("a 'unclosed", None, "1").is_err());
        assert!(CommandTemplate::parse("", None, "1").is_err());
    }

    #[test]
    #[allow(clippy::many_single_char_names)]
    fn remotion_command_carries_the_settings() {
        let s: RenderSettings = serde_json::from_value(serde_json::json!({
            "quality": "high", "x264_preset": "veryfast", "concurrency": 2, "frames": [0, 9]
        }))
        .unwrap();
        let r = Remotion {
            browser: Some("/usr/bin/chromium".into()),
        };
        // Without node_modules the CLI is missing: a clear error, nothing run.
        let e = r.command(&inv(&s, Some("Main"))).unwrap_err();
        assert!(e.to_string().contains("@remotion/cli"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("node_modules/.bin")).unwrap();
        std::fs::write(dir.path().join("node_modules/.bin/remotion"), "").unwrap();
        let mut i = inv(&s, Some("Main"));
        i.workdir = dir.path();
        let c = r.command(&i).unwrap();
        let line = c
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            line,
            "render src/index.ts Main /o/out.mp4 --codec h264 --props /o/props.json --crf 18 \
             --x264-preset veryfast --concurrency 2 --frames 0-9 --browser-executable /usr/bin/chromium"
        );
    }

    #[test]
    fn identity_names_the_pinned_cli_version() {
        let pj = br#"{"dependencies":{"@remotion/cli":"4.0.529","remotion":"4.0.529"}}"#;
        assert_eq!(Remotion::default().identity(Some(pj)), "remotion@4.0.529");
        let a = CommandTemplate::parse("x {output}", None, "1").unwrap();
        let b = CommandTemplate::parse("x {output}", None, "2").unwrap();
        assert_ne!(a.identity(None), b.identity(None));
    }

    #[test]
    fn composition_table_parses() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/remotion-4.0.529/compositions.stdout.log"
        ))
        .unwrap();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        assert_eq!(parse_compositions(&lines), ["Main"]);
    }
}
