//! Tables for the scale, labels and downsampling; rendering checked with a small XML
//! well-formedness checker (no XML parser among the dependencies); and a property test that
//! whatever the input, the markup stays well formed and every coordinate inside the viewBox.

use super::*;
use proptest::prelude::*;

/// Every tag opened is closed in order, attribute values are quoted and free of `<`, and every
/// `&` starts one of the entities [`escape`] writes. Returns the tags in document order, each
/// as (name, attributes).
fn well_formed(svg: &str) -> Vec<(String, Vec<(String, String)>)> {
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
    let mut open: Vec<String> = Vec::new();
    let mut tags = Vec::new();
    let mut rest = svg;
    while let Some(at) = rest.find(['<', '&', '>']) {
        let after = &rest[at..];
        if after.starts_with('>') {
            panic!("bare '>' in text: {rest}");
        }
        if after.starts_with('&') {
            let entity = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"]
                .into_iter()
                .find(|e| after.starts_with(e))
                .unwrap_or_else(|| panic!("bare '&' in {after}"));
            rest = &after[entity.len()..];
            continue;
        }
        let end = after.find('>').expect("tag closed");
        let tag = &after[1..end];
        rest = &after[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop().as_deref(),
                Some(name),
                "closing tag out of order"
            );
            continue;
        }
        let (body, empty) = match tag.strip_suffix('/') {
            Some(body) => (body, true),
            None => (tag, false),
        };
        let name_end = body.find(' ').unwrap_or(body.len());
        let name = &body[..name_end];
        assert!(
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic()),
            "{tag}"
        );
        tags.push((name.to_owned(), attributes(&body[name_end..])));
        if !empty {
            open.push(name.to_owned());
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
    tags
}

/// ` a="1" b="x y"` → [(a, 1), (b, x y)]; panics on anything else.
fn attributes(mut s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return out;
        }
        let eq = s
            .find("=\"")
            .unwrap_or_else(|| panic!("attribute without quotes: {s}"));
        let name = &s[..eq];
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'1' || b == b'2'),
            "{name}"
        );
        let value_len = s[eq + 2..].find('"').expect("attribute quote closed");
        let value = &s[eq + 2..eq + 2 + value_len];
        assert!(!value.contains('<'), "'<' in attribute {name}");
        out.push((name.to_owned(), value.to_owned()));
        s = &s[eq + 2 + value_len + 1..];
    }
}

/// Every number in a coordinate attribute, as (is x, value).
fn coordinates(tags: &[(String, Vec<(String, String)>)]) -> Vec<(bool, f64)> {
    let mut out = Vec::new();
    for (_, attrs) in tags {
        for (name, value) in attrs {
            let axis = match name.as_str() {
                "x" | "x1" | "x2" | "cx" => Some(true),
                "y" | "y1" | "y2" | "cy" => Some(false),
                _ => None,
            };
            if let Some(is_x) = axis {
                out.push((is_x, value.parse().expect(value)));
            }
            if name == "points" {
                for pair in value.split(' ') {
                    let (x, y) = pair.split_once(',').expect(pair);
                    out.push((true, x.parse().expect(x)));
                    out.push((false, y.parse().expect(y)));
                }
            }
        }
    }
    out
}

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

const HOUR_START: u32 = 1_700_000_000 - 1_700_000_000 % 3600;

fn chart<'a>(series: Vec<Series<'a>>) -> Chart<'a> {
    Chart {
        title: "Peers",
        from: HOUR_START,
        to: HOUR_START + 3600,
        step: 60,
        series,
    }
}

fn line<'a>(points: &'a [(u32, f64)]) -> Series<'a> {
    Series {
        label: "seeders",
        color: "#2b7bb9",
        points,
    }
}

#[test]
fn a_typical_chart_is_well_formed_and_labelled() {
    let points: Vec<(u32, f64)> = (0..60)
        .map(|i| (HOUR_START + i * 60, f64::from(i) * 200.0))
        .collect();
    let svg = render_svg(&chart(vec![line(&points)]));
    let tags = well_formed(&svg);
    assert!(svg.contains("viewBox=\"0 0 720 240\"") && svg.contains("width=\"100%\""));
    assert!(svg.contains("<title>Peers</title>"));
    // Max 11800 → top 20k in four intervals: five gridlines plus the axis line.
    assert_eq!(tags.iter().filter(|(n, _)| n == "line").count(), 6);
    for label in [">0<", ">5k<", ">10k<", ">15k<", ">20k<"] {
        assert!(svg.contains(label), "{label} missing");
    }
    // Ten-minute ticks over the hour, in UTC.
    assert!(svg.contains(">22:00<") && svg.contains(">22:50<") && svg.contains(">23:00<"));
    assert_eq!(count(&svg, "<polyline"), 1);
    assert!(svg.contains(">seeders<") && svg.contains("<rect"));
    assert!(!svg.contains("no data yet"));
    assert!(!svg.contains("<script") && !svg.contains("style="));
}

#[test]
fn text_is_escaped_everywhere() {
    let nasty = "Tom & \"Jerry\" <script>alert('x')</script>\u{1}";
    let points = [(HOUR_START + 60, 1.0)];
    let svg = render_svg(&Chart {
        title: nasty,
        series: vec![Series {
            label: nasty,
            color: "red\"/><script>",
            points: &points,
        }],
        ..chart(vec![])
    });
    well_formed(&svg);
    assert!(!svg.contains("<script") && !svg.contains("\u{1}"));
    assert!(svg.contains("Tom &amp; &quot;Jerry&quot; &lt;script&gt;alert(&#39;x&#39;)"));
    assert!(svg.contains("red&quot;/&gt;&lt;script&gt;"));
    assert!(svg.contains('\u{FFFD}'));
}

#[test]
fn gaps_longer_than_two_steps_break_the_line() {
    let t = |minute: u32| HOUR_START + minute * 60;
    // (points, polylines, circles)
    type Case<'a> = (&'a [(u32, f64)], usize, usize);
    let cases: &[Case] = &[
        (&[(t(0), 1.0), (t(1), 2.0), (t(2), 3.0)], 1, 0),
        // Exactly two steps apart is still one line.
        (&[(t(0), 1.0), (t(2), 2.0), (t(4), 3.0)], 1, 0),
        // Two steps and a second is a gap: the tracker was down.
        (
            &[(t(0), 1.0), (t(1), 2.0), (t(3) + 1, 3.0), (t(4), 4.0)],
            2,
            0,
        ),
        // A point alone between gaps is a dot.
        (
            &[
                (t(0), 1.0),
                (t(1), 2.0),
                (t(10), 3.0),
                (t(20), 4.0),
                (t(21), 5.0),
            ],
            2,
            1,
        ),
        (&[(t(30), 7.0)], 0, 1),
    ];
    for &(points, polylines, circles) in cases {
        let svg = render_svg(&chart(vec![line(points)]));
        well_formed(&svg);
        assert_eq!(
            (count(&svg, "<polyline"), count(&svg, "<circle")),
            (polylines, circles),
            "{points:?}"
        );
    }
    // A step of zero never breaks the line.
    let far = [(t(0), 1.0), (t(59), 2.0)];
    let svg = render_svg(&Chart {
        step: 0,
        ..chart(vec![line(&far)])
    });
    assert_eq!(count(&svg, "<polyline"), 1);
}

#[test]
fn points_outside_the_window_and_non_finite_values_are_not_drawn() {
    let points = [
        (HOUR_START - 60, 5.0),
        (HOUR_START, 1.0),
        (HOUR_START + 60, f64::NAN),
        (HOUR_START + 120, 2.0),
        (HOUR_START + 180, f64::INFINITY),
        (HOUR_START + 3660, 9.0),
    ];
    let svg = render_svg(&chart(vec![line(&points)]));
    let tags = well_formed(&svg);
    let drawn: Vec<_> = tags.iter().filter(|(n, _)| n == "polyline").collect();
    assert_eq!(drawn.len(), 1);
    let (_, attrs) = drawn[0];
    let points = &attrs.iter().find(|(n, _)| n == "points").unwrap().1;
    assert_eq!(points.split(' ').count(), 2, "{points}");
    // Only 1 and 2 count for the scale: top 2, not 5, 9 or infinity.
    assert!(svg.contains(">2<") && !svg.contains(">5<"));
}

#[test]
fn no_data_yet_only_when_every_series_is_empty() {
    let outside = [(HOUR_START - 1, 3.0), (HOUR_START + 1, f64::NAN)];
    let inside = [(HOUR_START + 1, 3.0)];
    let empty = render_svg(&chart(vec![line(&[]), line(&outside)]));
    well_formed(&empty);
    assert!(empty.contains(">no data yet<"));
    assert!(render_svg(&chart(vec![])).contains(">no data yet<"));
    let some = render_svg(&chart(vec![line(&[]), line(&inside)]));
    assert!(!some.contains("no data yet"));
    // An empty window (to before from) draws nothing and does not panic.
    let backwards = render_svg(&Chart {
        from: 10,
        to: 5,
        ..chart(vec![line(&inside)])
    });
    assert!(backwards.contains(">no data yet<"));
}

#[test]
fn long_legends_are_shortened_to_fit() {
    let label = "a very long legend label that would not fit in a quarter of the width";
    let points = [(HOUR_START, 1.0)];
    let series = (0..4)
        .map(|_| Series {
            label,
            color: "#000",
            points: &points,
        })
        .collect();
    let svg = render_svg(&chart(series));
    let tags = well_formed(&svg);
    assert_eq!(count(&svg, "…<"), 4);
    for (is_x, v) in coordinates(&tags) {
        assert!(!is_x || v <= WIDTH - 10.0, "{v}");
    }
}

#[test]
fn nice_scale_table() {
    let rows: &[(f64, f64, u32)] = &[
        (0.0, 1.0, 5),
        (-3.0, 1.0, 5),
        (f64::NAN, 1.0, 5),
        (0.001, 0.01, 5),
        (0.3, 0.5, 5),
        (0.5, 0.5, 5),
        (1.0, 1.0, 5),
        (1.2, 2.0, 4),
        (2.0, 2.0, 4),
        (3.0, 5.0, 5),
        (7.0, 10.0, 5),
        (10.0, 10.0, 5),
        (99.0, 100.0, 5),
        (101.0, 200.0, 4),
        (1000.0, 1000.0, 5),
        (12_345.0, 20_000.0, 4),
        (4_200_000.0, 5_000_000.0, 5),
        (f64::INFINITY, 1e15, 5),
        (1e300, 1e15, 5),
    ];
    for &(max, top, divisions) in rows {
        let (got_top, got_divisions) = nice_scale(max);
        assert!(
            (got_top - top).abs() <= top * 1e-9 && got_divisions == divisions,
            "{max}: {got_top} {got_divisions}"
        );
    }
}

#[test]
fn value_label_table() {
    let rows: &[(f64, &str)] = &[
        (0.0, "0"),
        (0.002, "0.002"),
        (0.05, "0.05"),
        (0.2, "0.2"),
        (0.6000000000000001, "0.6"),
        (1.5, "1.5"),
        (20.0, "20"),
        (999.0, "999"),
        (1000.0, "1k"),
        (12_500.0, "12.5k"),
        (100_000.0, "100k"),
        (2_000_000.0, "2M"),
        (3_100_000.0, "3.1M"),
        (5e9, "5G"),
        (1e15, "1000T"),
    ];
    for &(value, label) in rows {
        assert_eq!(value_label(value), label, "{value}");
    }
}

#[test]
fn coordinate_format_table() {
    let rows: &[(f64, &str)] = &[
        (0.0, "0"),
        (-0.04, "0"),
        (1.25, "1.3"),
        (700.0, "700"),
        (33.333, "33.3"),
        (99.96, "100"),
    ];
    for &(x, s) in rows {
        assert_eq!(Coord(x).to_string(), s, "{x}");
    }
}

#[test]
fn time_label_table() {
    const DAY: u32 = 86_400;
    let rows: &[(u32, u32, &str)] = &[
        (0, 3600, "00:00"),
        (1_700_000_000, 3600, "22:13"),
        (1_700_000_000, 2 * DAY, "22:13"),
        (1_700_000_000, 2 * DAY + 1, "11-14"),
        (1_700_000_000, 30 * DAY, "11-14"),
        (951_782_400, 30 * DAY, "02-29"),
        (1_709_164_800, 30 * DAY, "02-29"),
        (1_767_225_540, 30 * DAY, "12-31"),
        (1_767_225_540, DAY, "23:59"),
        (4_107_542_400, 30 * DAY, "03-01"),
        (u32::MAX, 30 * DAY, "02-07"),
    ];
    for &(t, span, label) in rows {
        assert_eq!(time_label(t, span), label, "{t} over {span}");
    }
}

#[test]
fn month_day_matches_a_day_by_day_calendar() {
    let (mut year, mut month, mut day) = (1970u32, 1u32, 1u32);
    for days in 0..=u32::MAX / 86_400 {
        assert_eq!(month_day(days), (month, day), "day {days}");
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let length = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        day += 1;
        if day > length {
            (month, day) = (month % 12 + 1, 1);
            year += u32::from(month == 1);
        }
    }
}

#[test]
fn time_ticks_suit_each_window() {
    const DAY: u32 = 86_400;
    for (span, offset) in [
        (3600, 0),
        (3600, 1234),
        (DAY, 0),
        (DAY, 5555),
        (30 * DAY, 0),
        (30 * DAY, 77_777),
    ] {
        let from = HOUR_START + offset;
        let ticks: Vec<u32> = time_ticks(from, from + span).collect();
        assert!((3..=7).contains(&ticks.len()), "{span}: {ticks:?}");
        assert!(ticks.iter().all(|t| (from..=from + span).contains(t)));
        let labels: Vec<String> = ticks.iter().map(|&t| time_label(t, span)).collect();
        let mut unique = labels.clone();
        unique.dedup();
        assert_eq!(unique, labels, "labels repeat");
    }
    // Degenerate and enormous windows end without overflow.
    assert!(time_ticks(u32::MAX - 5, u32::MAX).count() <= 1);
    assert!((1..=7).contains(&time_ticks(0, u32::MAX).count()));
}

#[test]
fn downsample_table() {
    let nan = f64::NAN;
    type Row<'a> = (&'a [(u32, f64)], u32, u32, usize, &'a [(u32, f64)]);
    let rows: &[Row] = &[
        // Means per slice.
        (
            &[(0, 1.0), (10, 3.0), (20, 5.0), (30, 7.0)],
            0,
            40,
            2,
            &[(0, 2.0), (20, 6.0)],
        ),
        // Empty slices are skipped, so gaps stay gaps.
        (&[(0, 1.0), (35, 3.0)], 0, 40, 4, &[(0, 1.0), (30, 3.0)]),
        // Outside [from, to) and non-finite values are ignored.
        (
            &[(5, 9.0), (10, 1.0), (40, 9.0), (41, 9.0)],
            10,
            40,
            3,
            &[(10, 1.0)],
        ),
        (
            &[(0, nan), (1, 2.0), (2, f64::INFINITY)],
            0,
            4,
            1,
            &[(0, 2.0)],
        ),
        (&[(0, nan)], 0, 4, 1, &[]),
        // Uneven slices of 10 s in three: starts 0, 4, 7.
        (
            &[(3, 1.0), (4, 2.0), (6, 4.0), (7, 8.0)],
            0,
            10,
            3,
            &[(0, 1.0), (4, 3.0), (7, 8.0)],
        ),
        // More buckets than seconds.
        (&[(1, 1.0), (2, 2.0)], 0, 3, 6, &[(1, 1.0), (2, 2.0)]),
        (&[(5, 1.0)], 0, 10, usize::MAX, &[(5, 1.0)]),
        // Out of order still lands in the right slice.
        (
            &[(30, 4.0), (0, 1.0), (35, 6.0)],
            0,
            40,
            2,
            &[(0, 1.0), (20, 5.0)],
        ),
        // Nothing to do.
        (&[(0, 1.0)], 0, 40, 0, &[]),
        (&[(0, 1.0)], 40, 40, 4, &[]),
        (&[(0, 1.0)], 40, 0, 4, &[]),
        (
            &[(u32::MAX - 1, 2.0)],
            u32::MAX - 10,
            u32::MAX,
            3,
            &[(u32::MAX - 3, 2.0)],
        ),
    ];
    for &(points, from, to, buckets, want) in rows {
        assert_eq!(
            downsample(points, from, to, buckets),
            want,
            "{points:?} {from}..{to} / {buckets}"
        );
    }
}

fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => 0.0..1e4f64,
        1 => any::<f64>(),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => -1e3..0.0f64,
    ]
}

proptest! {
    #[test]
    fn markup_is_well_formed_and_coordinates_stay_in_the_viewbox(
        from in 0..u32::MAX,
        span in prop_oneof![Just(0u32), 1..3600u32, 3600..90 * 86_400u32],
        step in 0..900u32,
        series in proptest::collection::vec(
            (".{0,40}", proptest::collection::vec((0..1_000_000u32, any_value()), 0..40)),
            0..5,
        ),
    ) {
        let to = from.saturating_add(span);
        // Offsets spread around the window, so some points fall outside it.
        let points: Vec<Vec<(u32, f64)>> = series
            .iter()
            .map(|(_, pts)| {
                let mut p: Vec<(u32, f64)> = pts
                    .iter()
                    .map(|&(o, v)| (from.saturating_sub(1000).saturating_add(o % (span + 2000)), v))
                    .collect();
                p.sort_by_key(|&(t, _)| t);
                p
            })
            .collect();
        let chart = Chart {
            title: "t",
            from,
            to,
            step,
            series: series
                .iter()
                .zip(&points)
                .map(|((label, _), p)| Series { label, color: "#123456", points: p })
                .collect(),
        };
        let svg = render_svg(&chart);
        let tags = well_formed(&svg);
        for (is_x, v) in coordinates(&tags) {
            let limit = if is_x { WIDTH } else { HEIGHT };
            prop_assert!((0.0..=limit).contains(&v), "{} = {v}", if is_x { "x" } else { "y" });
        }
    }

    #[test]
    fn downsample_means_stay_within_their_slices(
        points in proptest::collection::vec((0..10_000u32, -1e6..1e6f64), 0..200),
        from in 0..5_000u32,
        span in 1..6_000u32,
        buckets in 1..500usize,
    ) {
        let to = from + span;
        let out = downsample(&points, from, to, buckets);
        prop_assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        for &(start, mean) in &out {
            prop_assert!((from..to).contains(&start));
            prop_assert!(mean.is_finite());
        }
    }
}
