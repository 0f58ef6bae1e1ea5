//! The terminal side: raw mode and alternate screen (restored on every exit, panic included),
//! and the event loop that feeds keys, store updates and clock ticks to the app and draws only
//! when something changed.

use super::app::{handle_key, App, Intent};
use super::data::FeedUpdate;
use super::views::render;
use crate::store::model::{Action, Target};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use crossterm::{cursor, execute, terminal};
use futures::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{self, Write};
use std::sync::Once;
use std::time::Duration;
use tokio::sync::mpsc;

/// What reaches the loop besides keys.
pub enum Msg {
    Feed(Box<FeedUpdate>),
    /// The outcome of writing a command row: its id, or why it could not be written.
    Submitted(Result<i64, String>),
}

/// Carries out a submission off the UI task and answers with `Msg::Submitted`.
pub type Submitter = Box<dyn Fn(Action, Target, serde_json::Value) + Send>;

/// Frames are drawn at most this often, however fast updates arrive.
const FRAME: Duration = Duration::from_millis(33);

/// Put the terminal back: leave the alternate screen, show the cursor, cooked mode.
pub fn restore() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        terminal::EndSynchronizedUpdate,
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

static HOOK: Once = Once::new();

/// Restore the terminal before any panic message is printed, so the message is readable and
/// the shell is usable afterwards.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            tracing::error!("panic: {info}");
            prev(info);
        }));
    });
}

/// Restores the terminal when dropped: covers early returns and errors.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Run the cockpit until the operator quits. `rx` carries store updates and submission
/// results; `detail` tells the feed which database the detail view shows.
pub async fn run(
    mut app: App,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    submit: Submitter,
    detail: tokio::sync::watch::Sender<Option<String>>,
) -> anyhow::Result<()> {
    install_panic_hook();
    terminal::enable_raw_mode().map_err(|e| {
        anyhow::anyhow!("cannot switch the terminal to raw mode (is this a terminal?): {e}")
    })?;
    let _guard = Guard;
    execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)?;
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    term.clear()?;
    let size = term.size()?;
    app.size = (size.width, size.height);

    let mut keys = EventStream::new();
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    let mut rx_open = true;
    let mut last_frame = tokio::time::Instant::now() - FRAME;
    loop {
        if dirty {
            let wait = FRAME.saturating_sub(last_frame.elapsed());
            if wait.is_zero() {
                draw(&mut term, &app)?;
                dirty = false;
                last_frame = tokio::time::Instant::now();
                let _ = detail.send_if_modified(|cur| {
                    let want = (app.view == super::app::View::Detail)
                        .then(|| app.detail.clone())
                        .flatten();
                    if *cur != want {
                        *cur = want;
                        true
                    } else {
                        false
                    }
                });
            }
        }
        let frame_due = dirty;
        let sleep = tokio::time::sleep(FRAME.saturating_sub(last_frame.elapsed()));
        tokio::select! {
            biased;
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind == KeyEventKind::Press => {
                    match handle_key(&mut app, k) {
                        Some(Intent::Quit) => break,
                        Some(Intent::Submit { action, target, args }) => submit(action, target, args),
                        None => {}
                    }
                    dirty = true;
                }
                Some(Ok(TermEvent::Resize(w, h))) => {
                    app.size = (w, h);
                    app.refresh_rows();
                    term.autoresize()?;
                    dirty = true;
                }
                Some(Ok(_)) => {}
                // The terminal went away (SSH dropped): leave cleanly; the engine keeps state.
                Some(Err(e)) => return Err(anyhow::anyhow!("terminal input failed: {e}")),
                None => break,
            },
            msg = rx.recv(), if rx_open => match msg {
                Some(Msg::Feed(u)) => {
                    let mut changed = app.on_feed(*u);
                    // Coalesce a burst of updates into one frame.
                    while let Ok(m) = rx.try_recv() {
                        match m {
                            Msg::Feed(u) => changed |= app.on_feed(*u),
                            Msg::Submitted(r) => { app.on_submitted(r); changed = true; }
                        }
                    }
                    dirty |= changed;
                }
                Some(Msg::Submitted(r)) => {
                    app.on_submitted(r);
                    dirty = true;
                }
                None => rx_open = false,
            },
            _ = clock.tick() => {
                dirty |= app.on_tick(chrono::Utc::now());
            }
            _ = sleep, if frame_due => {}
        }
    }
    Ok(())
}

fn draw<W: Write>(term: &mut Terminal<CrosstermBackend<W>>, app: &App) -> io::Result<()> {
    // Synchronized output: the terminal shows the whole frame at once (no tearing over SSH).
    execute!(term.backend_mut(), terminal::BeginSynchronizedUpdate)?;
    term.draw(|f| render(app, f))?;
    execute!(term.backend_mut(), terminal::EndSynchronizedUpdate)?;
    Ok(())
}
