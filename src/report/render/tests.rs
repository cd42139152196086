//! The renderers on small reports built by the cores from hand-made rows.

use super::*;
use crate::claim::{Action, Edit};
use crate::report::p4p::p4p_report;
use crate::report::quality::quality_report;
use crate::report::safety::safety_report;
use crate::report::testing::{
    dur_rejected, half_year, paid, sample_rules, with_codes, with_conflict,
};
use crate::report::{ClaimRow, Settings};

/// A report generated 2026-12-07 10:30:05 UTC.
fn provenance() -> Provenance {
    let settings = std::path::Path::new("config/p4p.toml");
    Provenance::new(
        1_796_639_405_000,
        settings,
        "open-dur-sample@2026.12.2",
        "sqlite",
    )
}

#[test]
fn json_and_html_say_when_by_what_and_from_what_they_were_generated() {
    let json: serde_json::Value = serde_json::from_str(&p4p_text(Format::Json)).unwrap();
    let provenance = &json["provenance"];
    assert_eq!(provenance["generated_at"], "2026-12-07 10:30:05 UTC");
    assert_eq!(provenance["rules"], "open-dur-sample@2026.12.2");
    assert_eq!(provenance["settings"], "config/p4p.toml");
    assert_eq!(provenance["store"], "sqlite");
    let by = provenance["generated_by"].as_str().unwrap();
    assert!(
        by.starts_with(&format!("durgate {} (", crate::version::VERSION)),
        "{by}"
    );
    assert!(
        json["pharmacies"].is_array(),
        "the report's own fields stay at the top"
    );
    let html = p4p_text(Format::Html);
    let footer = html.split("<footer").nth(1).expect("a footer");
    for text in [
        "Generated 2026-12-07 10:30:05 UTC by durgate",
        "config/p4p.toml",
        "open-dur-sample@2026.12.2",
    ] {
        assert!(footer.contains(text), "{text} not in the footer");
    }
}

#[test]
fn not_dispensed_is_not_drawn_as_an_override() {
    let html = p4p_text(Format::Html);
    let mix = html.split("Override mix").nth(1).unwrap();
    let mix = mix.split("</figure>").next().unwrap();
    assert!(!mix.contains("not dispensed"), "{mix}");
    assert!(html.contains("not dispensed after review"));
}

#[test]
fn wide_tables_scroll_with_the_first_column_fixed() {
    let html = p4p_text(Format::Html);
    assert_eq!(
        html.matches("<div class=\"scroll\"><table").count(),
        html.matches("<table").count()
    );
    assert!(html.contains(".scroll{overflow-x:auto"));
    assert!(html.contains("td:first-child{text-align:left;position:sticky;left:0"));
}

fn rows() -> Vec<ClaimRow> {
    let mut rows: Vec<ClaimRow> = (0..600)
        .map(|id| paid(id, "1234567", id as u32, (id % 180) as i32))
        .collect();
    rows.extend((600..1_200).map(|id| paid(id, "<b>&\"x\"</b>", id as u32, (id % 180) as i32)));
    let conflict = with_conflict(paid(2_000, "1234567", 1, 3), Edit::Ddi, Action::Reject);
    rows.push(with_codes(conflict, "R0", "1G", true));
    rows
}

fn p4p_text(format: Format) -> String {
    p4p_text_of(rows(), format)
}

fn p4p_text_of(rows: Vec<ClaimRow>, format: Format) -> String {
    let report = p4p_report(rows, &Settings::default().p4p, half_year()).unwrap();
    let mut out = Vec::new();
    p4p(&report, format, &provenance(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn p4p_html_is_one_page_with_three_charts_and_no_url() {
    let html = p4p_text(Format::Html);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg role=\"img\"").count(), 4);
    for chart in [
        "Payments by pharmacy",
        "Override mix",
        "DUR rejects (follow-up)",
        "Conflicts by edit",
    ] {
        assert!(html.contains(chart), "{chart}");
    }
    assert!(html.contains("<table class=\"sortable\">") && html.contains("<script>"));
    assert!(!html.contains("http"), "no external reference");
    assert!(!html.contains("<b>&"), "pharmacy ids are escaped");
    assert!(html.contains("&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;"));
}

#[test]
fn p4p_csv_has_a_row_per_pharmacy_and_a_reconciling_total() {
    let csv = p4p_text(Format::Csv);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, P4P_COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let cents = |record: &csv::StringRecord, name: &str| -> u64 {
        record.get(column(name)).unwrap().parse().unwrap_or(0)
    };
    let total = &records[2];
    assert_eq!(total.get(column("pharmacy_id")), Some("TOTAL"));
    let paid: u64 = records[..2]
        .iter()
        .map(|r| cents(r, "intervention_cents"))
        .sum();
    assert_eq!(paid, cents(total, "intervention_pool_cents"));
    assert_eq!(paid, 247_945_205);
    assert_eq!(records[0].get(column("period_from")), Some("2018-01-01"));
}

#[test]
fn p4p_json_has_the_documented_shape() {
    let value: serde_json::Value = serde_json::from_str(&p4p_text(Format::Json)).unwrap();
    assert_eq!(value["period"]["from"], "2018-01-01");
    assert_eq!(value["period"]["to"], "2018-06-30");
    // Every field name is pinned by p4p_json_pins_every_field_name.
    let totals = &value["totals"];
    assert_eq!(
        totals["intervention_cents"],
        totals["intervention_pool_cents"]
    );
    assert_eq!(totals["bonus_cents"], totals["bonus_pool_cents"]);
}

/// `names`, sorted.
fn sorted<'n>(names: &[&'n str]) -> Vec<&'n str> {
    let mut names = names.to_vec();
    names.sort_unstable();
    names
}

/// The keys of a JSON object, sorted.
fn keys(value: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    keys
}

/// The P4P JSON field names per pharmacy, as REPORTS.md and issue 11 name them (any order):
/// a rename, a removal or an addition fails here.
const P4P_PHARMACY_KEYS: [&str; 22] = [
    "below_threshold",
    "bonus_cents",
    "claims_with_conflicts",
    "code_share_basis_points",
    "coded_paid_claims",
    "dur_rejects",
    "eligible",
    "intervention_cents",
    "not_dispensed_after_review",
    "other_overrides",
    "paid_claims",
    "paid_claims_without_alerts",
    "payable_overrides",
    "pharmacy_id",
    "premier",
    "premier_alerts",
    "premier_score_basis_points",
    "safety_alert_claims",
    "safety_alert_rate_basis_points",
    "uncredited_code_claims",
    "unmatched_code_claims",
    "unpaid_overrides",
];

const P4P_TOTALS_KEYS: [&str; 26] = [
    "bonus_cents",
    "bonus_pool_cents",
    "bonus_threshold_basis_points",
    "claims_with_conflicts",
    "conflicts_by_edit",
    "credit_edits",
    "days_in_period",
    "dur_rejects",
    "eligibility_paid_claims_required",
    "eligible_pharmacies",
    "follow_up_complete",
    "follow_up_days",
    "intervention_cents",
    "intervention_pool_cents",
    "not_dispensed_after_review",
    "other_overrides",
    "paid_claims",
    "paid_claims_without_alerts",
    "payable_overrides",
    "pharmacies",
    "premier_min_alerts",
    "premier_pharmacies",
    "safety_alert_claims",
    "uncredited_code_claims",
    "unmatched_code_claims",
    "unpaid_overrides",
];

#[test]
fn p4p_json_pins_every_field_name() {
    // Pharmacy 1234567 also rejects patient 90000 on days 10 and 12 (one episode, never paid).
    let mut rows = rows();
    rows.push(dur_rejected(3_000, "1234567", 90_000, 10));
    rows.push(dur_rejected(3_001, "1234567", 90_000, 12));
    let value: serde_json::Value = serde_json::from_str(&p4p_text_of(rows, Format::Json)).unwrap();
    assert_eq!(
        keys(&value),
        sorted(&["period", "pharmacies", "totals", "notes", "provenance"])
    );
    assert_eq!(keys(&value["period"]), sorted(&["from", "to"]));
    let provenance = ["generated_at", "generated_by", "settings", "rules", "store"];
    assert_eq!(keys(&value["provenance"]), sorted(&provenance));
    for pharmacy in value["pharmacies"].as_array().unwrap() {
        assert_eq!(keys(pharmacy), sorted(&P4P_PHARMACY_KEYS));
    }
    assert_eq!(keys(&value["totals"]), sorted(&P4P_TOTALS_KEYS));
    for count in value["totals"]["conflicts_by_edit"].as_array().unwrap() {
        assert_eq!(keys(count), sorted(&["edit", "conflicts"]));
    }
    // The named fields carry what their names say ("1234567" sorts before "<b>...").
    let first = &value["pharmacies"][0];
    assert_eq!(first["pharmacy_id"], "1234567");
    assert_eq!(first["paid_claims"], 601); // 600 plain + the R0/1G override
    assert_eq!(first["payable_overrides"], 1);
    assert_eq!(
        (&first["dur_rejects"], &first["not_dispensed_after_review"]),
        (&2.into(), &1.into())
    );
    assert_eq!(first["premier_alerts"], 2); // 1 override + 1 episode
    assert_eq!(first["premier_score_basis_points"], serde_json::Value::Null); // 2 < 10 alerts
                                                                              // Bonus $1,487,671.23 pro rata 601 (600 without alerts + 1 episode) : 600:
                                                                              // 148_767_123 × 601 / 1201 = 74_445_496 r 227, × 600 / 1201 = 74_321_626 r 974; the one
                                                                              // cent left goes to the larger remainder (the second pharmacy).
    assert_eq!(first["bonus_cents"], 74_445_496);
    assert_eq!(value["pharmacies"][1]["bonus_cents"], 74_321_627);
    assert_eq!(value["totals"]["dur_rejects"], 2);
    assert_eq!(value["totals"]["not_dispensed_after_review"], 1);
}

#[test]
fn quality_and_safety_render_in_every_format() {
    let settings = Settings::default();
    let quality = quality_report(rows(), &settings.quality, sample_rules(), half_year()).unwrap();
    let safety = safety_report(rows(), &settings.safety, sample_rules(), half_year()).unwrap();
    for format in [Format::Csv, Format::Json, Format::Html] {
        let mut out = Vec::new();
        super::quality(&quality, format, &provenance(), &mut out).unwrap();
        super::safety(&safety, format, &provenance(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("http"));
        assert!(text.contains("generic_dispensing"), "{format:?}");
    }
}

#[test]
fn money_and_percent_formatting() {
    assert_eq!(html::dollars(0), "$0.00");
    assert_eq!(html::dollars(247_945_205), "$2,479,452.05");
    assert_eq!(html::dollars(100_000), "$1,000.00");
    assert_eq!(percent_of_basis_points(483), "4.83");
    assert_eq!(percent_of_basis_points(10_000), "100.00");
    assert_eq!(
        "xml".parse::<Format>().err().as_deref(),
        Some("unknown format \"xml\": expected csv, json or html")
    );
}

/// The opening tags `<name ...>` of a page.
fn tags<'h>(html: &'h str, name: &str) -> Vec<&'h str> {
    let open = format!("<{name}");
    html.match_indices(&open)
        .filter(|(at, _)| {
            let next = html.as_bytes().get(at + open.len()).copied();
            matches!(next, Some(b'>' | b' '))
        })
        .filter_map(|(at, _)| html.get(at..).and_then(|rest| rest.split('>').next()))
        .collect()
}

#[test]
fn every_figure_of_every_page_explains_itself_on_hover() {
    let settings = Settings::default();
    let quality = quality_report(rows(), &settings.quality, sample_rules(), half_year()).unwrap();
    let safety = safety_report(rows(), &settings.safety, sample_rules(), half_year()).unwrap();
    let mut pages = vec![p4p_text(Format::Html)];
    for render in [
        |out: &mut Vec<u8>, q: &QualityReport, _: &SafetyReport| {
            super::quality(q, Format::Html, &provenance(), out)
        },
        |out: &mut Vec<u8>, _: &QualityReport, s: &SafetyReport| {
            super::safety(s, Format::Html, &provenance(), out)
        },
    ] {
        let mut out = Vec::new();
        render(&mut out, &quality, &safety).unwrap();
        pages.push(String::from_utf8(out).unwrap());
    }
    for page in &pages {
        for name in ["th", "dt", "figure"] {
            let found = tags(page, name);
            assert!(!found.is_empty() || name == "dt", "no <{name}> on a page");
            for tag in found {
                assert!(tag.contains(" title=\""), "{tag}> has no hover text");
            }
        }
    }
    // Each measure row of the quality card names its measure with a hover text.
    for measure in crate::report::quality::Measure::ALL {
        let cell = format!(">{}</td>", measure.title());
        let at = pages[1]
            .find(&cell)
            .unwrap_or_else(|| panic!("{cell} missing"));
        let row_start = pages[1][..at].rfind("<td").unwrap_or(0);
        assert!(pages[1][row_start..at].contains("title=\""), "{cell}");
    }
}
