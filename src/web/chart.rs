//! Line charts as standalone inline SVG, drawn on the server for the operator's stats history
//! page (last hour, day and month).
//!
//! The output follows SVG 1.1 and needs nothing else: no script, no stylesheet, no web font
//! (text uses the generic `sans-serif` family), so it renders the same on a network with no
//! Internet. It has a fixed [`WIDTH`]×[`HEIGHT`] `viewBox` and `width="100%"`, so the page's
//! layout decides its size. Times are UTC. Every piece of text is escaped, since titles and
//! labels may come from anywhere.
//!
//! Coordinates are written with at most one decimal: a tenth of a unit is finer than any
//! screen pixel at the sizes this is shown, and it keeps a month of points small.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One line on a chart.
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// CSS colour, e.g. "#2b7bb9".
    pub color: &'a str,
    /// (unix seconds, value) in time order.
    pub points: &'a [(u32, f64)],
}

/// A chart over a time window.
pub struct Chart<'a> {
    /// Title above the plot.
    pub title: &'a str,
    /// Window start, unix seconds (UTC).
    pub from: u32,
    /// Window end, unix seconds (UTC).
    pub to: u32,
    /// Expected seconds between points; a gap of more than twice this breaks the line (tracker
    /// was down). Zero never breaks it.
    pub step: u32,
    /// Lines.
    pub series: Vec<Series<'a>>,
}

/// Width of the `viewBox`.
pub const WIDTH: f64 = 720.0;
/// Height of the `viewBox`.
pub const HEIGHT: f64 = 240.0;

/// The plot area inside the `viewBox`: room on the left for y labels, above for the title,
/// below for x labels and the legend.
const PLOT_LEFT: f64 = 52.0;
const PLOT_RIGHT: f64 = 700.0;
const PLOT_TOP: f64 = 30.0;
const PLOT_BOTTOM: f64 = 196.0;
/// Baselines of the x labels and of the legend row.
const X_LABEL_Y: f64 = 212.0;
const LEGEND_Y: f64 = 233.0;
/// A rough width of one character at font-size 11, for laying out the legend without fonts.
const CHAR_WIDTH: f64 = 6.5;
const SECONDS_PER_DAY: u32 = 86_400;

/// Renders `chart` as one `<svg>` element.
///
/// Values that are NaN or infinite and points outside `[from, to]` are not drawn; values below
/// zero are drawn at zero, the bottom of the y axis. A run of points closer than `2 × step`
/// draws as one line, and a run of one point as a dot.
pub fn render_svg(chart: &Chart<'_>) -> String {
    let (from, to) = (chart.from, chart.to.max(chart.from));
    let max = chart
        .series
        .iter()
        .flat_map(|s| visible(s.points, from, to))
        .map(|(_, v)| v)
        .fold(0.0, f64::max);
    let (top, divisions) = nice_scale(max);
    let frame = Frame { from, to, top };

    let mut out = String::with_capacity(4096);
    out.push_str(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 240\" width=\"100%\" \
         role=\"img\" font-family=\"sans-serif\" font-size=\"11\"><title>",
    );
    escape(chart.title, &mut out);
    out.push_str(
        "</title><text x=\"52\" y=\"18\" font-size=\"13\" font-weight=\"bold\" fill=\"#222\">",
    );
    escape(chart.title, &mut out);
    out.push_str("</text>");
    axes(&frame, divisions, &mut out);
    if !lines(chart, &frame, &mut out) {
        let (x, y) = (
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            (PLOT_TOP + PLOT_BOTTOM) / 2.0,
        );
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#888\">no data yet</text>",
            Coord(x),
            Coord(y)
        );
    }
    legend(&chart.series, &mut out);
    out.push_str("</svg>");
    out
}

/// Maps times and values to the plot area.
struct Frame {
    /// Window start, unix seconds.
    from: u32,
    /// Window end, unix seconds, not before `from`.
    to: u32,
    /// The value at the top of the y axis.
    top: f64,
}

impl Frame {
    fn x(&self, t: u32) -> f64 {
        let span = f64::from((self.to - self.from).max(1));
        PLOT_LEFT + f64::from(t - self.from) / span * (PLOT_RIGHT - PLOT_LEFT)
    }

    /// Clamped, so a stray negative or huge value stays on the plot's edge.
    fn y(&self, v: f64) -> f64 {
        PLOT_BOTTOM - v.clamp(0.0, self.top) / self.top * (PLOT_BOTTOM - PLOT_TOP)
    }
}

/// The points of `points` that can be drawn: finite, and within `[from, to]`.
fn visible(points: &[(u32, f64)], from: u32, to: u32) -> impl Iterator<Item = (u32, f64)> + '_ {
    points
        .iter()
        .copied()
        .filter(move |&(t, v)| (from..=to).contains(&t) && v.is_finite())
}

/// Gridlines with their value labels, the x axis and its time labels.
fn axes(frame: &Frame, divisions: u32, out: &mut String) {
    let value = |i: u32| frame.top * f64::from(i) / f64::from(divisions);
    out.push_str("<g stroke=\"#e4e4e4\">");
    for i in 0..=divisions {
        let y = Coord(frame.y(value(i)));
        let (left, right) = (Coord(PLOT_LEFT), Coord(PLOT_RIGHT));
        let _ = write!(
            out,
            "<line x1=\"{left}\" y1=\"{y}\" x2=\"{right}\" y2=\"{y}\"/>"
        );
    }
    out.push_str("</g><g fill=\"#555\" text-anchor=\"end\">");
    for i in 0..=divisions {
        let (x, y) = (Coord(PLOT_LEFT - 6.0), Coord(frame.y(value(i)) + 4.0));
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{y}\">{}</text>",
            value_label(value(i))
        );
    }
    let (left, right, bottom) = (Coord(PLOT_LEFT), Coord(PLOT_RIGHT), Coord(PLOT_BOTTOM));
    let _ = write!(
        out,
        "</g><line x1=\"{left}\" y1=\"{bottom}\" x2=\"{right}\" y2=\"{bottom}\" stroke=\"#999\"/>\
         <g fill=\"#555\" text-anchor=\"middle\">"
    );
    for t in time_ticks(frame.from, frame.to) {
        let (x, y) = (Coord(frame.x(t)), Coord(X_LABEL_Y));
        let label = time_label(t, frame.to - frame.from);
        let _ = write!(out, "<text x=\"{x}\" y=\"{y}\">{label}</text>");
    }
    out.push_str("</g>");
}

/// Every series as polylines broken at gaps, and dots for lone points. Returns whether anything
/// was drawn.
fn lines(chart: &Chart<'_>, frame: &Frame, out: &mut String) -> bool {
    let mut drawn = false;
    out.push_str("<g fill=\"none\" stroke-width=\"1.5\" stroke-linejoin=\"round\">");
    for series in &chart.series {
        let points: Vec<(u32, f64)> = visible(series.points, frame.from, frame.to).collect();
        for run in runs(&points, chart.step) {
            drawn = true;
            if let [(t, v)] = run {
                let (x, y) = (Coord(frame.x(*t)), Coord(frame.y(*v)));
                let _ = write!(out, "<circle cx=\"{x}\" cy=\"{y}\" r=\"2\" fill=\"");
                escape(series.color, out);
                out.push_str("\"/>");
                continue;
            }
            out.push_str("<polyline stroke=\"");
            escape(series.color, out);
            out.push_str("\" points=\"");
            for (i, &(t, v)) in run.iter().enumerate() {
                let sep = if i == 0 { "" } else { " " };
                let _ = write!(out, "{sep}{},{}", Coord(frame.x(t)), Coord(frame.y(v)));
            }
            out.push_str("\"/>");
        }
    }
    out.push_str("</g>");
    drawn
}

/// One row of colour swatches and labels under the plot. Labels are shortened so that the row
/// fits the width however many series there are (charts here have two or three).
fn legend(series: &[Series<'_>], out: &mut String) {
    if series.is_empty() {
        return;
    }
    let per_item = (PLOT_RIGHT - PLOT_LEFT) / series.len() as f64;
    // Swatch, gap and spacing take about four characters' width.
    let max_chars = ((per_item / CHAR_WIDTH) as usize).saturating_sub(4).max(1);
    let mut x = PLOT_LEFT;
    for s in series {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"",
            Coord(x),
            Coord(LEGEND_Y - 9.0)
        );
        escape(s.color, out);
        let _ = write!(
            out,
            "\"/><text x=\"{}\" y=\"{}\" fill=\"#333\">",
            Coord(x + 14.0),
            Coord(LEGEND_Y)
        );
        let chars = s.label.chars().count();
        if chars > max_chars {
            let cut: String = s.label.chars().take(max_chars - 1).collect();
            escape(&cut, out);
            out.push('…');
        } else {
            escape(s.label, out);
        }
        out.push_str("</text>");
        x += (chars.min(max_chars) as f64 + 4.0) * CHAR_WIDTH;
    }
}

/// Splits time-ordered points into runs with no gap longer than `2 × step` inside.
fn runs(points: &[(u32, f64)], step: u32) -> impl Iterator<Item = &[(u32, f64)]> {
    let limit = 2 * u64::from(step);
    points.chunk_by(move |a, b| step == 0 || u64::from(b.0.saturating_sub(a.0)) <= limit)
}

/// The top of the y axis, the least of 1, 2 or 5 × 10ⁿ at or above `max`, and the number of
/// gridline intervals that gives round labels (0.2, 0.5 or 1 × 10ⁿ apart). An empty or flat
/// chart gets 0 to 1. The top stays within [0.01, 10¹⁵]: below, labels would need more than three
/// decimals; above, the arithmetic would overflow to infinity (larger values draw at the top).
fn nice_scale(max: f64) -> (f64, u32) {
    if max.is_nan() || max <= 0.0 {
        return (1.0, 5);
    }
    let max = max.clamp(0.01, 1e15);
    let mut power = 10f64.powi(max.log10().floor() as i32);
    loop {
        // Trying the mantissas in order also mends log10 landing one power too low; the
        // tolerance keeps rounding in 10ⁿ from pushing an exact 1, 2 or 5 × 10ⁿ up a step.
        for (mantissa, divisions) in [(1.0, 5), (2.0, 4), (5.0, 5)] {
            if mantissa * power >= max * (1.0 - 1e-9) {
                return (mantissa * power, divisions);
            }
        }
        power *= 10.0;
    }
}

/// A y label: integers without decimals, thousands and up shortened ("12.5k", "3.1M").
fn value_label(v: f64) -> String {
    let scaled = |v: f64, unit: &str| format!("{}{unit}", trim(format!("{v:.1}")));
    match v.abs() {
        a if a >= 1e12 => scaled(v / 1e12, "T"),
        a if a >= 1e9 => scaled(v / 1e9, "G"),
        a if a >= 1e6 => scaled(v / 1e6, "M"),
        a if a >= 1e3 => scaled(v / 1e3, "k"),
        // Below 1000 the ticks are round multiples of 10ⁿ, so three decimals are exact.
        _ => trim(format!("{v:.3}")),
    }
}

/// Drops trailing zeros after the decimal point, and the point itself.
fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A coordinate, displayed with at most one decimal.
struct Coord(f64);

impl std::fmt::Display for Coord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenths = (self.0 * 10.0).round();
        if tenths % 10.0 == 0.0 {
            write!(f, "{}", (tenths / 10.0) as i64)
        } else {
            write!(f, "{:.1}", tenths / 10.0)
        }
    }
}

/// Times for x labels: about six round instants (a multiple of a round interval, counted from
/// the epoch so they fall on UTC hours and days) within `[from, to]`.
fn time_ticks(from: u32, to: u32) -> impl Iterator<Item = u32> {
    const MINUTE: u32 = 60;
    const HOUR: u32 = 3600;
    const DAY: u32 = SECONDS_PER_DAY;
    const STEPS: [u32; 16] = [
        MINUTE,
        2 * MINUTE,
        5 * MINUTE,
        10 * MINUTE,
        15 * MINUTE,
        30 * MINUTE,
        HOUR,
        2 * HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        28 * DAY,
    ];
    let span = to - from;
    // Beyond two days the labels are dates, so ticks less than a day apart would repeat them.
    let least = if span > 2 * DAY { DAY } else { 0 };
    let interval = STEPS
        .into_iter()
        .find(|&s| s >= least && span / s <= 6)
        .unwrap_or_else(|| (span / 6).div_ceil(DAY).max(1) * DAY);
    let first = u64::from(from).div_ceil(u64::from(interval)) * u64::from(interval);
    (first..=u64::from(to))
        .step_by(interval as usize)
        .map(|t| t as u32)
}

/// A tick label in UTC: "HH:MM" for a window of up to two days, else "MM-DD".
fn time_label(t: u32, span: u32) -> String {
    let (days, secs) = (t / SECONDS_PER_DAY, t % SECONDS_PER_DAY);
    if span <= 2 * SECONDS_PER_DAY {
        format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
    } else {
        let (month, day) = month_day(days);
        format!("{month:02}-{day:02}")
    }
}

/// Month and day of the month of a day counted from 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, restricted to dates after 1970).
fn month_day(days: u32) -> (u32, u32) {
    // Counting from 0000-03-01 puts the leap day last in each 400-year era.
    let z = days + 719_468;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (month, day)
}

/// Averages `points` into `buckets` equal slices of [from, to); empty slices are skipped (so
/// gaps stay gaps). Returns (slice start, mean).
///
/// Slice `i` starts at `from + ⌈i × (to − from) / buckets⌉`, so slices differ in length by at
/// most a second. NaN and infinite values are left out of the means, as the chart leaves them
/// out; points outside the window are ignored.
pub fn downsample(points: &[(u32, f64)], from: u32, to: u32, buckets: usize) -> Vec<(u32, f64)> {
    if buckets == 0 || to <= from {
        return Vec::new();
    }
    let (span, buckets) = (u128::from(to - from), buckets as u128);
    // Keyed by slice index, so points out of order still land in the right slice.
    let mut sums: BTreeMap<u128, (f64, u32)> = BTreeMap::new();
    for &(t, v) in points {
        if (from..to).contains(&t) && v.is_finite() {
            let slice = u128::from(t - from) * buckets / span;
            let entry = sums.entry(slice).or_insert((0.0, 0));
            entry.0 += v;
            entry.1 += 1;
        }
    }
    sums.into_iter()
        .map(|(slice, (sum, n))| {
            let start = u128::from(from) + (slice * span).div_ceil(buckets);
            (start as u32, sum / f64::from(n))
        })
        .collect()
}

/// Appends `text` escaped for XML text and attribute values. Control characters that XML 1.0
/// forbids become U+FFFD, so a stray byte in a label cannot make the page's SVG invalid.
fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;
