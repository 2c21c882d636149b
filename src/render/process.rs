//! Runs a renderer process: its own process group (so a timeout or cancel kills
//! Chromium and every other child too), stdout and stderr drained concurrently (a full
//! pipe never stalls it), progress parsed line by line.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio_util::sync::CancellationToken;

use super::diagnose::diagnose;
use super::error::RenderError;
use super::log::{JobLog, Stream};
use super::progress::{LineParser, RenderProgress};
use crate::error::{Error, Result};

/// Lines of each stream kept for error messages.
const TAIL_LINES: usize = 400;
/// How long a process group gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// A program to run.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Extra environment variables.
    pub env: Vec<(String, OsString)>,
}

impl CommandSpec {
    /// The command line, for logs and error messages.
    #[must_use]
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The program exited by itself.
    Exited(ExitStatus),
    /// The time limit passed; the process group was killed.
    TimedOut,
    /// Cancelled; the process group was killed.
    Cancelled,
}

/// What a run left behind.
#[derive(Debug)]
pub struct RunOutput {
    /// How it ended.
    pub ended: Ended,
    /// The last lines of stdout.
    pub stdout: Vec<String>,
    /// The last lines of stderr.
    pub stderr: Vec<String>,
    /// The command line, for messages.
    pub command: String,
}

impl RunOutput {
    /// The run as a result: success, or one error for every way a run fails — the one
    /// place a child's ending becomes an error. `what` names the step in messages
    /// (`"installing node_modules"`; `None`: the render itself); `workdir` is stripped
    /// from the quoted output.
    pub fn check(
        self,
        what: Option<&str>,
        workdir: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<RunOutput> {
        match self.ended {
            Ended::Exited(s) if s.success() => Ok(self),
            Ended::Cancelled => Err(Error::Cancelled),
            Ended::Exited(s) => {
                let d = diagnose(&self.stdout, &self.stderr, workdir);
                tracing::warn!(status = %s, message = %d.message, "{} failed", what.unwrap_or("the renderer"));
                let message = match what {
                    None => d.message,
                    Some(w) => format!(
                        "{w} failed (`{}` exited with {s}): {}",
                        self.command, d.message
                    ),
                };
                Err(Error::Render {
                    message,
                    details: d.details,
                })
            }
            Ended::TimedOut => Err(Error::Render {
                message: format!(
                    "{} timed out after {} s; it and all its child processes were stopped",
                    what.unwrap_or("the render"),
                    timeout.map_or(0, |t| t.as_secs())
                ),
                details: self.last_lines(5),
            }),
        }
    }

    /// The last `n` lines of stdout, joined.
    #[must_use]
    pub fn last_lines(&self, n: usize) -> String {
        let from = self.stdout.len().saturating_sub(n);
        self.stdout[from..].join("\n")
    }
}

type Tail = Arc<Mutex<VecDeque<String>>>;
/// Where parsed progress goes.
pub(super) type Report = Arc<dyn Fn(RenderProgress) + Send + Sync>;

fn push(tail: &Tail, line: String) {
    let mut t = tail.lock().expect("tail lock");
    if t.len() == TAIL_LINES {
        t.pop_front();
    }
    t.push_back(line);
}

async fn drain<R: AsyncRead + Unpin>(
    stream: R,
    tail: Tail,
    mut parser: Option<(Box<dyn LineParser>, Report)>,
    log: Option<(Arc<JobLog>, Stream)>,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&buf);
        // A terminal-style renderer redraws with `\r`; each redraw is a line.
        for line in text.trim_end_matches(['\n', '\r']).split('\r') {
            if let Some((p, report)) = &mut parser
                && let Some(ev) = p.line(line)
            {
                report(ev);
            }
            if let Some((log, stream)) = &log {
                log.line(*stream, line);
            }
            push(&tail, line.to_owned());
        }
    }
}

/// Reads the child's stdout and stderr into tails, each through its parser if any.
fn read_streams(
    child: &mut tokio::process::Child,
    parsers: [Option<Box<dyn LineParser>>; 2],
    report: Report,
    log: Option<&Arc<JobLog>>,
) -> ([tokio::task::JoinHandle<()>; 2], Tail, Tail) {
    let (out_tail, err_tail): (Tail, Tail) = Default::default();
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let [out_parser, err_parser] = parsers;
    let readers = [
        tokio::spawn(drain(
            stdout,
            Arc::clone(&out_tail),
            out_parser.map(|p| (p, Arc::clone(&report))),
            log.map(|l| (Arc::clone(l), Stream::Out)),
        )),
        tokio::spawn(drain(
            stderr,
            Arc::clone(&err_tail),
            err_parser.map(|p| (p, report)),
            log.map(|l| (Arc::clone(l), Stream::Err)),
        )),
    ];
    (readers, out_tail, err_tail)
}

/// Kills the process group when dropped, so a run abandoned mid-way (its future
/// dropped, the runtime shutting down) leaves no process behind either.
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        signal_group(self.0, Signal::SIGKILL);
    }
}

fn signal_group(pgid: i32, sig: Signal) {
    // ESRCH (the group is gone) is the expected case after a clean exit.
    let _ = killpg(Pid::from_raw(pgid), sig);
}

/// Runs `spec`, reporting parsed stdout progress to `report` and writing both streams
/// to `log` if given. Whatever way it ends, no process of its group is left behind.
pub async fn run(
    spec: &CommandSpec,
    timeout: Option<Duration>,
    cancel: &CancellationToken,
    parser: Box<dyn LineParser>,
    report: Report,
    log: Option<&Arc<JobLog>>,
) -> Result<RunOutput> {
    run_parsing(spec, timeout, cancel, [Some(parser), None], report, log).await
}

/// As [`run`], with a parser for each stream: stdout's, then stderr's (an installer
/// writes its progress there).
pub async fn run_parsing(
    spec: &CommandSpec,
    timeout: Option<Duration>,
    cancel: &CancellationToken,
    parsers: [Option<Box<dyn LineParser>>; 2],
    report: Report,
    log: Option<&Arc<JobLog>>,
) -> Result<RunOutput> {
    if let Some(l) = log {
        l.section(&format!("$ {}", spec.display()));
    }
    let ended = run_group(spec, timeout, cancel, parsers, report, log).await?;
    if let Some(l) = log {
        l.section(&match ended.ended {
            Ended::Exited(s) => s.to_string(),
            Ended::TimedOut => "timed out: the process group was stopped".into(),
            Ended::Cancelled => "cancelled: the process group was stopped".into(),
        });
    }
    Ok(ended)
}

/// Runs `spec` in its own process group until it exits, times out or is cancelled.
async fn run_group(
    spec: &CommandSpec,
    timeout: Option<Duration>,
    cancel: &CancellationToken,
    parsers: [Option<Box<dyn LineParser>>; 2],
    report: Report,
    log: Option<&Arc<JobLog>>,
) -> Result<RunOutput> {
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| RenderError::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| Error::Internal("the renderer exited before it could be watched".into()))?;
    let guard = GroupGuard(pgid);
    let (readers, out_tail, err_tail) = read_streams(&mut child, parsers, report, log);
    let limit = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        status = child.wait() => Ended::Exited(status.map_err(|source| RenderError::Wait { program: spec.program.clone(), source })?),
        () = limit => Ended::TimedOut,
        () = cancel.cancelled() => Ended::Cancelled,
    };
    if !matches!(ended, Ended::Exited(_)) {
        signal_group(pgid, Signal::SIGTERM);
        if tokio::time::timeout(TERM_GRACE, child.wait())
            .await
            .is_err()
        {
            tracing::warn!(pgid, "renderer ignored SIGTERM; killing its process group");
        }
    }
    // Children that outlive the leader (a browser, a background encoder) go too.
    signal_group(pgid, Signal::SIGKILL);
    let _ = child.wait().await;
    for r in readers {
        // Streams close once every process holding them is gone.
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    drop(guard);
    let take = |t: &Tail| t.lock().expect("tail lock").drain(..).collect();
    Ok(RunOutput {
        ended,
        stdout: take(&out_tail),
        stderr: take(&err_tail),
        command: spec.display(),
    })
}
