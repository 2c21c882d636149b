//! `reel ui`: the web viewer on loopback, signed in through a token in the printed URL.

use std::io::Write;

use super::args::{Cli, UiArgs};
use super::run::{Outcome, open};
use reelstore::ui::{UiAccess, UiOptions, serve_ui};
use reelstore::{Error, Ident, TokenTable};

/// Serves the viewer until SIGINT/SIGTERM.
pub async fn ui(cli: &Cli, args: &UiArgs) -> Outcome {
    let repo = open(cli).await?;
    let access = match &args.tokens {
        Some(path) => UiAccess::Tokens {
            sandbox: Ident::parse(cli.sandbox.as_deref().unwrap_or("local"), "sandbox id")?,
            table: TokenTable::parse(
                &std::fs::read_to_string(path).map_err(Error::io("read", path))?,
            )?,
        },
        None => UiAccess::Local {
            caller: super::artifact_run::caller(cli)?,
            token: hex::encode(rand::random::<[u8; 24]>()),
        },
    };
    let token = match &access {
        UiAccess::Local { token, .. } => Some(token.clone()),
        UiAccess::Tokens { .. } => None,
    };
    let renders = match super::render_run::service(&repo, &args.render).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!("rendering from the page disabled: {e}");
            None
        }
    };
    let addr = std::net::SocketAddr::new(args.bind, args.port);
    let open_browser = args.open;
    serve_ui(
        repo,
        addr,
        UiOptions { access, renders },
        super::serve::shutdown_signal(),
        move |bound| {
            let url = match &token {
                Some(t) => format!("http://{bound}/?token={t}"),
                None => format!("http://{bound}/?token=YOUR_TOKEN"),
            };
            let mut out = std::io::stdout();
            let _ = writeln!(out, "reel ui: {url}");
            let _ = out.flush();
            if open_browser && token.is_some() {
                // Best effort: a machine without a desktop still has the printed URL.
                if let Err(e) = std::process::Command::new("xdg-open").arg(&url).spawn() {
                    eprintln!("could not open a browser ({e}); open the address above");
                }
            }
        },
    )
    .await?;
    Ok(())
}
