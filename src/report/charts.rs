//! The report's charts as SVG text, drawn by `plotters` (its SVG backend: text stays `<text>`
//! elements, set by the browser). Pure: series in, SVG out.

use super::build::Series;
use plotters::prelude::*;

const SIZE: (u32, u32) = (860, 360);
/// Series named in the legend; a wave of a hundred databases would bury the chart in names.
const LEGEND_MAX: usize = 8;

/// What one chart shows.
pub struct Chart<'a> {
    pub title: &'a str,
    pub x: &'a str,
    pub y: &'a str,
    pub series: &'a [Series],
    /// Steps (the burn-down) are drawn without a y floor above zero.
    pub from_zero: bool,
}

fn bounds(series: &[Series], from_zero: bool) -> (f64, f64, f64, f64) {
    let pts = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    if from_zero || y0 > 0.0 {
        y0 = y0.min(0.0);
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.08).max(1e-9);
    (
        x0,
        x1,
        y0,
        y1 + pad.max(if y1 - y0 < 1e-9 { 1.0 } else { 0.0 }),
    )
}

/// The chart as an SVG document, or `None` when no series has a point.
pub fn svg(c: &Chart) -> Option<Result<String, String>> {
    if c.series.iter().all(|(_, p)| p.is_empty()) {
        return None;
    }
    let mut out = String::new();
    let drawn = draw(c, &mut out).map_err(|e| format!("chart {:?}: {e}", c.title));
    Some(drawn.map(|()| out))
}

fn draw(c: &Chart, out: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (x0, x1, y0, y1) = bounds(c.series, c.from_zero);
    let mut chart = ChartBuilder::on(&root)
        .caption(c.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(c.x)
        .y_desc(c.y)
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, (name, pts)) in c.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let line = LineSeries::new(
            pts.iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite()),
            color.stroke_width(2),
        );
        let drawn = chart.draw_series(line)?;
        if i < LEGEND_MAX {
            drawn.label(name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        } else if i == LEGEND_MAX {
            let more = format!("and {} more", c.series.len() - LEGEND_MAX);
            drawn
                .label(more)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(180, 180, 180))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_one_path_per_series_and_its_names() {
        let series = vec![
            (
                "pilot-01".to_string(),
                vec![(0.0, 1.0), (1.0, 3.0), (2.0, 0.5)],
            ),
            ("pilot-02".to_string(), vec![(0.0, 2.0), (2.0, 2.0)]),
        ];
        let c = Chart {
            title: "CDC lag",
            x: "s",
            y: "lag",
            series: &series,
            from_zero: true,
        };
        let s = svg(&c).unwrap().unwrap();
        assert!(s.starts_with("<svg"), "{}", &s[..80.min(s.len())]);
        assert!(s.contains("pilot-01") && s.contains("pilot-02"));
        assert!(s.matches("<polyline").count() >= 2, "{s}");
    }

    #[test]
    fn no_points_no_chart_and_one_point_still_draws() {
        let empty: Vec<Series> = vec![("a".into(), vec![])];
        let c = |s| Chart {
            title: "t",
            x: "x",
            y: "y",
            series: s,
            from_zero: false,
        };
        assert!(svg(&c(&empty)).is_none());
        let one: Vec<Series> = vec![("a".into(), vec![(5.0, 5.0)])];
        assert!(svg(&c(&one)).unwrap().is_ok());
        let nan: Vec<Series> = vec![("a".into(), vec![(f64::NAN, 1.0), (1.0, f64::INFINITY)])];
        assert!(svg(&c(&nan)).unwrap().is_ok());
    }
}
