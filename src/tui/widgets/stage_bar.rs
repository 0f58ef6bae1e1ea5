//! A bar split by stage, used by the Waves and Program views.

use crate::lifecycle::Stage;
use crate::tui::theme::{stage_code, Theme};
use ratatui::text::Span;

/// A bar of `w` cells split by stage, coloured (or lettered without colour).
pub fn stage_bar(th: &Theme, counts: &[usize; Stage::COUNT], w: usize) -> Vec<Span<'static>> {
    let total: usize = counts.iter().sum();
    if total == 0 || w == 0 {
        return vec![Span::styled(" ".repeat(w), th.muted)];
    }
    // Largest-remainder split so the cells add up to w and every present stage shows.
    let mut cells: Vec<(usize, usize, f64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, c)| {
            let exact = *c as f64 * w as f64 / total as f64;
            (i, exact.floor() as usize, exact - exact.floor())
        })
        .collect();
    for c in cells.iter_mut() {
        if c.1 == 0 && w >= counts.iter().filter(|c| **c > 0).count() {
            c.1 = 1;
            c.2 = 0.0;
        }
    }
    let mut used: usize = cells.iter().map(|c| c.1).sum();
    while used < w {
        let Some(best) = cells.iter_mut().max_by(|a, b| a.2.total_cmp(&b.2)) else {
            break;
        };
        best.1 += 1;
        best.2 = -1.0;
        used += 1;
    }
    while used > w {
        let Some(big) = cells.iter_mut().max_by_key(|c| c.1) else {
            break;
        };
        big.1 -= 1;
        used -= 1;
    }
    cells
        .into_iter()
        .filter(|c| c.1 > 0)
        .map(|(i, n, _)| {
            let st = Stage::ALL[i];
            let ch = if th.no_color {
                stage_code(st)
            } else {
                th.sym.bar
            };
            Span::styled(std::iter::repeat_n(ch, n).collect::<String>(), th.stage(st))
        })
        .collect()
}
