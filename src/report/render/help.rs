//! What every figure of the HTML pages means: the hover text (`title`) of each summary term,
//! table header, measure and chart — what counts, the window, and the setting that changes it.
//!
//! Place in the data flow: read by `html` only. Must never hold a number of a report (the
//! texts describe the rules; the figures come from the report) or name a patient.

/// Hover texts by the label a page shows. `explain` finds a label here or returns none; the
/// HTML tests require every header, summary term and measure of every page to have one.
const HELP: &[(&str, &str)] = &[
    // P4P summary
    ("Days in period", "Days from the period's first to its last day, both included; pools are prorated by them."),
    ("Intervention pool", "Yearly intervention pool (setting intervention_pool_cents) × days in the period ÷ days in the year of the period start, rounded down to the cent."),
    ("Intervention paid", "What the intervention pool pays out: shared pro rata to payable overrides among eligible pharmacies (largest remainder, sums exactly)."),
    ("Bonus pool", "Yearly bonus pool (setting bonus_pool_cents) prorated to the period like the intervention pool."),
    ("Bonus paid", "What the bonus pool pays out: among eligible pharmacies below the PSC/RSC threshold, pro rata to paid claims without alerts plus not-dispensed episodes."),
    ("Pharmacies", "Pharmacies (201-B1) with a claim dated in the period."),
    ("Eligible pharmacies", "Pharmacies with more paid claims in the period than the prorated volume (setting eligibility_paid_claims_per_half_year, compared as 'over')."),
    ("Premier pharmacies", "Eligible pharmacies with at least premier_min_alerts alerts whose premier score is at least the n-th highest, n = premier_percentile % of those ranked; ties at the cut-off are all in."),
    ("Paid claims", "Paid, unreversed claims (B1 and B3) dated in the period."),
    ("Claims with DUR conflicts", "Paid or rejected claims of the period that raised at least one DUR conflict, warnings included."),
    ("Payable overrides", "Paid claims with an override accepted for a rejecting conflict of a credit edit (setting credit_edits) coded with a payable 440-E5 (payable_professional_codes) and a result code: intervention credit."),
    ("Unpaid overrides (PE/P0)", "Paid claims whose accepted credit-edit override was coded only with unpaid 440-E5 codes (setting unpaid_professional_codes): no credit."),
    ("Codes that answered nothing (no credit)", "Paid claims carrying a DUR/PPS occurrence that matched no conflict: no credit."),
    ("DUR rejects not dispensed after review", "Not-dispensed episodes: 88 rejects grouped per patient, pharmacy and same drug product within follow_up_days; dispensed when a paid claim of that drug product (any NDC) follows in the window. 79 rejects are not reviews."),
    ("Bonus threshold (share of paid claims with PSC/RSC)", "A pharmacy shares the bonus pool only while its paid claims carrying any E5/E6 code stay strictly below this share (setting bonus_threshold_basis_points)."),
    // P4P table
    ("Pharmacy", "The service provider id (201-B1) as submitted."),
    ("Paid", "Paid, unreversed claims dated in the period."),
    ("With conflicts", "Paid or rejected claims that raised at least one DUR conflict, warnings included."),
    ("No alerts", "Paid claims that raised no conflict at all (bonus weight)."),
    ("Payable", "Paid claims earning intervention credit: an accepted override of a rejecting credit-edit conflict with a payable E5 (R0, SW, M0 by default) and a result code."),
    ("Unpaid", "Paid claims whose accepted credit-edit override carried only unpaid E5 codes (PE, P0 by default)."),
    ("Other", "Paid claims whose accepted credit-edit override was coded otherwise (MR, DE, an E5 without a result code, ...)."),
    ("Answered nothing", "Paid claims with a DUR/PPS occurrence that matched no conflict: no credit."),
    ("PSC/RSC %", "Paid claims carrying any E5 or E6 code ÷ paid claims, rounded down."),
    ("Below threshold", "Whether the PSC/RSC share is strictly below bonus_threshold_basis_points (needed for the bonus)."),
    ("DUR rejects", "Claims rejected 88 in the period (79 rejects are not DUR reviews)."),
    ("Not dispensed", "Not-dispensed episodes opened in the period (follow_up_days window, same drug product, any NDC)."),
    ("Eligible", "More paid claims than the prorated eligibility volume."),
    ("Intervention", "This pharmacy's share of the intervention pool."),
    ("Bonus", "This pharmacy's share of the bonus pool."),
    ("Premier score %", "(payable overrides + not-dispensed episodes) ÷ (accepted credit-edit overrides + not-dispensed episodes), rounded down; blank when not ranked."),
    ("Premier", "Ranked (eligible, at least premier_min_alerts alerts) and at or above the premier_percentile cut-off."),
    ("Safety alerts %", "The program's Tier-2 figure: paid claims that raised a conflict of a credit edit (rejecting or warning) ÷ paid claims, rounded down; reported, not paid on."),
    // charts
    ("Payments by pharmacy", "Intervention plus bonus payment of the pharmacies paid the most."),
    ("Override mix (paid claims)", "Paid claims by how their DUR/PPS codes count for credit."),
    ("DUR rejects (follow-up)", "88 reject episodes of the period: not dispensed after review (no paid claim of that drug product followed within follow_up_days) or dispensed in the follow-up. Not an override."),
    ("Conflicts by edit", "Every conflict raised on paid or rejected claims of the period, per edit."),
    ("Overall rates (percent of 100)", "Each measure's overall rate; the text after the bar gives the stars or why there are none."),
    ("Patients flagged", "Patients meeting the MTM targeting criteria and the opioid overutilization criteria."),
    // quality table
    ("Measure", "The measure; hover its name for what it counts."),
    ("Denominator", "Patients the measure evaluates (claims, for the generic dispensing rate)."),
    ("Numerator", "Patients (claims) meeting the measure."),
    ("Rate", "Numerator ÷ denominator in percent, rounded half up to 0.1, with its stars."),
    ("Stars", "1 plus the star cut points the rate reaches; none below stars_min_denominator patients or for rates the program gives no cut points."),
    ("Better", "Whether a higher or a lower rate is better."),
    // quality measures (titles)
    ("PDC diabetes", "Patients 18+ with two or more fills of non-insulin diabetes drugs on different dates, adherent when days covered ÷ days from the first fill to the period end ≥ pdc_threshold_percent (80 %); insulin users left out. [quality.pdc_diabetes]"),
    ("PDC RAS antagonists", "As PDC diabetes for ACE inhibitors, ARBs and direct renin inhibitors. [quality.pdc_ras]"),
    ("PDC statins", "As PDC diabetes for statins. [quality.pdc_statins]"),
    ("Statin use in persons with diabetes", "Patients 40-75 with two or more diabetes-drug fills on different dates who also had a statin fill. [quality.statin_use_in_diabetes]"),
    ("Asthma: suboptimal control", "Asthma patients 5-64 with more than canisters_max (3) SABA canisters in window_days (90); canisters = ceil(quantity ÷ package_quantity) for canister dose forms. Lower is better. [quality.asthma]"),
    ("Asthma: absence of controller", "Among the suboptimal, those with such a window no controller fill overlaps. Lower is better. [quality.asthma]"),
    ("Generic dispensing rate", "Paid claims of generic products ÷ paid claims of products with a generic flag. [quality.generic_dispensing]"),
    ("PDC biguanides", "PDC of biguanides alone; a rate without stars (no cut points). [quality.pdc_biguanides]"),
    ("PDC sulfonylureas", "PDC of sulfonylureas alone; a rate without stars. [quality.pdc_sulfonylureas]"),
    ("PDC thiazolidinediones", "PDC of thiazolidinediones alone; a rate without stars. [quality.pdc_thiazolidinediones]"),
    ("PDC DPP-4 inhibitors", "PDC of DPP-4 inhibitors alone; a rate without stars. [quality.pdc_dpp4_inhibitors]"),
    ("PDC antiretrovirals", "Patients 18+ with two distinct antiretroviral ingredients each filled on two dates; a day is covered with two on hand; adherent at threshold_percent (90 %). A rate without stars. [quality.pdc_antiretrovirals]"),
    ("Diabetes: treatment of hypertension", "Patients 18+ with a diabetes fill and an antihypertensive fill who also had an ACE inhibitor, ARB or direct renin inhibitor. A rate without stars. [quality.diabetes_hypertension]"),
    // safety
    ("Patients with paid claims", "Distinct patients with a paid claim in the period."),
    ("MTM targets", "Patients meeting all three MTM criteria. [safety.mtm]"),
    ("MTM criteria", "Chronic classes with a paid fill, distinct drugs, and annualised submitted cost, all at or above their settings. [safety.mtm]"),
    ("Opioid overutilization", "Patients with opioid fills from at least prescribers_min prescribers and pharmacies_min pharmacies within window_days. [safety.opioid]"),
    ("Opioid criteria", "The prescriber, pharmacy and window settings of [safety.opioid]."),
    ("Patient number", "A pseudonymous number derived from the store; never an identifier."),
    ("Chronic classes", "Chronic classes (setting chronic_classes) with a paid fill in the period."),
    ("Distinct drugs", "Distinct ingredient sets with a paid fill in the period."),
    ("Annualised cost", "Submitted cost of the period's paid claims scaled to a year."),
    ("Prescribers", "Distinct prescribers of the patient's opioid fills in the window."),
    ("Dispensing pharmacies", "Distinct pharmacies that dispensed the patient's opioid fills in the window."),
    ("Opioid fills", "Paid opioid fills in the window."),
    ("Window", "The window_days days in which the criteria were met."),
];

/// The hover text of a label, if the page explains it (chart titles match by their start).
pub(super) fn explain(label: &str) -> Option<&'static str> {
    let exact = HELP.iter().find(|(known, _)| *known == label);
    let chart = || {
        HELP.iter()
            .find(|(known, _)| label.starts_with(&format!("{known} (")))
    };
    exact.or_else(chart).map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_explained_once() {
        let mut labels: Vec<&str> = HELP.iter().map(|(label, _)| *label).collect();
        labels.sort_unstable();
        let before = labels.len();
        labels.dedup();
        assert_eq!(labels.len(), before, "a label is explained twice");
        assert!(explain("Payments by pharmacy (top 3 of 9)").is_some());
        assert_eq!(explain("Unexplained"), None);
    }
}
