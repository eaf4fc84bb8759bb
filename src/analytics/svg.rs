//! A cohort retention heatmap as a standalone SVG document.

use super::metrics::CohortRow;
use std::fmt::Write;

/// Renders cohorts as a heatmap: one row per cohort, one column per period since the first
/// visit, each cell the share of the cohort active then (darker = more).
pub fn cohort_heatmap(cohorts: &[CohortRow], title: &str) -> String {
    let rows: Vec<&CohortRow> = cohorts.iter().filter(|c| c.size > 0).collect();
    let columns = rows.iter().map(|c| c.active.len()).max().unwrap_or(0);
    let (cell_w, cell_h, left, top) = (46, 24, 150, 64);
    let width = left + columns * cell_w + 20;
    let height = top + rows.len() * cell_h + 40;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{left}" y="22" font-size="15" font-weight="bold">{}</text>
<text x="{left}" y="42" fill="#555">share of each cohort (first-visit period) active k periods later</text>
"##,
        escape(title)
    );
    for k in 0..columns {
        let x = left + k * cell_w + cell_w / 2;
        let _ = writeln!(
            svg,
            r##"<text x="{x}" y="{}" text-anchor="middle" fill="#555">+{k}</text>"##,
            top - 6
        );
    }
    for (r, cohort) in rows.iter().enumerate() {
        let y = top + r * cell_h;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{} ({})</text>"##,
            left - 8,
            y + cell_h / 2 + 4,
            escape(&cohort.cohort),
            cohort.size
        );
        for (k, &active) in cohort.active.iter().enumerate() {
            let share = active as f64 / cohort.size as f64;
            // From pale (0%) to deep teal (100%).
            let shade = |from: f64, to: f64| (from + (to - from) * share.sqrt()).round() as u8;
            let (red, green, blue) = (shade(240.0, 0.0), shade(248.0, 105.0), shade(248.0, 120.0));
            let ink = if share > 0.35 { "#ffffff" } else { "#222222" };
            let x = left + k * cell_w;
            let _ = writeln!(
                svg,
                r##"<rect x="{x}" y="{y}" width="{}" height="{}" fill="#{red:02x}{green:02x}{blue:02x}"><title>{}: {active} of {} ({:.1}%)</title></rect><text x="{}" y="{}" text-anchor="middle" fill="{ink}">{:.0}%</text>"##,
                cell_w - 2,
                cell_h - 2,
                escape(&cohort.cohort),
                cohort.size,
                share * 100.0,
                x + cell_w / 2 - 1,
                y + cell_h / 2 + 3,
                share * 100.0
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
