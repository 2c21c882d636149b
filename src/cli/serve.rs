//! `reel serve`: the MCP server over stdio or streamable HTTP.

use std::time::Duration;

use super::args::{Cli, ServeArgs};
use super::run::{Outcome, open};
use reelstore::mcp::{ReelServer, ServeOptions, TokenTable, serve_http, serve_stdio};
use reelstore::{Caller, Error, Ident};

/// How often a running server drops expired projects.
const SWEEP_EVERY: Duration = Duration::from_secs(600);

pub(super) async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => {}
    }
}

fn tokens(args: &ServeArgs) -> Result<Option<TokenTable>, Error> {
    let text = match (&args.tokens, std::env::var("REEL_TOKENS").ok()) {
        (Some(path), _) => std::fs::read_to_string(path).map_err(Error::io("read", path))?,
        (None, Some(text)) => text,
        (None, None) if args.allow_anonymous => return Ok(None),
        (None, None) => {
            return Err(Error::Invalid(
                "HTTP mode needs --tokens FILE (or REEL_TOKENS); --allow-anonymous serves loopback without them".into(),
            ));
        }
    };
    TokenTable::parse(&text).map(Some)
}

/// Runs the server until the client disconnects (stdio) or SIGINT/SIGTERM (HTTP).
#[allow(clippy::too_many_lines)] // wiring the options, then one branch per transport
pub async fn serve(cli: &Cli, args: &ServeArgs) -> Outcome {
    let repo = open(cli).await?;
    let artifacts = repo.artifacts();
    let renders = match super::render_run::service(&repo, &args.render).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!("render tools disabled: {e}");
            None
        }
    };
    let with_renders = |server: ReelServer| match &renders {
        Some(r) => server.with_renders(r.clone()),
        None => server,
    };
    let options = ServeOptions {
        sandbox: Ident::parse(cli.sandbox.as_deref().unwrap_or("local"), "sandbox id")?,
        max_inline: args.max_inline,
        allowed_paths: args
            .allow_paths
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect(),
        quota: args.quota,
        timeout: args.timeout,
    };
    let sweeper = {
        let artifacts = artifacts.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = artifacts.sweep().await {
                    tracing::warn!("sweeping expired projects: {e}");
                }
                tokio::time::sleep(SWEEP_EVERY).await;
            }
        })
    };
    let result = match args.http {
        None => {
            let mut me = super::artifact_run::caller(cli)?;
            if me.session.is_none() {
                // One session per server run, unless --session names one.
                let id = format!("run-{}", hex::encode(rand::random::<[u8; 8]>()));
                me = Caller::new(
                    me.sandbox.as_str(),
                    me.user.as_ref().map(Ident::as_str),
                    Some(&id),
                )?;
            }
            serve_stdio(with_renders(ReelServer::for_caller(artifacts, me, options))).await
        }
        Some(port) => {
            let tokens = tokens(args)?;
            let addr = std::net::SocketAddr::new(args.bind, port);
            let server = with_renders(ReelServer::for_http(artifacts, options));
            serve_http(server, addr, tokens, shutdown_signal(), |bound| {
                eprintln!("listening on http://{bound}/mcp");
            })
            .await
        }
    };
    sweeper.abort();
    Ok(result?)
}
