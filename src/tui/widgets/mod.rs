//! Small drawing pieces shared by the views: the bordered block, a centred box, styles and
//! short labels.

pub mod lag_chart;
pub mod stage_bar;

use crate::checks::Status;
use crate::lifecycle::Stage;
use crate::store::model::DbState;
use crate::tui::data::Severity;
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Block;
use ratatui::Frame;

pub fn block<'a>(th: &Theme, title: impl Into<Line<'a>>) -> Block<'a> {
    Block::bordered()
        .border_set(th.sym.border)
        .border_style(th.border)
        .title(title.into().style(th.title))
}

/// Left-aligned lines drawn top-down inside `block`, each cut at the right edge: cell for cell
/// what `Paragraph` draws without wrap or scroll (a line's own style goes on its characters
/// only, not on the rest of its row), at about half the cost per character, since Paragraph's
/// truncator gathers each line's graphemes before drawing them (callgrind, Program view).
pub fn lines_in(f: &mut Frame, block: Block, lines: Vec<Line>, area: Rect) {
    let inner = block.inner(area);
    f.render_widget(block, area);
    for (i, mut line) in lines.into_iter().take(inner.height as usize).enumerate() {
        let st = std::mem::take(&mut line.style);
        for s in &mut line.spans {
            s.style = st.patch(s.style);
        }
        let row = Rect {
            y: inner.y + i as u16,
            height: 1,
            ..inner
        };
        f.render_widget(line, row);
    }
}

pub fn stage_text(th: &Theme, d: &DbState) -> String {
    match (d.stage, d.held_stage) {
        (Stage::Failed, Some(h)) => format!("{} failed@{}", th.sym.fail, h.as_str()),
        (Stage::Paused, Some(h)) => format!("paused@{}", h.as_str()),
        (Stage::Failed, None) => format!("{} failed", th.sym.fail),
        (s, _) => s.as_str().to_string(),
    }
}

pub fn check_style(th: &Theme, s: Status) -> (&'static str, Style) {
    match s {
        Status::Pass => (th.sym.ok, th.ok),
        Status::Warn => (th.sym.warn, th.warn),
        Status::Fail => (th.sym.fail, th.fail),
    }
}

pub fn short_kind(k: &str) -> &str {
    k.strip_prefix("db.").unwrap_or(k)
}

pub fn sev_style(th: &Theme, s: Severity) -> Style {
    match s {
        Severity::Info => th.info,
        Severity::Warn => th.warn,
        Severity::Fail => th.fail,
    }
}

pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
