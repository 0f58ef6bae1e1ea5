//! The lag chart of the Database view.

use crate::tui::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

/// A multi-row sparkline of lag with the threshold drawn across it.
pub fn lag_chart(buf: &mut Buffer, area: Rect, points: &[f64], threshold: f64, th: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let w = area.width as usize;
    let pts = &points[points.len().saturating_sub(w)..];
    let max = pts
        .iter()
        .copied()
        .fold(threshold * 1.5, f64::max)
        .max(0.001);
    let h8 = area.height as f64 * 8.0;
    let t_row = ((threshold / max) * area.height as f64).floor() as u16; // rows from bottom
    for (i, v) in pts.iter().enumerate() {
        let x = area.x + i as u16;
        let level = ((v / max) * h8).round() as i64;
        for r in 0..area.height {
            let y = area.y + area.height - 1 - r;
            let fill = (level - r as i64 * 8).clamp(0, 8) as usize;
            if fill > 0 {
                buf[(x, y)]
                    .set_char(th.sym.spark[fill])
                    .set_style(th.lag(*v));
            }
        }
    }
    if t_row < area.height {
        let y = area.y + area.height - 1 - t_row;
        for x in area.x..area.x + area.width {
            let cell = &mut buf[(x, y)];
            if cell.symbol() == " " {
                cell.set_char(th.sym.threshold).set_style(th.threshold);
            }
        }
    }
}
