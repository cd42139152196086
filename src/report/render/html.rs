//! One self-contained HTML page per report: summary, notes, inline SVG bar charts and tables
//! sortable by a few lines of inline script. Nothing is fetched: no external style sheet,
//! script, font or image, and no URL at all in the page.
//!
//! Every text that comes from the store (pharmacy ids) is escaped. Must never compute a
//! figure of its own beyond scaling bars.

use super::help;
use super::percent_of_basis_points;
use crate::limits::REPORT_CHART_BARS_MAX;
use crate::report::p4p::{P4pReport, PharmacyP4p};
use crate::report::quality::{MeasureResult, QualityReport};
use crate::report::safety::SafetyReport;
use crate::report::{Period, Provenance};
use std::fmt::Write;

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1248px;\
color:#1b1f24;padding:0 12px}h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
.scroll{overflow-x:auto;margin:8px 0}table{border-collapse:collapse;width:100%;font-size:13px}\
th,td{border-bottom:1px solid #d7dce1;padding:3px 5px;text-align:right;white-space:nowrap}\
th{white-space:normal;vertical-align:bottom;min-width:4em}\
th:first-child,td:first-child{text-align:left;position:sticky;left:0;background:#fff;z-index:1}\
th{background:#eef1f4;cursor:pointer;user-select:none}th:first-child{background:#eef1f4}\
footer{margin-top:32px;border-top:1px solid #d7dce1;padding-top:8px}th[data-order=asc]::after{content:' \\25B2'}\
th[data-order=desc]::after{content:' \\25BC'}dl{display:grid;grid-template-columns:max-content auto;\
gap:2px 16px}dt{color:#57606a}dd{margin:0;font-weight:600}.note{color:#57606a}\
svg text{font:12px system-ui,sans-serif}.a{fill:#2f6fbf}.b{fill:#e08a1e}.c{fill:#6b9e3f}\
.d{fill:#b04a5a}.e{fill:#7a6fb0}.z{fill:#e4e8ec}.legend svg{margin-left:12px}\
.charts{display:flex;flex-wrap:wrap;gap:24px}[title]{cursor:help}\
dt[title],th[title],td[title]{text-decoration:underline dotted #8c959f}";

/// Sorts a table's body by the clicked column: numbers (`data-value` or the text) numerically,
/// the rest as text; a second click reverses.
const SORT_SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th){\
th.addEventListener('click',function(){var table=th.closest('table'),body=table.tBodies[0],\
index=Array.prototype.indexOf.call(th.parentNode.children,th),ascending=th.dataset.order!=='asc';\
table.querySelectorAll('th').forEach(function(other){delete other.dataset.order;});\
th.dataset.order=ascending?'asc':'desc';var key=function(row){var cell=row.cells[index];\
return cell.dataset.value!==undefined?cell.dataset.value:cell.textContent;};\
var rows=Array.prototype.slice.call(body.rows);rows.sort(function(a,b){var x=key(a),y=key(b),\
nx=parseFloat(x),ny=parseFloat(y),order=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);\
return ascending?order:-order;});rows.forEach(function(row){body.appendChild(row);});});});";

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// `$1,234.56` from cents.
pub(crate) fn dollars(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("${grouped}.{:02}", cents % 100)
}

fn page(title: &str, period: Period, body: &str, provenance: &Provenance) -> String {
    let heading = format!("{title}: {} to {}", period.from(), period.to());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{heading}</title><style>{STYLE}</style></head><body><h1>{heading}</h1>\n{body}\
         {footer}<script>{SORT_SCRIPT}</script></body></html>\n",
        heading = escape(&heading),
        footer = footer(provenance)
    )
}

/// Generated when, by which build, from which settings, rule tables and store.
fn footer(provenance: &Provenance) -> String {
    let text = format!(
        "Generated {} by {}; settings {}; rule tables {}; store {}.",
        provenance.generated_at,
        provenance.generated_by,
        provenance.settings,
        provenance.rules,
        provenance.store
    );
    format!("<footer class=\"note\">{}</footer>\n", escape(&text))
}

/// ` title="…"` with the label's hover text ([`help::explain`]), or nothing.
fn title_attr(label: &str) -> String {
    help::explain(label).map_or_else(String::new, |text| format!(" title=\"{}\"", escape(text)))
}

/// A definition list of `(term, value)` pairs; values are escaped.
fn summary(items: &[(&str, String)]) -> String {
    let mut html = String::from("<dl>");
    for (term, value) in items {
        let title = title_attr(term);
        let _ = write!(
            html,
            "<dt{title}>{}</dt><dd>{}</dd>",
            escape(term),
            escape(value)
        );
    }
    html.push_str("</dl>\n");
    html
}

fn notes(notes: &[String]) -> String {
    let mut html = String::from("<h2>Notes</h2><ul class=\"note\">");
    for note in notes {
        let _ = write!(html, "<li>{}</li>", escape(note));
    }
    html.push_str("</ul>\n");
    html
}

/// One table cell: the shown text, the value the sort uses when it differs, and whether it
/// names something [`help::explain`] describes on hover.
struct Cell {
    text: String,
    value: Option<String>,
    explained: bool,
}

impl Cell {
    fn text(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            value: None,
            explained: false,
        }
    }

    fn sorted_by(text: impl Into<String>, value: impl ToString) -> Cell {
        Cell {
            value: Some(value.to_string()),
            ..Cell::text(text)
        }
    }

    /// A cell naming a measure: its hover text explains it.
    fn explained(text: impl Into<String>) -> Cell {
        Cell {
            explained: true,
            ..Cell::text(text)
        }
    }
}

fn table(headers: &[&str], rows: &[Vec<Cell>]) -> String {
    let mut html = String::from("<div class=\"scroll\"><table class=\"sortable\"><thead><tr>");
    for header in headers {
        let _ = write!(html, "<th{}>{}</th>", title_attr(header), escape(header));
    }
    html.push_str("</tr></thead><tbody>\n");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            let title = if cell.explained {
                title_attr(&cell.text)
            } else {
                String::new()
            };
            match &cell.value {
                Some(value) => {
                    let _ = write!(html, "<td{title} data-value=\"{}\">", escape(value));
                }
                None => {
                    let _ = write!(html, "<td{title}>");
                }
            }
            let _ = write!(html, "{}</td>", escape(&cell.text));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
    html
}

/// One bar of a chart: stacked segments `(value, css class)` and the text after the bar.
struct Bar {
    label: String,
    segments: Vec<(u64, &'static str)>,
    text: String,
}

const CHART_WIDTH: u64 = 560;
const LABEL_WIDTH: u64 = 150;
const VALUE_WIDTH: u64 = 110;
const ROW_HEIGHT: u64 = 22;

/// A horizontal bar chart as inline SVG, bars scaled to the largest total.
fn bar_chart(title: &str, legend: &[(&str, &str)], bars: &[Bar]) -> String {
    let total = |bar: &Bar| bar.segments.iter().map(|(value, _)| value).sum::<u64>();
    let largest = bars.iter().map(total).max().unwrap_or(0).max(1);
    let height = ROW_HEIGHT * bars.len().max(1) as u64 + 8;
    let width = LABEL_WIDTH + CHART_WIDTH + VALUE_WIDTH;
    let mut svg = format!(
        "<figure{help}><figcaption><strong>{title}</strong>{}</figcaption>\
         <svg role=\"img\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <title>{title}</title>",
        legend_html(legend),
        help = title_attr(title),
        title = escape(title)
    );
    for (index, bar) in bars.iter().enumerate() {
        svg.push_str(&bar_svg(bar, ROW_HEIGHT * index as u64 + 4, largest));
    }
    svg.push_str("</svg></figure>\n");
    svg
}

/// One bar at height `y`: its label, its segments, and its text after the bar.
fn bar_svg(bar: &Bar, y: u64, largest: u64) -> String {
    let label = escape(&bar.label);
    let mut svg = format!("<text x=\"0\" y=\"{}\">{label}</text>", y + 14);
    let mut x = LABEL_WIDTH;
    for (value, class) in &bar.segments {
        let length = value * CHART_WIDTH / largest;
        let _ = write!(
            svg,
            "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{length}\" height=\"16\">\
             <title>{label}: {value}</title></rect>"
        );
        x += length;
    }
    let text = escape(&bar.text);
    let _ = write!(svg, "<text x=\"{}\" y=\"{}\">{text}</text>", x + 6, y + 14);
    svg
}

fn legend_html(legend: &[(&str, &str)]) -> String {
    let mut html = String::from("<div class=\"legend\">");
    for (class, name) in legend {
        let _ = write!(
            html,
            "<svg width=\"10\" height=\"10\"><rect class=\"{class}\" width=\"10\" \
             height=\"10\"/></svg> {} ",
            escape(name)
        );
    }
    html.push_str("</div>");
    html
}

// ---- P4P -----------------------------------------------------------------------------------

/// The P4P report page.
pub(crate) fn p4p(report: &P4pReport, provenance: &Provenance) -> String {
    let mut body = p4p_summary(report);
    body.push_str(&notes(&report.notes));
    body.push_str("<h2>Charts</h2><div class=\"charts\">");
    body.push_str(&payments_chart(&report.pharmacies));
    body.push_str(&override_mix_chart(report));
    body.push_str(&dur_reject_outcome_chart(report));
    body.push_str(&conflicts_chart(report));
    body.push_str("</div><h2>Pharmacies</h2>\n");
    body.push_str(&p4p_table(&report.pharmacies));
    page("P4P payment report", report.period, &body, provenance)
}

fn p4p_summary(report: &P4pReport) -> String {
    let totals = &report.totals;
    summary(&[
        ("Days in period", totals.days_in_period.to_string()),
        ("Intervention pool", dollars(totals.intervention_pool_cents)),
        ("Intervention paid", dollars(totals.intervention_cents)),
        ("Bonus pool", dollars(totals.bonus_pool_cents)),
        ("Bonus paid", dollars(totals.bonus_cents)),
        ("Pharmacies", totals.pharmacies.to_string()),
        (
            "Eligible pharmacies",
            format!(
                "{} (more than {} paid claims in the period)",
                totals.eligible_pharmacies, totals.eligibility_paid_claims_required
            ),
        ),
        ("Premier pharmacies", totals.premier_pharmacies.to_string()),
        ("Paid claims", totals.paid_claims.to_string()),
        (
            "Claims with DUR conflicts",
            totals.claims_with_conflicts.to_string(),
        ),
        ("Payable overrides", totals.payable_overrides.to_string()),
        (
            "Unpaid overrides (PE/P0)",
            totals.unpaid_overrides.to_string(),
        ),
        (
            "Codes that answered nothing (no credit)",
            totals.unmatched_code_claims.to_string(),
        ),
        (
            "DUR rejects not dispensed after review",
            format!(
                "{} of {} ({}-day follow-up)",
                totals.not_dispensed_after_review, totals.dur_rejects, totals.follow_up_days
            ),
        ),
        (
            "Bonus threshold (share of paid claims with PSC/RSC)",
            format!(
                "below {} %",
                percent_of_basis_points(totals.bonus_threshold_basis_points)
            ),
        ),
    ])
}

/// The largest payments, at most [`REPORT_CHART_BARS_MAX`] bars.
fn payments_chart(pharmacies: &[PharmacyP4p]) -> String {
    let mut paid: Vec<&PharmacyP4p> = pharmacies
        .iter()
        .filter(|line| line.intervention_cents + line.bonus_cents > 0)
        .collect();
    paid.sort_by(|a, b| {
        let total = |line: &PharmacyP4p| line.intervention_cents + line.bonus_cents;
        total(b)
            .cmp(&total(a))
            .then(a.pharmacy_id.cmp(&b.pharmacy_id))
    });
    let shown = paid.len().min(REPORT_CHART_BARS_MAX);
    let bars: Vec<Bar> = paid
        .iter()
        .take(REPORT_CHART_BARS_MAX)
        .map(|line| Bar {
            label: line.pharmacy_id.clone(),
            segments: vec![(line.intervention_cents, "a"), (line.bonus_cents, "b")],
            text: dollars(line.intervention_cents + line.bonus_cents),
        })
        .collect();
    let title = format!("Payments by pharmacy (top {shown} of {})", paid.len());
    bar_chart(&title, &[("a", "intervention"), ("b", "bonus")], &bars)
}

fn override_mix_chart(report: &P4pReport) -> String {
    let totals = &report.totals;
    let bars = [
        ("payable (R0/SW/M0)", totals.payable_overrides, "a"),
        ("unpaid (PE/P0)", totals.unpaid_overrides, "b"),
        ("other codes", totals.other_overrides, "e"),
        ("answered nothing", totals.unmatched_code_claims, "d"),
    ];
    bar_chart("Override mix (paid claims)", &[], &count_bars(&bars))
}

/// What became of the DUR rejects: not an override, so a chart of its own.
fn dur_reject_outcome_chart(report: &P4pReport) -> String {
    let totals = &report.totals;
    let dispensed = totals
        .dur_rejects
        .saturating_sub(totals.not_dispensed_after_review);
    let bars = [
        (
            "not dispensed after review",
            totals.not_dispensed_after_review,
            "c",
        ),
        ("dispensed in the follow-up", dispensed, "z"),
    ];
    bar_chart("DUR rejects (follow-up)", &[], &count_bars(&bars))
}

/// One single-segment bar per `(label, count, css class)`.
fn count_bars(bars: &[(&str, u64, &'static str)]) -> Vec<Bar> {
    bars.iter()
        .map(|&(label, count, class)| Bar {
            label: label.to_owned(),
            segments: vec![(count, class)],
            text: count.to_string(),
        })
        .collect()
}

fn conflicts_chart(report: &P4pReport) -> String {
    let bars: Vec<Bar> = report
        .totals
        .conflicts_by_edit
        .iter()
        .map(|count| Bar {
            label: count.edit.to_owned(),
            segments: vec![(count.conflicts, "e")],
            text: count.conflicts.to_string(),
        })
        .collect();
    bar_chart("Conflicts by edit", &[], &bars)
}

fn p4p_table(pharmacies: &[PharmacyP4p]) -> String {
    let headers = [
        "Pharmacy",
        "Paid",
        "With conflicts",
        "No alerts",
        "Payable",
        "Unpaid",
        "Other",
        "Answered nothing",
        "PSC/RSC %",
        "Below threshold",
        "DUR rejects",
        "Not dispensed",
        "Eligible",
        "Intervention",
        "Bonus",
        "Premier score %",
        "Premier",
        "Safety alerts %",
    ];
    let rows: Vec<Vec<Cell>> = pharmacies.iter().map(p4p_row).collect();
    table(&headers, &rows)
}

fn p4p_row(line: &PharmacyP4p) -> Vec<Cell> {
    let yes_no = |value: bool| Cell::text(if value { "yes" } else { "no" });
    let count = |value: u64| Cell::text(value.to_string());
    let percent = |basis_points: Option<u32>| {
        Cell::text(
            basis_points
                .map(percent_of_basis_points)
                .unwrap_or_default(),
        )
    };
    vec![
        Cell::text(line.pharmacy_id.clone()),
        count(line.paid_claims),
        count(line.claims_with_conflicts),
        count(line.paid_claims_without_alerts),
        count(line.payable_overrides),
        count(line.unpaid_overrides),
        count(line.other_overrides),
        count(line.unmatched_code_claims),
        percent(Some(line.code_share_basis_points)),
        yes_no(line.below_threshold),
        count(line.dur_rejects),
        count(line.not_dispensed_after_review),
        yes_no(line.eligible),
        Cell::sorted_by(dollars(line.intervention_cents), line.intervention_cents),
        Cell::sorted_by(dollars(line.bonus_cents), line.bonus_cents),
        percent(line.premier_score_basis_points),
        yes_no(line.premier),
        percent(Some(line.safety_alert_rate_basis_points)),
    ]
}

// ---- quality -------------------------------------------------------------------------------

fn stars_text(result: &MeasureResult) -> String {
    match (result.rate_percent, result.stars) {
        (Some(rate), Some(stars)) => {
            let filled = "\u{2605}".repeat(usize::from(stars));
            let empty = "\u{2606}".repeat(5usize.saturating_sub(usize::from(stars)));
            format!("{rate:.1} % {filled}{empty}")
        }
        (Some(rate), None) => format!(
            "{rate:.1} % (no stars: {})",
            result.no_stars_reason.as_deref().unwrap_or("n/a")
        ),
        (None, _) => format!(
            "n/a ({})",
            result.no_stars_reason.as_deref().unwrap_or("no patients")
        ),
    }
}

/// The quality report card page.
pub(crate) fn quality(report: &QualityReport, provenance: &Provenance) -> String {
    let mut body = String::from("<h2>Overall</h2>\n");
    let rows: Vec<Vec<Cell>> = report
        .overall
        .iter()
        .map(|result| {
            vec![
                Cell::explained(result.title),
                Cell::text(result.denominator.to_string()),
                Cell::text(result.numerator.to_string()),
                Cell::sorted_by(stars_text(result), result.rate_percent.unwrap_or(-1.0)),
                Cell::text(result.stars.map(|s| s.to_string()).unwrap_or_default()),
                Cell::text(if result.lower_is_better {
                    "lower"
                } else {
                    "higher"
                }),
            ]
        })
        .collect();
    let headers = [
        "Measure",
        "Denominator",
        "Numerator",
        "Rate",
        "Stars",
        "Better",
    ];
    body.push_str(&table(&headers, &rows));
    body.push_str(&notes(&report.notes));
    body.push_str("<h2>Charts</h2><div class=\"charts\">");
    body.push_str(&rates_chart(&report.overall));
    body.push_str("</div><h2>Pharmacies</h2>\n");
    body.push_str(&quality_table(report));
    page("Quality report card", report.period, &body, provenance)
}

fn rates_chart(results: &[MeasureResult]) -> String {
    let bars: Vec<Bar> = results
        .iter()
        .map(|result| {
            let tenths = result
                .rate_percent
                .map_or(0, |rate| (rate * 10.0).round() as u64);
            Bar {
                label: result.measure.to_owned(),
                segments: vec![(tenths, "c"), (1000u64.saturating_sub(tenths), "z")],
                text: stars_text(result),
            }
        })
        .collect();
    bar_chart("Overall rates (percent of 100)", &[("c", "rate")], &bars)
}

fn quality_table(report: &QualityReport) -> String {
    let mut headers = vec!["Pharmacy"];
    headers.extend(report.overall.iter().map(|result| result.title));
    let rows: Vec<Vec<Cell>> = report
        .pharmacies
        .iter()
        .map(|pharmacy| {
            let mut row = vec![Cell::text(pharmacy.pharmacy_id.clone())];
            row.extend(pharmacy.measures.iter().map(|result| {
                let text = format!("{} (n={})", stars_text(result), result.denominator);
                Cell::sorted_by(text, result.rate_percent.unwrap_or(-1.0))
            }));
            row
        })
        .collect();
    table(&headers, &rows)
}

// ---- safety --------------------------------------------------------------------------------

/// The safety report page.
pub(crate) fn safety(report: &SafetyReport, provenance: &Provenance) -> String {
    let mut body = safety_summary(report);
    body.push_str(&notes(&report.notes));
    body.push_str("<h2>Charts</h2><div class=\"charts\">");
    body.push_str(&findings_chart(report));
    body.push_str("</div><h2>MTM targets</h2>\n");
    body.push_str(&mtm_table(report));
    body.push_str("<h2>Opioid overutilization</h2>\n");
    body.push_str(&opioid_table(report));
    page("Safety report", report.period, &body, provenance)
}

fn safety_summary(report: &SafetyReport) -> String {
    let criteria = &report.criteria;
    let mtm = format!(
        "at least {} chronic classes, {} distinct drugs, {} a year",
        criteria.mtm_chronic_classes_min,
        criteria.mtm_distinct_drugs_min,
        dollars(criteria.mtm_annual_cost_cents)
    );
    let opioid = format!(
        "at least {} prescribers and {} pharmacies within {} days",
        criteria.opioid_prescribers_min,
        criteria.opioid_pharmacies_min,
        criteria.opioid_window_days
    );
    summary(&[
        ("Patients with paid claims", report.patients.to_string()),
        ("MTM targets", report.mtm_targets.len().to_string()),
        ("MTM criteria", mtm),
        (
            "Opioid overutilization",
            report.opioid_overutilization.len().to_string(),
        ),
        ("Opioid criteria", opioid),
    ])
}

fn mtm_table(report: &SafetyReport) -> String {
    let rows: Vec<Vec<Cell>> = report
        .mtm_targets
        .iter()
        .map(|target| {
            let cost = target.annualized_cost_cents;
            vec![
                Cell::text(target.patient_number.0.to_string()),
                Cell::text(target.chronic_classes.to_string()),
                Cell::text(target.distinct_drugs.to_string()),
                Cell::sorted_by(dollars(cost), cost),
            ]
        })
        .collect();
    let headers = [
        "Patient number",
        "Chronic classes",
        "Distinct drugs",
        "Annualised cost",
    ];
    table(&headers, &rows)
}

fn opioid_table(report: &SafetyReport) -> String {
    let rows: Vec<Vec<Cell>> = report
        .opioid_overutilization
        .iter()
        .map(|finding| {
            vec![
                Cell::text(finding.patient_number.0.to_string()),
                Cell::text(finding.prescribers.to_string()),
                Cell::text(finding.pharmacies.to_string()),
                Cell::text(finding.opioid_fills.to_string()),
                Cell::text(format!("{} to {}", finding.window_from, finding.window_to)),
            ]
        })
        .collect();
    let headers = [
        "Patient number",
        "Prescribers",
        "Dispensing pharmacies",
        "Opioid fills",
        "Window",
    ];
    table(&headers, &rows)
}

fn findings_chart(report: &SafetyReport) -> String {
    let bars: Vec<Bar> = [
        ("MTM targets", report.mtm_targets.len() as u64, "a"),
        (
            "opioid overutilization",
            report.opioid_overutilization.len() as u64,
            "d",
        ),
    ]
    .into_iter()
    .map(|(label, count, class)| Bar {
        label: label.to_owned(),
        segments: vec![(count, class)],
        text: count.to_string(),
    })
    .collect();
    bar_chart("Patients flagged", &[], &bars)
}
