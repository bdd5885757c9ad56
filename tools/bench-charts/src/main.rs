//! `natter-bench-charts [DIR]`: turns the CSV figures of natter's benchmarks
//! in DIR (default `docs/benchmarks`) into the SVG charts beside them that
//! docs/benchmarks.md shows. A CSV file that is missing is skipped with a
//! note; one that cannot be read is an error.
//!
//! | CSV | written by | chart |
//! |---|---|---|
//! | `soak.csv` (`time_s,rss_kib,answered,errors`) | `scripts/soak.sh` | `soak.svg`: natter's RSS over the run, the ±10 % band |
//! | `telegram.csv` | the natter-telegram burst bench | `telegram-rate.svg` (msg/s), `telegram-memory.svg` (RSS) |
//! | any other `NAME.csv` (`label,SERIES…`, a row per group) | by hand, from a bench's printout | `NAME.svg`: grouped bars |
//!
//! `cargo run -p natter-bench-charts`

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use plotters::prelude::*;

const WIDTH: u32 = 760;
const FONT: &str = "sans-serif";
/// Bar colours, one per series.
const COLOURS: [RGBColor; 4] = [
    RGBColor(0x2b, 0x6c, 0xb0),
    RGBColor(0xe0, 0x7b, 0x39),
    RGBColor(0x4c, 0x9a, 0x5a),
    RGBColor(0x8e, 0x5e, 0xa2),
];

/// A CSV file: its header and its rows, split at commas (no quoting: the
/// benches write none).
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let split = |l: &str| {
            l.split(',')
                .map(|c| c.trim().to_owned())
                .collect::<Vec<_>>()
        };
        let header = split(lines.next().context("an empty CSV file")?);
        let rows = lines.map(split).collect();
        Ok(Self { header, rows })
    }

    fn column(&self, name: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("no column {name}"))
    }

    fn number(&self, row: &[String], name: &str) -> Result<f64> {
        let cell = &row[self.column(name)?];
        cell.parse()
            .with_context(|| format!("{name}: `{cell}` is not a number"))
    }
}

/// A value with as many digits as it deserves.
fn figure(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// An axis tick: whole numbers without decimals.
fn tick(value: &f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        figure(*value)
    }
}

/// Horizontal bars: one group per entry of `groups` (its label above its
/// bars), one bar per series in each, the value written after each bar.
fn grouped_bars(
    path: &Path,
    title: &str,
    unit: &str,
    series: &[String],
    groups: &[(String, Vec<f64>)],
) -> Result<()> {
    let n = groups.len() as f64;
    let height = 90 + groups.len() as u32 * (28 + 22 * series.len() as u32);
    let max = groups
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .fold(0.0_f64, f64::max);
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(8)
        .build_cartesian_2d(0.0..max * 1.3, 0.0..n)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(unit)
        .x_label_formatter(&tick)
        .max_light_lines(1)
        .draw()?;
    let band = 1.0 / (series.len() as f64 + 1.0);
    for (i, (label, values)) in groups.iter().enumerate() {
        let top = n - i as f64;
        chart.draw_series(std::iter::once(Text::new(
            label.clone(),
            (max * 0.005, top - 0.04),
            (FONT, 14).into_font().color(&BLACK),
        )))?;
        for (s, value) in values.iter().enumerate() {
            let upper = top - band * (s as f64 + 0.9);
            let lower = upper - band * 0.8;
            let colour = COLOURS[s % COLOURS.len()];
            chart.draw_series(std::iter::once(Rectangle::new(
                [(0.0, lower), (*value, upper)],
                colour.filled(),
            )))?;
            let name = if series.len() > 1 {
                format!("{} {}", figure(*value), series[s])
            } else {
                figure(*value)
            };
            chart.draw_series(std::iter::once(Text::new(
                name,
                (value + max * 0.01, upper - band * 0.1),
                (FONT, 13).into_font().color(&colour),
            )))?;
        }
    }
    root.present()?;
    Ok(())
}

/// A `label,SERIES…` table as grouped bars; `title` and `unit` from the
/// table's own first two lines if they are `# title: …` / `# unit: …`.
fn table_bars(csv: &Path, svg: &Path) -> Result<()> {
    let text = std::fs::read_to_string(csv)?;
    let meta: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let tmp = std::env::temp_dir().join(format!("natter-chart-{}.csv", std::process::id()));
    std::fs::write(&tmp, body)?;
    let table = Table::read(&tmp);
    let _ = std::fs::remove_file(&tmp);
    let table = table?;
    let series: Vec<String> = table.header[1..].to_vec();
    let groups = table
        .rows
        .iter()
        .map(|row| {
            let values = series
                .iter()
                .map(|s| table.number(row, s))
                .collect::<Result<Vec<_>>>()?;
            Ok((row[0].clone(), values))
        })
        .collect::<Result<Vec<_>>>()?;
    let stem = csv.file_stem().and_then(|s| s.to_str()).unwrap_or("bench");
    grouped_bars(
        svg,
        meta.get("title").copied().unwrap_or(stem),
        meta.get("unit").copied().unwrap_or(""),
        &series,
        &groups,
    )
}

/// The soak's RSS curve, its post-warm-up mean and the ±10 % band.
fn soak(csv: &Path, svg: &Path) -> Result<()> {
    // As benches/soak.rs: the conversation cache fills first.
    const WARMUP_S: f64 = 240.0;
    let table = Table::read(csv)?;
    let mut points = Vec::new();
    let (mut answered, mut errors) = (0.0_f64, 0.0_f64);
    for row in &table.rows {
        let t = table.number(row, "time_s")?;
        points.push((t, table.number(row, "rss_kib")? / 1024.0));
        answered = answered.max(table.number(row, "answered")?);
        errors = errors.max(table.number(row, "errors")?);
    }
    if points.is_empty() {
        bail!("no samples");
    }
    let steady: Vec<f64> = points
        .iter()
        .filter(|(t, _)| *t >= WARMUP_S)
        .map(|(_, m)| *m)
        .collect();
    let mean = steady.iter().sum::<f64>() / steady.len().max(1) as f64;
    let end = points.iter().map(|(t, _)| *t).fold(0.0, f64::max);
    let top = points.iter().map(|(_, m)| *m).fold(mean * 1.1, f64::max) * 1.25;
    let root = SVGBackend::new(svg, (WIDTH, 380)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Soak: natter's RSS, {} messages answered, {} errors",
                answered, errors
            ),
            (FONT, 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        .build_cartesian_2d(0.0..end, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("seconds")
        .y_desc("RSS (MiB)")
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .max_light_lines(1)
        .draw()?;
    let band = RGBColor(0x99, 0x99, 0x99);
    for (level, name) in [
        (mean * 1.1, "+10 %"),
        (mean, "post-warm-up mean"),
        (mean * 0.9, "-10 %"),
    ] {
        chart.draw_series(LineSeries::new(
            [(WARMUP_S.min(end), level), (end, level)],
            band.stroke_width(1),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{name} {level:.1}"),
            (end * 0.78, level + top * 0.045),
            (FONT, 12).into_font().color(&band),
        )))?;
    }
    chart
        .draw_series(LineSeries::new(points, COLOURS[0].stroke_width(2)))?
        .label("natter RSS (MiB)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], COLOURS[0].stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The Telegram burst bench's CSV as two charts: messages/s and memory.
fn telegram(csv: &Path, rate_svg: &Path, memory_svg: &Path) -> Result<()> {
    let table = Table::read(csv)?;
    let mut rates = Vec::new();
    let mut memory = Vec::new();
    for row in &table.rows {
        let limits = &row[table.column("limits")?];
        let streaming = &row[table.column("streaming")?];
        let label = format!(
            "{}, streaming {streaming}",
            if limits == "telegram" {
                "Telegram's limits"
            } else {
                "limits off"
            }
        );
        rates.push((label.clone(), vec![table.number(row, "msg_per_s")?]));
        memory.push((
            label,
            vec![
                table.number(row, "rss_idle_kib")? / 1024.0,
                table.number(row, "rss_peak_kib")? / 1024.0,
            ],
        ));
    }
    grouped_bars(
        rate_svg,
        "Telegram burst: 2,000 messages over 200 chats, model 200 ms",
        "messages answered per second",
        &["msg/s".to_owned()],
        &rates,
    )?;
    grouped_bars(
        memory_svg,
        "Telegram burst: RSS of the bench process (adapter, engine, fake Bot API)",
        "MiB",
        &["idle".to_owned(), "peak".to_owned()],
        &memory,
    )
}

fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("docs/benchmarks"), PathBuf::from);
    let mut csvs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    csvs.sort();
    for csv in csvs {
        let stem = csv
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let written = match stem.as_str() {
            "soak" => {
                let svg = dir.join("soak.svg");
                soak(&csv, &svg).map(|()| vec![svg])
            }
            "telegram" => {
                let (rate, memory) = (
                    dir.join("telegram-rate.svg"),
                    dir.join("telegram-memory.svg"),
                );
                telegram(&csv, &rate, &memory).map(|()| vec![rate, memory])
            }
            _ => {
                let svg = dir.join(format!("{stem}.svg"));
                table_bars(&csv, &svg).map(|()| vec![svg])
            }
        }
        .with_context(|| format!("chart of {}", csv.display()))?;
        for svg in written {
            println!("{} → {}", csv.display(), svg.display());
        }
    }
    Ok(())
}
