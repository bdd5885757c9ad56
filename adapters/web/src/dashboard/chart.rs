//! Charts as inline SVG, drawn on the server: no script, no style
//! attributes (the page's content security policy forbids inline styles),
//! labels escaped.

use std::fmt::Write;

/// Colours of the series, in order.
const PALETTE: [&str; 6] = [
    "#4f7cac", "#c0504d", "#9bbb59", "#8064a2", "#4bacc6", "#f79646",
];

/// One bar of a stacked bar chart: its label and one value per series.
pub(crate) struct Bar {
    pub(crate) label: String,
    pub(crate) values: Vec<u64>,
}

/// Text for SVG, escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A stacked bar chart of `bars`, one colour per series named in `series`,
/// with a legend; `title` is read out by screen readers.
pub(crate) fn stacked_bars(title: &str, series: &[String], bars: &[Bar]) -> String {
    const WIDTH: f64 = 720.0;
    const HEIGHT: f64 = 220.0;
    const LEFT: f64 = 60.0;
    const BOTTOM: f64 = 30.0;
    const TOP: f64 = 10.0;
    let max = bars
        .iter()
        .map(|bar| bar.values.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot = (WIDTH - LEFT) / bars.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\">",
        HEIGHT + 20.0 * series.len().div_ceil(4) as f64,
        escape(title)
    );
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#666\">{max}</text>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{WIDTH}\" y2=\"{TOP}\" stroke=\"#ddd\"/>\
         <line x1=\"{LEFT}\" y1=\"{}\" x2=\"{WIDTH}\" y2=\"{}\" stroke=\"#999\"/>",
        LEFT - 6.0,
        TOP + 4.0,
        HEIGHT - BOTTOM,
        HEIGHT - BOTTOM
    );
    for (i, bar) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let width = slot * 0.7;
        let mut y = HEIGHT - BOTTOM;
        for (s, value) in bar.values.iter().enumerate() {
            if *value == 0 {
                continue;
            }
            let height = plot_height * *value as f64 / max as f64;
            y -= height;
            let name = series.get(s).map(String::as_str).unwrap_or("");
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{height:.1}\" \
                 fill=\"{}\"><title>{}: {} {value}</title></rect>",
                PALETTE[s % PALETTE.len()],
                escape(&bar.label),
                escape(name)
            );
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#666\">{}</text>",
            x + width / 2.0,
            HEIGHT - BOTTOM + 14.0,
            escape(&bar.label)
        );
    }
    for (s, name) in series.iter().enumerate() {
        let x = LEFT + 170.0 * (s % 4) as f64;
        let y = HEIGHT + 20.0 * (s / 4) as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{y}\" font-size=\"11\" fill=\"#333\">{}</text>",
            y - 9.0,
            PALETTE[s % PALETTE.len()],
            x + 14.0,
            escape(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A small line of `values` (a sparkline), `label` for screen readers.
pub(crate) fn sparkline(label: &str, values: &[u64]) -> String {
    const WIDTH: f64 = 240.0;
    const HEIGHT: f64 = 36.0;
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = WIDTH / (values.len().max(2) - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                HEIGHT - 2.0 - (HEIGHT - 4.0) * *v as f64 / max
            )
        })
        .collect();
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\"><polyline fill=\"none\" stroke=\"#4f7cac\" \
         stroke-width=\"1.5\" points=\"{}\"/></svg>",
        escape(label),
        points.join(" ")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scale_to_the_largest() {
        let svg = stacked_bars(
            "tokens",
            &["<script>".into(), "b".into()],
            &[
                Bar {
                    label: "d1".into(),
                    values: vec![10, 10],
                },
                Bar {
                    label: "d2".into(),
                    values: vec![5, 0],
                },
            ],
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(
            svg.contains(">20</text>"),
            "the axis shows the largest stack: {svg}"
        );
        assert!(!svg.contains("style="));
        assert_eq!(
            svg.matches("<rect").count(),
            3 + 2,
            "three bars, two legend keys"
        );
    }
}
