//! The charts: wall time of a test binary against its number of tests, one line per
//! peer, drawn as SVG (log-log or linear), with the raw runs as CSV so that `--replot` can redraw
//! them without measuring.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::measure::{End, Run, Stats};

/// How a line is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stroke {
    Solid,
    /// Drawn wide, for a line that another (dashed) one nearly coincides with.
    Wide,
    /// Dashed, drawn on top of a wide line it nearly coincides with.
    Dashed,
}

/// One line: a peer (and setting) measured at several numbers of tests.
pub struct Line {
    /// Its name in the CSV.
    pub key: &'static str,
    pub label: String,
    pub stroke: Stroke,
    /// (number of tests, runs), ascending.
    pub points: Vec<(usize, Stats)>,
}

/// One chart: `<stem>[-quick].svg` and `.csv` in `benches/results/`.
pub struct Chart {
    pub stem: &'static str,
    pub caption: String,
    /// Log-log axes (for counts over decades), else linear from 0.
    pub log_scale: bool,
    /// In drawing order; colours follow it.
    pub lines: Vec<Line>,
}

impl Chart {
    fn has_points(&self) -> bool {
        self.lines.iter().any(|l| !l.points.is_empty())
    }
}

/// Colour-blind-safe colours, by line.
const COLORS: [RGBColor; 4] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
];

/// Draws `chart` to `path`, with `subtitle` (the machine) under the x axis; nothing if
/// it has no passed runs.
pub fn svg(path: &Path, chart: &Chart, subtitle: &str) {
    let points: Vec<(&Line, Vec<(f64, f64)>)> = chart
        .lines
        .iter()
        .map(|line| {
            let ok = line
                .points
                .iter()
                .filter(|(_, s)| s.ok())
                .map(|(c, s)| (*c as f64, s.wall()))
                .collect();
            (line, ok)
        })
        .collect();
    let all: Vec<(f64, f64)> = points.iter().flat_map(|(_, p)| p.iter().copied()).collect();
    if all.is_empty() {
        return;
    }
    let (x_min, x_max) = all.iter().fold((f64::MAX, 0f64), |(lo, hi), (x, _)| {
        (lo.min(*x), hi.max(*x))
    });
    let (y_min, y_max) = all.iter().fold((f64::MAX, 0f64), |(lo, hi), (_, y)| {
        (lo.min(*y), hi.max(*y))
    });
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).unwrap();
    if chart.log_scale {
        let axes = Axes {
            x_desc: format!("number of tests (log scale); {subtitle}"),
            y_desc: "wall time, s (log scale)",
            // Only the 1-2-5 values: plotters' log axis also labels 30, 40, ... 900,
            // which crowd into each other.
            x_label: &|x| {
                let v = x.round();
                let nice = [1.0, 2.0, 5.0].iter().any(|m| {
                    let decade = v / m;
                    decade >= 1.0 && (decade.log10() - decade.log10().round()).abs() < 1e-9
                });
                if nice && (x - v).abs() < 1e-6 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            },
            y_label: &|y| {
                if *y < 1.0 {
                    format!("{y:.2}")
                } else {
                    format!("{y:.0}")
                }
            },
        };
        let x = (x_min * 0.8..x_max * 1.25).log_scale();
        let y = (y_min * 0.7..y_max * 1.5).log_scale();
        draw(&root, chart, &points, x, y, axes);
    } else {
        let axes = Axes {
            x_desc: format!("number of tests; {subtitle}"),
            y_desc: "wall time, s",
            x_label: &|x| format!("{x:.0}"),
            y_label: &|y| format!("{y:.2}"),
        };
        draw(
            &root,
            chart,
            &points,
            0.0..x_max * 1.05,
            0.0..y_max * 1.15,
            axes,
        );
    }
    root.present().unwrap();
}

/// The axes' descriptions and label formats.
struct Axes<'a> {
    x_desc: String,
    y_desc: &'static str,
    x_label: &'a dyn Fn(&f64) -> String,
    y_label: &'a dyn Fn(&f64) -> String,
}

/// Draws the lines `points` of `chart` on `root`, on axes `x` and `y`.
fn draw<X, Y>(
    root: &DrawingArea<SVGBackend, Shift>,
    chart: &Chart,
    points: &[(&Line, Vec<(f64, f64)>)],
    x: X,
    y: Y,
    axes: Axes,
) where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.caption, ("sans-serif", 17))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)
        .unwrap();
    ctx.configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .x_labels(20)
        .y_labels(20)
        .x_label_formatter(axes.x_label)
        .y_label_formatter(axes.y_label)
        .draw()
        .unwrap();
    for ((line, pts), color) in points.iter().zip(COLORS) {
        let width = if line.stroke == Stroke::Wide { 6 } else { 2 };
        let style = ShapeStyle::from(&color).stroke_width(width);
        let series = if line.stroke == Stroke::Dashed {
            ctx.draw_series(DashedLineSeries::new(pts.iter().copied(), 10, 6, style))
        } else {
            ctx.draw_series(LineSeries::new(pts.iter().copied(), style))
        };
        series
            .unwrap()
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        ctx.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
            .unwrap();
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .unwrap();
}

/// The chart's runs as CSV: `peer,tests,run,wall_s,max_rss_kib,end` (`peer` = the
/// line's key).
pub fn csv(chart: &Chart) -> String {
    let mut out = String::from("peer,tests,run,wall_s,max_rss_kib,end\n");
    for line in &chart.lines {
        for (count, stats) in &line.points {
            for (i, run) in stats.runs.iter().enumerate() {
                let end = match run.end {
                    End::Passed => "passed".to_string(),
                    End::Failed(code) => format!("failed:{code}"),
                    End::TimedOut => "timed-out".to_string(),
                };
                let _ = writeln!(
                    out,
                    "{},{count},{i},{:.6},{},{end}",
                    line.key,
                    run.wall.as_secs_f64(),
                    run.max_rss_kib
                );
            }
        }
    }
    out
}

/// Fills the lines of `chart` (as yet without points) from what [`csv`] wrote; rows
/// of keys it has no line for are skipped. Returns whether any point was read.
pub fn parse_csv(chart: &mut Chart, text: &str) -> bool {
    for row in text.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        let [key, count, _, wall, rss, end] = f.as_slice() else {
            continue;
        };
        let Some(line) = chart.lines.iter_mut().find(|l| l.key == *key) else {
            continue;
        };
        let run = Run {
            wall: Duration::from_secs_f64(wall.parse().unwrap()),
            max_rss_kib: rss.parse().unwrap(),
            end: match *end {
                "passed" => End::Passed,
                "timed-out" => End::TimedOut,
                other => End::Failed(other.trim_start_matches("failed:").parse().unwrap_or(-1)),
            },
        };
        let count: usize = count.parse().unwrap();
        match line.points.last_mut() {
            Some((c, stats)) if *c == count => stats.runs.push(run),
            _ => line.points.push((count, Stats { runs: vec![run] })),
        }
    }
    chart.has_points()
}
