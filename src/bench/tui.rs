//! `wavedeck bench tui`: frame render time of the Databases view with 2000 databases at
//! 200x60 (and of the Program and Waves views over 169 waves), and bytes written to the
//! terminal per second while idle. Runs the real `render`
//! through ratatui's real backends; prints figures, asserts nothing.

use crate::tui::app::{handle_key, App};
use crate::tui::fixture;
use crate::tui::theme::Theme;
use crate::tui::views::render;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use crossterm::{execute, terminal};
use ratatui::backend::{CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use std::io::{self, Write};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
#[command(after_help = "Example:\n  wavedeck bench tui --frames 2000")]
pub struct TuiBenchArgs {
    /// Frames to time.
    #[arg(long, default_value_t = 2000)]
    pub frames: usize,
    /// Databases in the synthetic factory.
    #[arg(long, default_value_t = 2000)]
    pub databases: usize,
    /// Simulated idle seconds for the bytes-per-second figure.
    #[arg(long, default_value_t = 300)]
    pub idle_seconds: u64,
}

/// Counts bytes instead of writing them anywhere (the count is shared, so it can be read while
/// the backend owns the writer).
#[derive(Default, Clone)]
pub struct CountingWriter {
    pub bytes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl CountingWriter {
    pub fn count(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn app(n: usize) -> anyhow::Result<App> {
    let th = Theme::load("dark", false, false)?;
    let mut a = App::new(fixture::large(n), th, false, fixture::now());
    a.size = (200, 60);
    handle_key(
        &mut a,
        KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE),
    );
    Ok(a)
}

/// Scroll one row per frame (wrapping), so every frame has new content to draw.
fn step(a: &mut App) {
    let code = if a.db_cursor + 1 >= a.rows.len() {
        KeyCode::Home
    } else {
        KeyCode::Down
    };
    handle_key(a, KeyEvent::new(code, KeyModifiers::NONE));
}

pub fn run(args: TuiBenchArgs) -> anyhow::Result<()> {
    let (w, h) = (200u16, 60u16);
    println!(
        "tui bench: Databases view, {} databases, {w}x{h}, {} frames, scrolling one row per frame",
        args.databases, args.frames
    );

    // 1. render into ratatui's TestBackend (layout + widgets + buffer diff).
    let mut a = app(args.databases)?;
    let mut t = Terminal::new(TestBackend::new(w, h))?;
    t.draw(|f| render(&a, f))?;
    let mut times = Vec::with_capacity(args.frames);
    for _ in 0..args.frames {
        step(&mut a);
        let t0 = Instant::now();
        t.draw(|f| render(&a, f))?;
        times.push(t0.elapsed());
    }
    times.sort();
    println!(
        "  frame (TestBackend):        p50 {}  p99 {}  max {}",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.99)),
        ms(pct(&times, 1.0))
    );

    // 2. the same through the crossterm backend into a byte counter: escape sequences included.
    let mut a = app(args.databases)?;
    let opts = TerminalOptions {
        viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
    };
    let counter = CountingWriter::default();
    let mut t = Terminal::with_options(CrosstermBackend::new(counter.clone()), opts)?;
    t.draw(|f| render(&a, f))?;
    let first = counter.count();
    let mut times = Vec::with_capacity(args.frames);
    for _ in 0..args.frames {
        step(&mut a);
        let t0 = Instant::now();
        execute!(t.backend_mut(), terminal::BeginSynchronizedUpdate)?;
        t.draw(|f| render(&a, f))?;
        execute!(t.backend_mut(), terminal::EndSynchronizedUpdate)?;
        times.push(t0.elapsed());
    }
    times.sort();
    let per_frame = (counter.count() - first) / args.frames.max(1) as u64;
    println!(
        "  frame (crossterm to sink):  p50 {}  p99 {}  max {}  ({} bytes first frame, {} bytes per scrolled frame)",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.99)),
        ms(pct(&times, 1.0)),
        first,
        per_frame
    );

    // 3. idle: nothing changes in the store; the clock ticks once a second (what the event loop
    // does), and every tick that asks for a redraw is drawn.
    let mut a = app(args.databases)?;
    let counter = CountingWriter::default();
    let mut t = Terminal::with_options(
        CrosstermBackend::new(counter.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, w, h)),
        },
    )?;
    t.draw(|f| render(&a, f))?;
    let start = counter.count();
    let mut frames = 0;
    for s in 1..=args.idle_seconds {
        if a.on_tick(fixture::now() + chrono::Duration::seconds(s as i64)) {
            execute!(t.backend_mut(), terminal::BeginSynchronizedUpdate)?;
            t.draw(|f| render(&a, f))?;
            execute!(t.backend_mut(), terminal::EndSynchronizedUpdate)?;
            frames += 1;
        }
    }
    let idle = counter.count() - start;
    println!(
        "  idle: {} bytes over {} simulated seconds ({} redraws) = {:.0} B/s",
        idle,
        args.idle_seconds,
        frames,
        idle as f64 / args.idle_seconds.max(1) as f64
    );
    println!("  aim: p99 < 2 ms, idle < 2048 B/s");
    program(&args, w, h)?;
    waves(&args, w, h)
}

/// The Waves view over the same factory (169 waves, the one-database waves folded and, in a
/// second run, unfolded), the cursor moving one wave per frame so each page is drawn in turn.
fn waves(args: &TuiBenchArgs, w: u16, h: u16) -> anyhow::Result<()> {
    let waves = 169;
    for unfold in [false, true] {
        let th = Theme::load("dark", false, false)?;
        let mut a = App::new(
            crate::tui::fleet::data(args.databases, waves),
            th,
            true,
            fixture::now(),
        );
        a.size = (w, h);
        handle_key(
            &mut a,
            KeyEvent::new(KeyCode::Char('1'), KeyModifiers::NONE),
        );
        if unfold {
            handle_key(
                &mut a,
                KeyEvent::new(KeyCode::Char('+'), KeyModifiers::NONE),
            );
        }
        println!(
            "tui bench: Waves view, {} databases, {waves} waves ({} rows, one-db waves {}), {w}x{h}, {} frames, one wave down per frame",
            args.databases,
            a.wave_rows.len(),
            if unfold { "unfolded" } else { "folded" },
            args.frames
        );
        let mut t = Terminal::new(TestBackend::new(w, h))?;
        t.draw(|f| render(&a, f))?;
        let mut times = Vec::with_capacity(args.frames);
        for _ in 0..args.frames {
            let code = if a.wave_cursor + 1 >= a.wave_rows.len() {
                KeyCode::Home
            } else {
                KeyCode::Down
            };
            handle_key(&mut a, KeyEvent::new(code, KeyModifiers::NONE));
            let t0 = Instant::now();
            t.draw(|f| render(&a, f))?;
            times.push(t0.elapsed());
        }
        times.sort();
        println!(
            "  frame (TestBackend):        p50 {}  p99 {}  max {}",
            ms(pct(&times, 0.5)),
            ms(pct(&times, 0.99)),
            ms(pct(&times, 1.0))
        );
    }
    Ok(())
}

/// The Program view over the factory's shape (`fleet`: 2000 databases, 169 waves, a week of
/// stage marks): the frame, and apart from it the figures a data change recomputes.
fn program(args: &TuiBenchArgs, w: u16, h: u16) -> anyhow::Result<()> {
    let waves = 169;
    let data = crate::tui::fleet::data(args.databases, waves);
    let marks = data.marks.len();
    let th = Theme::load("dark", false, false)?;
    let mut a = App::new(data, th, true, fixture::now());
    a.size = (w, h);
    handle_key(
        &mut a,
        KeyEvent::new(KeyCode::Char('0'), KeyModifiers::NONE),
    );
    println!(
        "tui bench: Program view, {} databases, {waves} waves, {marks} stage marks, {w}x{h}, {} frames",
        args.databases, args.frames
    );
    let mut t = Terminal::new(TestBackend::new(w, h))?;
    t.draw(|f| render(&a, f))?;
    let mut times = Vec::with_capacity(args.frames);
    for i in 0..args.frames {
        // One second on: the clock in the header changes, the figures are kept.
        a.now = fixture::now() + chrono::Duration::seconds(i as i64 % 50);
        let t0 = Instant::now();
        t.draw(|f| render(&a, f))?;
        times.push(t0.elapsed());
    }
    times.sort();
    println!(
        "  frame (TestBackend):        p50 {}  p99 {}  max {}",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.99)),
        ms(pct(&times, 1.0))
    );
    // What a data change or a new minute costs: aggregation, calendar and pace from scratch.
    let runs = (args.frames / 10).max(10);
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let now = fixture::now() + chrono::Duration::minutes(i as i64);
        let t0 = Instant::now();
        let p = crate::program::build(&a.data.dbs, &a.data.waves, &a.data.marks, now);
        times.push(t0.elapsed());
        std::hint::black_box(p);
    }
    times.sort();
    println!(
        "  figures recomputed ({runs} runs): p50 {}  p99 {}  max {}  (on data change or a new minute, not per frame)",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.99)),
        ms(pct(&times, 1.0))
    );
    Ok(())
}
