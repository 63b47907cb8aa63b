//! The key path's share of requests per UTC day, drawn server-side as an inline SVG bar chart:
//! no script, no inline `style` (the page's CSP forbids both), only presentation attributes
//! and classes the stylesheet colours.

use std::fmt::Write;

use crate::report::DayShare;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
/// Room for the axis labels.
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;

/// `YYYY-MM-DD` of a day number.
pub fn date(day: u64) -> String {
    let t =
        jiff::Timestamp::from_second(day as i64 * 86_400).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    format!("{}", jiff::tz::Offset::UTC.to_datetime(t).date())
}

/// The chart. Every bar has a `<title>` (the browser's tooltip) with the day's numbers.
pub fn svg(days: &[DayShare]) -> String {
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / days.len().max(1) as f64;
    let bar_w = (slot * 0.8).max(1.0);
    let y = |pct: f64| TOP + plot_h * (1.0 - pct / 100.0);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" role="img" aria-labelledby="chart-title" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title id="chart-title">Share of requests through the key path, per day</title>"#
    );
    for pct in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{pct}%</text>"#,
            WIDTH - 8.0,
            LEFT - 6.0,
            y(pct) + 4.0,
            y = y(pct),
        );
    }
    let label_every = (days.len() / 6).max(1);
    for (i, d) in days.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let date = date(d.day);
        match d.key_share() {
            Some(share) => {
                let top = y(share);
                // A sliver even at 0 %, so a day with traffic but no key use is visible.
                let h = (TOP + plot_h - top).max(1.0);
                let _ = write!(
                    out,
                    r#"<rect class="bar" data-day="{date}" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h:.1}"><title>{date}: {share:.1}% through the key path ({} of {} requests)</title></rect>"#,
                    TOP + plot_h - h,
                    d.traffic.api_key,
                    d.traffic.total(),
                );
            }
            None => {
                let _ = write!(
                    out,
                    r#"<rect class="no-traffic" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="2"><title>{date}: no traffic</title></rect>"#,
                    TOP + plot_h - 2.0,
                );
            }
        }
        if i % label_every == 0 || i + 1 == days.len() {
            let _ = write!(
                out,
                r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                x + bar_w / 2.0,
                HEIGHT - 8.0,
                &date[5..],
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A row's small chart: one bar per day, its height the key path's share (a grey sliver on a
/// day without traffic), each with a `<title>` naming the day's numbers.
pub fn sparkline(days: &[DayShare]) -> String {
    const W: f64 = 120.0;
    const H: f64 = 24.0;
    let slot = W / days.len().max(1) as f64;
    let bar_w = (slot * 0.8).max(0.5);
    let mut out = format!(
        r#"<svg class="sparkline" viewBox="0 0 {W} {H}" width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg">"#
    );
    for (i, d) in days.iter().enumerate() {
        let x = slot * i as f64;
        let date = date(d.day);
        let (class, h, title) = match d.key_share() {
            Some(share) => (
                "bar",
                (H * share / 100.0).max(1.0),
                format!(
                    "{date}: {share:.1}% through the key path ({} of {} requests)",
                    d.traffic.api_key,
                    d.traffic.total()
                ),
            ),
            None => ("no-traffic", 1.0, format!("{date}: no traffic")),
        };
        let _ = write!(
            out,
            r#"<rect class="{class}" x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h:.1}"><title>{title}</title></rect>"#,
            H - h
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_a_bar_per_day_with_traffic_and_no_inline_style() {
        let mut days: Vec<DayShare> = (20_000..=20_006)
            .map(|day| DayShare {
                day,
                traffic: Default::default(),
            })
            .collect();
        days[0].traffic = crate::ledger::Traffic { jwt: 3, api_key: 1 };
        let svg = svg(&days);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 1);
        assert_eq!(svg.matches(r#"class="no-traffic""#).count(), 6);
        assert!(svg.contains("25.0% through the key path (1 of 4 requests)"));
        assert!(!svg.contains("style="));
        assert_eq!(date(20_000), "2024-10-04");

        let small = sparkline(&days);
        assert_eq!(small.matches(r#"class="bar""#).count(), 1);
        assert!(small.contains("2024-10-04: 25.0% through the key path (1 of 4 requests)"));
        assert!(!small.contains("style="));
    }
}
