//! Command-line entry points of this module: `wavedeck tui` (`wavedeck demo`, which opens the
//! same cockpit, is `rehearsal::demo`).

use super::app::App;
use super::data::Data;
use super::guards::Limits;
use super::term::{self, Msg};
use super::theme::{no_color_from_env, Theme};
use crate::config::Config;
use crate::store::model::Role;
use crate::store::Store;
use std::process::ExitCode;
use tokio::sync::{mpsc, watch};

/// Look flags shared by `tui` and `demo`.
#[derive(clap::Args, Clone, Debug)]
pub struct LookArgs {
    /// Colour theme (the global `--theme`, which `main` fills in so that it means the same
    /// before or after the command).
    #[arg(skip)]
    pub theme: String,
    /// ASCII only (the global `--ascii`).
    #[arg(skip)]
    pub ascii: bool,
}

impl Default for LookArgs {
    fn default() -> Self {
        LookArgs {
            theme: "dark".into(),
            ascii: false,
        }
    }
}

#[derive(clap::Args, Default)]
#[command(
    after_help = "Keys: ? help, : command line, / filter, 1-4 views, q quit.\n\nExamples:\n  wavedeck tui --read-only\n  wavedeck tui --theme 16color --ascii\n  NO_COLOR=1 wavedeck tui"
)]
pub struct TuiArgs {
    /// Watch only (the global `--read-only`, filled in by `main`).
    #[arg(skip)]
    pub read_only: bool,
    #[command(flatten)]
    pub look: LookArgs,
}

pub async fn run_tui(args: TuiArgs, cfg: Config) -> anyhow::Result<ExitCode> {
    let _log = crate::logging::init(&cfg.log_dir)?;
    let theme = Theme::load(&args.look.theme, args.look.ascii, no_color_from_env())?;
    let store = Store::open_existing(&cfg.store).await?;
    // One engine per store: start one here unless another process holds the store, or this
    // is a watch-only session. A failure to start is shown, and the cockpit still opens.
    let mut engine = None;
    let mut notice = None;
    if !args.read_only {
        match store.lease_holder().await {
            Ok(Some(l)) => notice = Some(format!("attached: the engine runs in {}", l.holder)),
            Ok(None) => {
                let started = match crate::drs::DrsClient::from_config(&cfg) {
                    Ok(drs) => crate::engine::spawn(cfg.clone(), store.clone(), drs).await,
                    Err(e) => Err(anyhow::anyhow!("{e}")),
                };
                match started {
                    Ok(h) => engine = Some(h),
                    Err(e) => {
                        tracing::warn!("cockpit: no engine started: {e:#}");
                        notice = Some(format!("no engine started: {e:#}"));
                    }
                }
            }
            Err(e) => notice = Some(format!("cannot read the engine lease: {e}")),
        }
    }
    let r = cockpit(store.clone(), &cfg, theme, args.read_only, notice).await;
    if let Some(h) = engine {
        if let Err(e) = h.shutdown().await {
            tracing::warn!("engine stopped with: {e:#}");
        }
    }
    store.close().await;
    r?;
    Ok(ExitCode::SUCCESS)
}

/// Run the cockpit on an open store until the operator quits.
pub async fn cockpit(
    store: Store,
    cfg: &Config,
    theme: Theme,
    read_only: bool,
    notice: Option<String>,
) -> anyhow::Result<()> {
    let mut app = App::new(Data::default(), theme, read_only, chrono::Utc::now());
    // The lead watches read-only: the program at a glance is the first thing to see.
    if read_only {
        app.view = super::app::View::Program;
    }
    if let Some(n) = notice {
        app.flash(n, super::app::Level::Warn);
    }
    app.limits = Limits::from_config(cfg);
    app.plan_limits = crate::plan::PlanLimits::from_config(cfg);
    app.store_label = crate::store::redact_url(&cfg.store);
    app.signoff = cfg.signoff.clone();
    app.who = super::feed::operator_name();
    let role = if read_only {
        Role::Viewer
    } else {
        Role::Operator
    };
    let (tx, rx) = mpsc::unbounded_channel::<Msg>();
    let (detail_tx, detail_rx) = watch::channel(None);
    let feed = tokio::spawn(super::feed::run(store.clone(), tx.clone(), detail_rx));
    let submit = super::feed::submitter(store, tx, app.who.clone(), role);
    tracing::info!("cockpit started (read_only={read_only})");
    let r = term::run(app, rx, submit, detail_tx).await;
    feed.abort();
    tracing::info!("cockpit stopped");
    r
}
