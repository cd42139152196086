//! The P4P payment report: per pharmacy, what happened to DUR alerts in the period and what
//! the intervention and bonus pools pay it.
//!
//! Pure core: [`P4pTally`] folds [`ClaimRow`]s (in any order) and [`P4pTally::finish`] returns
//! the typed [`P4pReport`]; [`p4p_report`] does both over an iterator. Rows dated after the
//! period (up to the follow-up window, see [`scan_dates`]) only serve the follow-up of DUR
//! rejects. Must never read the store, the clock or a patient identifier; money is integer
//! cents and the pools are split with [`largest_remainder`], so the pharmacies' amounts sum
//! exactly to what is paid out. The formulas are in `REPORTS.md`.

use super::money::{largest_remainder, prorate};
use super::settings::P4pSettings;
use super::{ClaimRow, DurPpsRow, Period, ReportError, RowStatus, ScanDates};
use crate::claim::{id_hash, Date, Edit};
use crate::limits::{REPORT_CLAIMS_MAX, REPORT_PHARMACIES_MAX};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::cmp::Ordering;
use std::sync::Arc;

/// One pharmacy's line of the report.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct PharmacyP4p {
    pub pharmacy_id: String,
    /// Paid, unreversed claims with a date of service in the period.
    pub paid_claims: u64,
    /// Paid or rejected claims of the period that raised at least one DUR conflict.
    pub claims_with_conflicts: u64,
    /// Paid claims that raised no DUR conflict (not even a warning).
    pub paid_claims_without_alerts: u64,
    /// Paid claims with a payable code (R0/SW/M0 and a result code) answering a raised conflict.
    pub payable_overrides: u64,
    /// Paid claims whose answering codes are unpaid ones (PE/P0) and none payable.
    pub unpaid_overrides: u64,
    /// Paid claims whose answering codes are neither payable nor unpaid (MR, DE, ...).
    pub other_overrides: u64,
    /// Paid claims carrying a DUR/PPS occurrence that answered no raised conflict: no credit.
    pub unmatched_code_claims: u64,
    /// Paid claims carrying any DUR/PPS professional or result code.
    pub coded_paid_claims: u64,
    /// `coded_paid_claims / paid_claims` in basis points, rounded down.
    pub code_share_basis_points: u32,
    /// The share is below the bonus threshold.
    pub below_threshold: bool,
    /// Claims rejected 88 or 79 in the period.
    pub dur_rejects: u64,
    /// DUR rejects with no paid claim for the same patient and product in the follow-up window.
    pub not_dispensed_after_review: u64,
    /// Enough paid claims for the period (prorated volume).
    pub eligible: bool,
    pub intervention_cents: u64,
    pub bonus_cents: u64,
    /// Premier score in basis points; only eligible pharmacies with conflicts are ranked.
    pub premier_score_basis_points: Option<u32>,
    pub premier: bool,
}

/// Conflicts raised in the period by one edit.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct EditCount {
    pub edit: &'static str,
    pub conflicts: u64,
}

/// The report's totals and the figures it was computed with.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize)]
pub struct P4pTotals {
    pub pharmacies: u64,
    pub eligible_pharmacies: u64,
    pub premier_pharmacies: u64,
    pub paid_claims: u64,
    pub claims_with_conflicts: u64,
    pub paid_claims_without_alerts: u64,
    pub payable_overrides: u64,
    pub unpaid_overrides: u64,
    pub other_overrides: u64,
    pub unmatched_code_claims: u64,
    pub dur_rejects: u64,
    pub not_dispensed_after_review: u64,
    /// The period's intervention pool (prorated yearly pool).
    pub intervention_pool_cents: u64,
    /// The period's bonus pool.
    pub bonus_pool_cents: u64,
    /// Paid out of the intervention pool: the whole pool when any eligible pharmacy has a
    /// payable override, else 0. Equals the sum of the pharmacies' amounts.
    pub intervention_cents: u64,
    /// Paid out of the bonus pool, likewise.
    pub bonus_cents: u64,
    pub days_in_period: u32,
    pub eligibility_paid_claims_required: u64,
    pub bonus_threshold_basis_points: u32,
    pub follow_up_days: u32,
    /// The store holds paid claims up to the end of the follow-up window.
    pub follow_up_complete: bool,
    pub conflicts_by_edit: Vec<EditCount>,
}

/// The P4P payment report of one period.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct P4pReport {
    pub period: Period,
    /// Ordered by pharmacy id.
    pub pharmacies: Vec<PharmacyP4p>,
    pub totals: P4pTotals,
    /// Plain-language remarks the reader must see (no credit for unmatched codes, ...).
    pub notes: Vec<String>,
}

/// The dates of service the report reads: the period and its follow-up window after it.
pub fn scan_dates(period: Period, settings: &P4pSettings) -> ScanDates {
    ScanDates {
        first: period.from(),
        last: follow_up_end(period.to(), settings),
    }
}

fn follow_up_end(date: Date, settings: &P4pSettings) -> Date {
    date.add_days(i32::try_from(settings.follow_up_days).unwrap_or(i32::MAX))
}

/// The report over an iterator of claim rows.
pub fn p4p_report(
    rows: impl IntoIterator<Item = ClaimRow>,
    settings: &P4pSettings,
    period: Period,
) -> Result<P4pReport, ReportError> {
    let mut tally = P4pTally::new(settings, period);
    for row in rows {
        tally.add(&row)?;
    }
    Ok(tally.finish())
}

/// Patient, product (hash of 407-D7) and day of a claim: what the follow-up matches on.
type FollowKey = (u32, u64, i32);

/// Counts of one pharmacy while rows are read.
#[derive(Clone, Copy, Default, Debug)]
struct Counts {
    paid: u64,
    with_conflicts: u64,
    without_alerts: u64,
    payable: u64,
    unpaid: u64,
    other: u64,
    unmatched: u64,
    coded: u64,
    dur_rejects: u64,
    not_dispensed: u64,
}

/// The running fold of the P4P report.
pub struct P4pTally<'s> {
    settings: &'s P4pSettings,
    period: Period,
    pharmacies: FxHashMap<Arc<str>, Counts>,
    paid: Vec<FollowKey>,
    rejects: Vec<(FollowKey, Arc<str>)>,
    conflicts_by_edit: [u64; Edit::ALL.len()],
    latest_paid: Option<Date>,
}

impl<'s> P4pTally<'s> {
    pub fn new(settings: &'s P4pSettings, period: Period) -> P4pTally<'s> {
        P4pTally {
            settings,
            period,
            pharmacies: FxHashMap::default(),
            paid: Vec::new(),
            rejects: Vec::new(),
            conflicts_by_edit: [0; Edit::ALL.len()],
            latest_paid: None,
        }
    }

    /// Tells the tally the store's latest paid date of service, so that it can say whether
    /// the follow-up window is complete (rows it saw count too).
    pub fn note_store_latest_paid(&mut self, date: Date) {
        self.latest_paid = self.latest_paid.max(Some(date));
    }

    /// Folds one row. Refuses beyond [`REPORT_PHARMACIES_MAX`] pharmacies or
    /// [`REPORT_CLAIMS_MAX`] remembered claims.
    pub fn add(&mut self, row: &ClaimRow) -> Result<(), ReportError> {
        if row.is_paid() {
            self.note_store_latest_paid(row.date_of_service);
            self.remember(row)?;
        }
        if !self.period.contains(row.date_of_service) {
            return Ok(());
        }
        let settings = self.settings;
        self.counts(&row.pharmacy)?.add(row, settings);
        if row.status != RowStatus::Reversed {
            self.count_edits(row);
        }
        if row.is_dur_rejected() {
            if let Some(key) = follow_key(row) {
                self.rejects.push((key, Arc::clone(&row.pharmacy)));
            }
        }
        Ok(())
    }

    fn remember(&mut self, row: &ClaimRow) -> Result<(), ReportError> {
        if self.paid.len() as u64 >= REPORT_CLAIMS_MAX {
            return Err(too_large("paid claims", REPORT_CLAIMS_MAX));
        }
        self.paid.extend(follow_key(row));
        Ok(())
    }

    fn counts(&mut self, pharmacy: &Arc<str>) -> Result<&mut Counts, ReportError> {
        let known = self.pharmacies.contains_key(pharmacy);
        if !known && self.pharmacies.len() >= REPORT_PHARMACIES_MAX {
            return Err(too_large("pharmacies", REPORT_PHARMACIES_MAX as u64));
        }
        Ok(self.pharmacies.entry(Arc::clone(pharmacy)).or_default())
    }

    fn count_edits(&mut self, row: &ClaimRow) {
        for conflict in &row.conflicts {
            let index = Edit::ALL.iter().position(|edit| *edit == conflict.edit);
            if let Some(count) = index.and_then(|index| self.conflicts_by_edit.get_mut(index)) {
                *count += 1;
            }
        }
    }

    /// The report.
    pub fn finish(mut self) -> P4pReport {
        self.follow_up();
        let mut pharmacies: Vec<(Arc<str>, Counts)> = self.pharmacies.into_iter().collect();
        pharmacies.sort_by(|a, b| a.0.cmp(&b.0));
        let lines = pharmacy_lines(&pharmacies, self.settings, self.period);
        let follow_up_complete =
            self.latest_paid >= Some(follow_up_end(self.period.to(), self.settings));
        build_report(
            lines,
            self.settings,
            self.period,
            follow_up_complete,
            self.conflicts_by_edit,
        )
    }

    /// Marks every DUR reject with no paid claim for the same patient and product on its day
    /// or within the follow-up window after it.
    fn follow_up(&mut self) {
        self.paid.sort_unstable();
        let window = i32::try_from(self.settings.follow_up_days).unwrap_or(i32::MAX);
        for ((patient, product, day), pharmacy) in &self.rejects {
            let first = self
                .paid
                .partition_point(|key| *key < (*patient, *product, *day));
            let dispensed = self.paid.get(first).is_some_and(|(p, q, paid_day)| {
                (p, q) == (patient, product) && *paid_day <= day.saturating_add(window)
            });
            if !dispensed {
                if let Some(counts) = self.pharmacies.get_mut(pharmacy) {
                    counts.not_dispensed += 1;
                }
            }
        }
    }
}

fn too_large(what: &'static str, max: u64) -> ReportError {
    ReportError::TooLarge { what, max }
}

fn follow_key(row: &ClaimRow) -> Option<FollowKey> {
    let patient = row.patient?.0;
    let product = id_hash(row.product_id.as_bytes());
    Some((patient, product, row.date_of_service.days()))
}

/// How the DUR/PPS codes of a paid claim answered its conflicts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum OverrideKind {
    Payable,
    Unpaid,
    Other,
}

fn override_kind(row: &ClaimRow, settings: &P4pSettings) -> Option<OverrideKind> {
    let answering = || row.dur_pps.iter().filter(|occurrence| occurrence.answered);
    let payable = |occurrence: &DurPpsRow| {
        let code = occurrence.professional_code();
        occurrence.result.is_some() && code.is_some_and(|code| settings.is_payable(code))
    };
    let unpaid = |occurrence: &DurPpsRow| {
        let code = occurrence.professional_code();
        code.is_some_and(|code| settings.is_unpaid(code))
    };
    if answering().any(payable) {
        Some(OverrideKind::Payable)
    } else if answering().any(unpaid) {
        Some(OverrideKind::Unpaid)
    } else if answering().any(DurPpsRow::carries_codes) {
        Some(OverrideKind::Other)
    } else {
        None
    }
}

impl Counts {
    fn add(&mut self, row: &ClaimRow, settings: &P4pSettings) {
        match row.status {
            RowStatus::Paid => self.add_paid(row, settings),
            RowStatus::Rejected => self.dur_rejects += u64::from(row.is_dur_rejected()),
            RowStatus::Reversed => return,
        }
        self.with_conflicts += u64::from(!row.conflicts.is_empty());
    }

    fn add_paid(&mut self, row: &ClaimRow, settings: &P4pSettings) {
        self.paid += 1;
        self.without_alerts += u64::from(row.conflicts.is_empty());
        let codes = &row.dur_pps;
        self.coded += u64::from(codes.iter().any(|occurrence| occurrence.carries_codes()));
        self.unmatched += u64::from(codes.iter().any(|occurrence| !occurrence.answered));
        match override_kind(row, settings) {
            Some(OverrideKind::Payable) => self.payable += 1,
            Some(OverrideKind::Unpaid) => self.unpaid += 1,
            Some(OverrideKind::Other) => self.other += 1,
            None => {}
        }
    }
}

/// Paid claims a pharmacy needs in the period: the half-year volume × 2 × days in the period
/// / days in the year of the period start, rounded up.
pub fn eligibility_required(settings: &P4pSettings, period: Period) -> u64 {
    let numerator =
        u128::from(settings.eligibility_paid_claims_per_half_year) * 2 * u128::from(period.days());
    let required = numerator.div_ceil(u128::from(period.days_in_year_of_start()));
    u64::try_from(required).unwrap_or(u64::MAX)
}

fn pharmacy_lines(
    pharmacies: &[(Arc<str>, Counts)],
    settings: &P4pSettings,
    period: Period,
) -> Vec<PharmacyP4p> {
    let required = eligibility_required(settings, period);
    pharmacies
        .iter()
        .map(|(id, counts)| pharmacy_line(id, counts, settings, required))
        .collect()
}

fn pharmacy_line(id: &str, counts: &Counts, settings: &P4pSettings, required: u64) -> PharmacyP4p {
    let threshold = u128::from(settings.bonus_threshold_basis_points);
    let share = (u128::from(counts.coded) * 10_000)
        .checked_div(u128::from(counts.paid))
        .unwrap_or(0);
    PharmacyP4p {
        pharmacy_id: id.to_owned(),
        paid_claims: counts.paid,
        claims_with_conflicts: counts.with_conflicts,
        paid_claims_without_alerts: counts.without_alerts,
        payable_overrides: counts.payable,
        unpaid_overrides: counts.unpaid,
        other_overrides: counts.other,
        unmatched_code_claims: counts.unmatched,
        coded_paid_claims: counts.coded,
        code_share_basis_points: u32::try_from(share).unwrap_or(u32::MAX),
        below_threshold: u128::from(counts.coded) * 10_000 < threshold * u128::from(counts.paid),
        dur_rejects: counts.dur_rejects,
        not_dispensed_after_review: counts.not_dispensed,
        eligible: counts.paid >= required && counts.paid > 0,
        ..PharmacyP4p::default()
    }
}

fn intervention_weight(line: &PharmacyP4p) -> u64 {
    if line.eligible {
        line.payable_overrides
    } else {
        0
    }
}

fn bonus_weight(line: &PharmacyP4p, settings: &P4pSettings) -> u64 {
    if !(line.eligible && line.below_threshold) {
        return 0;
    }
    let not_dispensed = if settings.bonus_counts_not_dispensed {
        line.not_dispensed_after_review
    } else {
        0
    };
    line.paid_claims_without_alerts + not_dispensed
}

fn pay(lines: &mut [PharmacyP4p], settings: &P4pSettings, pools: (u64, u64)) {
    let intervention: Vec<u64> = lines.iter().map(intervention_weight).collect();
    let bonus: Vec<u64> = lines.iter().map(|l| bonus_weight(l, settings)).collect();
    let intervention = largest_remainder(pools.0, &intervention);
    let bonus = largest_remainder(pools.1, &bonus);
    for ((line, intervention), bonus) in lines.iter_mut().zip(intervention).zip(bonus) {
        line.intervention_cents = intervention;
        line.bonus_cents = bonus;
    }
}

/// `(handled, alerts)` of the premier score, for ranked pharmacies. A DUR reject that was
/// dispensed within the follow-up window is not an alert of its own: its outcome is the claim
/// that followed it (counted there, as an override or not).
fn premier_score(line: &PharmacyP4p) -> Option<(u64, u64)> {
    let dispensed_after_reject = line.dur_rejects - line.not_dispensed_after_review;
    let alerts = line
        .claims_with_conflicts
        .saturating_sub(dispensed_after_reject);
    let handled = line.payable_overrides + line.not_dispensed_after_review;
    (line.eligible && alerts > 0).then_some((handled.min(alerts), alerts))
}

/// Best first: higher score (exact fractions), then more alerts, then lower pharmacy id.
fn rank(a: &PharmacyP4p, b: &PharmacyP4p) -> Ordering {
    let (Some((an, ad)), Some((bn, bd))) = (premier_score(a), premier_score(b)) else {
        return Ordering::Equal;
    };
    let by_score = (u128::from(bn) * u128::from(ad)).cmp(&(u128::from(an) * u128::from(bd)));
    by_score
        .then(bd.cmp(&ad))
        .then(a.pharmacy_id.cmp(&b.pharmacy_id))
}

fn designate_premier(lines: &mut [PharmacyP4p], percentile: u32) {
    let mut ranked: Vec<usize> = (0..lines.len())
        .filter(|index| lines.get(*index).and_then(premier_score).is_some())
        .collect();
    ranked.sort_by(|a, b| match (lines.get(*a), lines.get(*b)) {
        (Some(a), Some(b)) => rank(a, b),
        _ => Ordering::Equal,
    });
    let count = (ranked.len() as u64 * u64::from(percentile)).div_ceil(100);
    for (position, index) in ranked.into_iter().enumerate() {
        let Some(line) = lines.get_mut(index) else {
            continue;
        };
        let (handled, alerts) = premier_score(line).unwrap_or((0, 1));
        line.premier_score_basis_points = u32::try_from(handled * 10_000 / alerts).ok();
        line.premier = (position as u64) < count;
    }
}

fn build_report(
    mut lines: Vec<PharmacyP4p>,
    settings: &P4pSettings,
    period: Period,
    follow_up_complete: bool,
    conflicts_by_edit: [u64; Edit::ALL.len()],
) -> P4pReport {
    let pools = (
        prorate(settings.intervention_pool_cents_per_year, period),
        prorate(settings.bonus_pool_cents_per_year, period),
    );
    pay(&mut lines, settings, pools);
    designate_premier(&mut lines, settings.premier_percentile);
    let totals = P4pTotals {
        intervention_pool_cents: pools.0,
        bonus_pool_cents: pools.1,
        days_in_period: period.days(),
        eligibility_paid_claims_required: eligibility_required(settings, period),
        bonus_threshold_basis_points: settings.bonus_threshold_basis_points,
        follow_up_days: settings.follow_up_days,
        follow_up_complete,
        conflicts_by_edit: edit_counts(conflicts_by_edit),
        ..sum_lines(&lines)
    };
    let notes = notes(&totals, period);
    P4pReport {
        period,
        pharmacies: lines,
        totals,
        notes,
    }
}

fn edit_counts(conflicts_by_edit: [u64; Edit::ALL.len()]) -> Vec<EditCount> {
    Edit::ALL
        .iter()
        .zip(conflicts_by_edit)
        .map(|(edit, conflicts)| EditCount {
            edit: edit.as_str(),
            conflicts,
        })
        .collect()
}

fn sum_lines(lines: &[PharmacyP4p]) -> P4pTotals {
    let sum = |field: fn(&PharmacyP4p) -> u64| lines.iter().map(field).sum::<u64>();
    let count = |test: fn(&PharmacyP4p) -> bool| lines.iter().filter(|l| test(l)).count() as u64;
    P4pTotals {
        pharmacies: lines.len() as u64,
        eligible_pharmacies: count(|line| line.eligible),
        premier_pharmacies: count(|line| line.premier),
        paid_claims: sum(|line| line.paid_claims),
        claims_with_conflicts: sum(|line| line.claims_with_conflicts),
        paid_claims_without_alerts: sum(|line| line.paid_claims_without_alerts),
        payable_overrides: sum(|line| line.payable_overrides),
        unpaid_overrides: sum(|line| line.unpaid_overrides),
        other_overrides: sum(|line| line.other_overrides),
        unmatched_code_claims: sum(|line| line.unmatched_code_claims),
        dur_rejects: sum(|line| line.dur_rejects),
        not_dispensed_after_review: sum(|line| line.not_dispensed_after_review),
        intervention_cents: sum(|line| line.intervention_cents),
        bonus_cents: sum(|line| line.bonus_cents),
        ..P4pTotals::default()
    }
}

fn notes(totals: &P4pTotals, period: Period) -> Vec<String> {
    let mut notes = vec![format!(
        "DUR/PPS codes that answered no conflict raised on their claim earn no P4P credit: \
         {} paid claims carried such codes.",
        totals.unmatched_code_claims
    )];
    notes.push(format!(
        "Eligibility checks plan volume only: at least {} paid claims in these {} days; \
         network contracts and time in business are not in the claim store.",
        totals.eligibility_paid_claims_required, totals.days_in_period
    ));
    if totals.intervention_pool_cents > 0 && totals.intervention_cents == 0 {
        notes.push(
            "No eligible pharmacy has a payable override: the intervention pool is not paid out."
                .into(),
        );
    }
    if totals.bonus_pool_cents > 0 && totals.bonus_cents == 0 {
        notes.push(
            "No eligible pharmacy qualifies for the bonus: the bonus pool is not paid out.".into(),
        );
    }
    if !totals.follow_up_complete {
        notes.push(format!(
            "The store holds no paid claim dated {} or later: DUR rejects near the period end \
             may still be dispensed within their {}-day follow-up window.",
            period.to().add_days(totals.follow_up_days as i32),
            totals.follow_up_days
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::{reject, Action};
    use crate::report::testing::{
        dur_rejected, half_year, paid, with_codes, with_conflict, with_product, with_reject_code,
    };
    use crate::report::Settings;

    fn settings() -> P4pSettings {
        Settings::default().p4p
    }

    /// `count` plain paid claims for a pharmacy, ids from `first`.
    fn volume(pharmacy: &str, first: u64, count: u64) -> Vec<ClaimRow> {
        (first..first + count)
            .map(|id| paid(id, pharmacy, id as u32, (id % 180) as i32))
            .collect()
    }

    fn override_claim(id: u64, pharmacy: &str, professional: &str, answered: bool) -> ClaimRow {
        let row = with_conflict(paid(id, pharmacy, 1, 10), Edit::Ddi, Action::Reject);
        with_codes(row, professional, "1G", answered)
    }

    fn line<'r>(report: &'r P4pReport, pharmacy: &str) -> &'r PharmacyP4p {
        let found = report.pharmacies.iter().find(|l| l.pharmacy_id == pharmacy);
        found.unwrap()
    }

    #[test]
    fn eligibility_is_prorated_and_inclusive() {
        // 500 per half year → 1000 × 181 / 365 = 495.9 → 496 claims for 2018-01..06.
        let settings = settings();
        assert_eq!(eligibility_required(&settings, half_year()), 496);
        let mut rows = volume("A", 0, 496);
        rows.extend(volume("B", 10_000, 495));
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        assert!(line(&report, "A").eligible);
        assert!(!line(&report, "B").eligible);
    }

    #[test]
    fn only_payable_codes_answering_a_conflict_earn_the_intervention_pool() {
        let settings = settings();
        let mut rows = volume("A", 0, 600);
        rows.extend(volume("B", 10_000, 600));
        rows.push(override_claim(20_000, "A", "R0", true));
        rows.push(override_claim(20_001, "A", "M0", false)); // answered nothing
        rows.push(override_claim(20_002, "B", "PE", true)); // unpaid code
        rows.push(override_claim(20_003, "B", "MR", true)); // other code
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let (a, b) = (line(&report, "A"), line(&report, "B"));
        assert_eq!((a.payable_overrides, a.unmatched_code_claims), (1, 1));
        assert_eq!(
            (b.unpaid_overrides, b.other_overrides, b.payable_overrides),
            (1, 1, 0)
        );
        assert_eq!(a.intervention_cents, report.totals.intervention_pool_cents);
        assert_eq!(b.intervention_cents, 0);
        assert!(report
            .notes
            .iter()
            .any(|note| note.contains("earn no P4P credit: 1 paid")));
    }

    #[test]
    fn a_payable_professional_code_needs_a_result_code() {
        let row = with_conflict(paid(1, "A", 1, 3), Edit::Ddi, Action::Reject);
        let row = with_codes(row, "R0", "", true);
        assert_eq!(override_kind(&row, &settings()), Some(OverrideKind::Other));
    }

    #[test]
    fn bonus_threshold_is_strictly_below() {
        // 600 paid claims; 5 % threshold: 29 coded claims (4.83 %) qualify, 30 (5.00 %) do not.
        let settings = settings();
        let coded = |pharmacy: &'static str, first: u64, count: u64| {
            (first..first + count)
                .map(move |id| with_codes(paid(id, pharmacy, 9, 5), "PE", "1B", false))
        };
        let mut rows = volume("A", 0, 571);
        rows.extend(coded("A", 1_000, 29));
        rows.extend(volume("B", 10_000, 570));
        rows.extend(coded("B", 11_000, 30));
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let (a, b) = (line(&report, "A"), line(&report, "B"));
        assert_eq!((a.code_share_basis_points, a.below_threshold), (483, true));
        assert_eq!((b.code_share_basis_points, b.below_threshold), (500, false));
        assert_eq!(a.bonus_cents, report.totals.bonus_pool_cents);
        assert_eq!(b.bonus_cents, 0);
    }

    #[test]
    fn follow_up_window_includes_day_seven_not_day_eight() {
        let settings = settings();
        let mut rows = volume("A", 0, 600);
        // Patient 90001 rejected on day 20, paid on day 27 (day 7 of the window): dispensed.
        rows.push(dur_rejected(50_000, "A", 90_001, 20));
        rows.push(paid(50_001, "B", 90_001, 27));
        // Patient 90002 rejected on day 20, paid on day 28 (day 8): not dispensed.
        rows.push(dur_rejected(50_002, "A", 90_002, 20));
        rows.push(paid(50_003, "B", 90_002, 28));
        // Patient 90003 rejected, then paid a different product the same day: not dispensed.
        rows.push(dur_rejected(50_004, "A", 90_003, 30));
        rows.push(with_product(paid(50_005, "A", 90_003, 30), 2, 30));
        // Refill too soon (79) counts as a DUR reject; a validation reject (21) does not.
        rows.push(with_reject_code(
            dur_rejected(50_006, "A", 90_004, 40),
            reject::REFILL_TOO_SOON,
        ));
        rows.push(with_reject_code(
            paid(50_007, "A", 90_005, 40),
            reject::PRODUCT_ID,
        ));
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let a = line(&report, "A");
        assert_eq!(a.dur_rejects, 4);
        assert_eq!(a.not_dispensed_after_review, 3);
    }

    #[test]
    fn paid_claims_after_the_period_only_serve_the_follow_up() {
        let settings = settings();
        let period = half_year();
        let last = period.days() as i32 - 1;
        let rows = vec![
            dur_rejected(1, "A", 5, last),
            paid(2, "A", 5, last + 3),
            paid(3, "A", 6, last + 1),
        ];
        let report = p4p_report(rows, &settings, period).unwrap();
        let a = line(&report, "A");
        assert_eq!(
            (a.paid_claims, a.dur_rejects, a.not_dispensed_after_review),
            (0, 1, 0)
        );
        assert!(
            !report.totals.follow_up_complete,
            "no paid claim on the window's last day"
        );
        assert!(report
            .notes
            .iter()
            .any(|note| note.contains("follow-up window")));
    }

    #[test]
    fn reversed_claims_count_nowhere() {
        let mut row = with_conflict(paid(1, "A", 1, 3), Edit::Ddi, Action::Warn);
        row.status = RowStatus::Reversed;
        let report = p4p_report(vec![row], &settings(), half_year()).unwrap();
        let a = line(&report, "A");
        assert_eq!((a.paid_claims, a.claims_with_conflicts), (0, 0));
        assert!(report
            .totals
            .conflicts_by_edit
            .iter()
            .all(|count| count.conflicts == 0));
    }

    #[test]
    fn pools_reconcile_and_follow_the_weights() {
        let settings = settings();
        let mut rows = Vec::new();
        for (index, pharmacy) in ["A", "B", "C"].iter().enumerate() {
            let first = index as u64 * 10_000;
            rows.extend(volume(pharmacy, first, 600));
            for n in 0..=index as u64 {
                rows.push(override_claim(first + 5_000 + n, pharmacy, "SW", true));
            }
        }
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let totals = &report.totals;
        let paid: u64 = report.pharmacies.iter().map(|l| l.intervention_cents).sum();
        assert_eq!(paid, totals.intervention_pool_cents);
        assert_eq!(totals.intervention_cents, totals.intervention_pool_cents);
        // Weights 1:2:3 of 247_945_205 cents: 41_324_200.83, 82_648_401.67, 123_972_602.5.
        let shares: Vec<u64> = report
            .pharmacies
            .iter()
            .map(|l| l.intervention_cents)
            .collect();
        assert_eq!(shares, vec![41_324_201, 82_648_402, 123_972_602]);
        let bonus: u64 = report.pharmacies.iter().map(|l| l.bonus_cents).sum();
        assert_eq!(bonus, totals.bonus_pool_cents);
    }

    #[test]
    fn premier_goes_to_the_top_tenth_by_handled_alerts() {
        let settings = settings();
        let mut rows = Vec::new();
        // Eleven eligible pharmacies, each with 4 conflict claims; pharmacy P00 answers none of
        // them with a payable code, P10 answers all four: premier count ceil(11 × 10 %) = 2.
        for index in 0..11u64 {
            let pharmacy = format!("P{index:02}");
            let first = index * 10_000;
            rows.extend(volume(&pharmacy, first, 600));
            for n in 0..4u64 {
                let answered = n < index.min(4);
                let claim = override_claim(first + 5_000 + n, &pharmacy, "R0", answered);
                rows.push(claim);
            }
        }
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let premier: Vec<&str> = report
            .pharmacies
            .iter()
            .filter(|line| line.premier)
            .map(|line| line.pharmacy_id.as_str())
            .collect();
        // P04..P10 all score 100 %: the tie goes to the lower pharmacy ids.
        assert_eq!(premier, vec!["P04", "P05"]);
        assert_eq!(line(&report, "P02").premier_score_basis_points, Some(5_000));
        assert_eq!(report.totals.premier_pharmacies, 2);
    }

    #[test]
    fn a_reject_dispensed_after_review_is_one_alert_with_the_claim_that_followed() {
        // Rejected, then paid with R0 two days later: one alert, handled → 100 %.
        // Rejected and never dispensed: one alert, handled → 100 %.
        // Rejected, then paid without a code: one alert, not handled → 0 %.
        let settings = settings();
        let mut rows = volume("A", 0, 600);
        rows.extend(volume("B", 10_000, 600));
        rows.extend(volume("C", 20_000, 600));
        rows.push(dur_rejected(30_000, "A", 70_001, 10));
        let overridden = with_conflict(
            paid(30_001, "A", 70_001, 12),
            Edit::Duplication,
            Action::Reject,
        );
        rows.push(with_codes(overridden, "R0", "1G", true));
        rows.push(dur_rejected(30_002, "B", 70_002, 10));
        rows.push(dur_rejected(30_003, "C", 70_003, 10));
        let resubmitted = with_conflict(
            paid(30_004, "C", 70_003, 11),
            Edit::Duplication,
            Action::Reject,
        );
        rows.push(resubmitted);
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let score = |id| line(&report, id).premier_score_basis_points;
        assert_eq!(
            (score("A"), score("B"), score("C")),
            (Some(10_000), Some(10_000), Some(0))
        );
    }

    #[test]
    fn codes_that_answered_nothing_earn_nothing() {
        let settings = settings();
        let mut rows = volume("A", 0, 600);
        rows.extend(volume("B", 10_000, 600));
        rows.push(override_claim(20_000, "A", "R0", true));
        // B sends payable codes on claims whose conflicts they did not answer.
        for id in 20_001..20_011 {
            rows.push(override_claim(id, "B", "R0", false));
        }
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let b = line(&report, "B");
        assert_eq!((b.payable_overrides, b.unmatched_code_claims), (0, 10));
        assert_eq!(b.intervention_cents, 0);
        assert_eq!(
            line(&report, "A").intervention_cents,
            report.totals.intervention_pool_cents
        );
    }

    proptest::proptest! {
        /// Random pharmacies (volume, payable overrides, codes): every pool is paid out whole
        /// when anyone qualifies, and the pharmacies' amounts sum to the totals exactly.
        #[test]
        fn totals_reconcile_to_the_pools(
            shapes in proptest::collection::vec((0u64..40, 0u64..6, 0u64..4), 1..25),
            threshold in 0u32..3_000,
            eligibility in 0u64..40,
        ) {
            let mut settings = settings();
            settings.bonus_threshold_basis_points = threshold;
            settings.eligibility_paid_claims_per_half_year = eligibility;
            let mut rows = Vec::new();
            for (index, (plain, payable, coded)) in shapes.iter().enumerate() {
                let pharmacy = format!("P{index:03}");
                let first = index as u64 * 1_000;
                rows.extend(volume(&pharmacy, first, *plain));
                for n in 0..*payable {
                    rows.push(override_claim(first + 100 + n, &pharmacy, "SW", true));
                }
                for n in 0..*coded {
                    rows.push(with_codes(paid(first + 200 + n, &pharmacy, 3, 4), "PE", "1B", false));
                }
            }
            let report = p4p_report(rows, &settings, half_year()).unwrap();
            let totals = &report.totals;
            let intervention: u64 = report.pharmacies.iter().map(|l| l.intervention_cents).sum();
            let bonus: u64 = report.pharmacies.iter().map(|l| l.bonus_cents).sum();
            proptest::prop_assert_eq!(intervention, totals.intervention_cents);
            proptest::prop_assert_eq!(bonus, totals.bonus_cents);
            let anyone = |weight: &dyn Fn(&PharmacyP4p) -> u64| report.pharmacies.iter().any(|l| weight(l) > 0);
            let expected = if anyone(&intervention_weight) { totals.intervention_pool_cents } else { 0 };
            proptest::prop_assert_eq!(intervention, expected);
            let expected = if anyone(&|l| bonus_weight(l, &settings)) { totals.bonus_pool_cents } else { 0 };
            proptest::prop_assert_eq!(bonus, expected);
            for line in &report.pharmacies {
                proptest::prop_assert!(line.eligible || line.intervention_cents + line.bonus_cents == 0);
            }
        }
    }

    #[test]
    fn nothing_is_paid_when_nobody_qualifies() {
        let rows = vec![override_claim(1, "A", "R0", true)];
        let report = p4p_report(rows, &settings(), half_year()).unwrap();
        assert_eq!(report.totals.intervention_cents, 0);
        assert!(report.totals.intervention_pool_cents > 0);
        assert!(report
            .notes
            .iter()
            .any(|note| note.contains("not paid out")));
    }
}
