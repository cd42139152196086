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
use crate::claim::{id_hash, reject, Date, Edit};
use crate::limits::{REPORT_CLAIMS_MAX, REPORT_PHARMACIES_MAX};
use crate::rules::RuleSet;
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
    /// Paid claims earning intervention credit: an occurrence with a payable code (R0/SW/M0)
    /// and a result code was accepted as the override of a rejecting conflict of a credit edit.
    pub payable_overrides: u64,
    /// Paid claims with such an accepted override whose codes are unpaid ones (PE/P0), none
    /// payable.
    pub unpaid_overrides: u64,
    /// Paid claims with such an accepted override whose codes are neither payable nor unpaid
    /// (MR, DE, a payable code without a result code, ...).
    pub other_overrides: u64,
    /// Paid claims carrying a DUR/PPS occurrence that answered no raised conflict: no credit.
    pub unmatched_code_claims: u64,
    /// Paid claims whose codes answered a conflict but earn nothing: refused codes, codes on a
    /// warning, conflicts of edits outside `credit_edits`.
    pub uncredited_code_claims: u64,
    /// Paid claims that raised a conflict of a credit edit (rejecting or warning): the
    /// numerator of the program's Tier-2 "safety DUR alert" rate.
    pub safety_alert_claims: u64,
    /// `safety_alert_claims / paid_claims` in basis points, rounded down.
    pub safety_alert_rate_basis_points: u32,
    /// Paid claims carrying any DUR/PPS professional or result code.
    pub coded_paid_claims: u64,
    /// `coded_paid_claims / paid_claims` in basis points, rounded down.
    pub code_share_basis_points: u32,
    /// The share is below the bonus threshold.
    pub below_threshold: bool,
    /// Claims rejected 88 in the period (79 refill-too-soon rejects are no DUR review).
    pub dur_rejects: u64,
    /// Not-dispensed episodes opened in the period: per patient, pharmacy and same drug
    /// product, the 88 rejects within the follow-up window are one episode, dispensed when the
    /// patient has a paid claim of the same drug product (any NDC, any pharmacy) in it.
    pub not_dispensed_after_review: u64,
    /// Premier alerts: accepted overrides of rejecting credit-edit conflicts plus
    /// not-dispensed episodes.
    pub premier_alerts: u64,
    /// More paid claims than the period's prorated volume requires.
    pub eligible: bool,
    pub intervention_cents: u64,
    pub bonus_cents: u64,
    /// Premier score in basis points; only eligible pharmacies with at least
    /// `premier_min_alerts` alerts are ranked.
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
    pub uncredited_code_claims: u64,
    pub safety_alert_claims: u64,
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
    /// An eligible pharmacy has more paid claims than this: the prorated volume, rounded down.
    pub eligibility_paid_claims_required: u64,
    pub bonus_threshold_basis_points: u32,
    pub follow_up_days: u32,
    /// The store holds paid claims up to the end of the follow-up window.
    pub follow_up_complete: bool,
    pub premier_min_alerts: u64,
    /// The edits whose overrides can earn intervention credit.
    pub credit_edits: Vec<&'static str>,
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

/// The report over an iterator of claim rows, each product its own drug product group (no
/// rule tables).
pub fn p4p_report(
    rows: impl IntoIterator<Item = ClaimRow>,
    settings: &P4pSettings,
    period: Period,
) -> Result<P4pReport, ReportError> {
    let mut tally = P4pTally::new(settings, period, DrugProducts::default());
    for row in rows {
        tally.add(&row)?;
    }
    Ok(tally.finish())
}

/// Patient, drug (see [`DrugProducts::key`]) and day of a claim: what the follow-up matches.
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
    uncredited: u64,
    safety_alerts: u64,
    coded: u64,
    dur_rejects: u64,
    not_dispensed: u64,
}

/// The *same drug product* group of each NDC of the rule tables; a product the tables do not
/// know is its own group (its 407-D7).
#[derive(Default)]
pub struct DrugProducts {
    groups: FxHashMap<u64, u32>,
}

/// Set on group keys so that they never equal a product id hash (which has it cleared).
const DRUG_GROUP_TAG: u64 = 1 << 63;

impl DrugProducts {
    /// The groups of every product of `rules`.
    pub fn of(rules: &RuleSet) -> DrugProducts {
        let groups = rules
            .products()
            .iter()
            .map(|product| (product.ndc.value(), product.drug_product))
            .collect();
        DrugProducts { groups }
    }

    /// Groups given as (NDC value, group) pairs.
    #[cfg(test)]
    fn from_groups(pairs: &[(u64, u32)]) -> DrugProducts {
        DrugProducts {
            groups: pairs.iter().copied().collect(),
        }
    }

    fn key(&self, row: &ClaimRow) -> u64 {
        let group = row.ndc.and_then(|ndc| self.groups.get(&ndc.value()));
        match group {
            Some(group) => u64::from(*group) | DRUG_GROUP_TAG,
            None => id_hash(row.product_id.as_bytes()) & !DRUG_GROUP_TAG,
        }
    }
}

/// A DUR reject (88) of the period: its follow key and pharmacy.
struct Reject {
    key: FollowKey,
    pharmacy: Arc<str>,
}

/// The running fold of the P4P report.
pub struct P4pTally<'s> {
    settings: &'s P4pSettings,
    credit_edits: Vec<Edit>,
    period: Period,
    drugs: DrugProducts,
    pharmacies: FxHashMap<Arc<str>, Counts>,
    paid: Vec<FollowKey>,
    rejects: Vec<Reject>,
    conflicts_by_edit: [u64; Edit::ALL.len()],
    latest_paid: Option<Date>,
}

impl<'s> P4pTally<'s> {
    /// A tally that groups products by `drugs` (see [`DrugProducts::of`]).
    pub fn new(settings: &'s P4pSettings, period: Period, drugs: DrugProducts) -> P4pTally<'s> {
        P4pTally {
            settings,
            credit_edits: settings.credit_edits(),
            period,
            drugs,
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
        let credit = Credit::new(self.settings, &self.credit_edits);
        counts_of(&mut self.pharmacies, &row.pharmacy)?.add(row, &credit);
        if row.status != RowStatus::Reversed {
            self.count_edits(row);
        }
        if is_review_reject(row) {
            if self.rejects.len() as u64 >= REPORT_CLAIMS_MAX {
                return Err(too_large("DUR rejects", REPORT_CLAIMS_MAX));
            }
            if let Some(key) = follow_key(row, &self.drugs) {
                let pharmacy = Arc::clone(&row.pharmacy);
                self.rejects.push(Reject { key, pharmacy });
            }
        }
        Ok(())
    }

    fn remember(&mut self, row: &ClaimRow) -> Result<(), ReportError> {
        if self.paid.len() as u64 >= REPORT_CLAIMS_MAX {
            return Err(too_large("paid claims", REPORT_CLAIMS_MAX));
        }
        self.paid.extend(follow_key(row, &self.drugs));
        Ok(())
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
        let edits = &self.credit_edits;
        build_report(
            lines,
            self.settings,
            self.period,
            follow_up_complete,
            (self.conflicts_by_edit, edits),
        )
    }

    /// Groups the period's 88 rejects into episodes per patient, pharmacy and drug product
    /// (the first reject opens one spanning its day through + `follow_up_days`; later rejects
    /// in the span join it) and counts each episode with no paid claim of the patient for the
    /// drug product (any pharmacy) in its span.
    fn follow_up(&mut self) {
        self.paid.sort_unstable();
        let window = i32::try_from(self.settings.follow_up_days).unwrap_or(i32::MAX);
        self.rejects.sort_by(|a, b| {
            let group = |r: &Reject| (r.key.0, r.key.1, Arc::clone(&r.pharmacy), r.key.2);
            group(a).cmp(&group(b))
        });
        let mut open: Option<(u32, u64, &str, i32)> = None;
        for reject in &self.rejects {
            let (patient, drug, day) = reject.key;
            let joins = open.is_some_and(|(p, d, pharmacy, opened)| {
                (p, d, pharmacy) == (patient, drug, &*reject.pharmacy)
                    && day <= opened.saturating_add(window)
            });
            if joins {
                continue;
            }
            open = Some((patient, drug, &reject.pharmacy, day));
            let first = self.paid.partition_point(|key| *key < (patient, drug, day));
            let dispensed = self.paid.get(first).is_some_and(|(p, d, paid_day)| {
                (*p, *d) == (patient, drug) && *paid_day <= day.saturating_add(window)
            });
            if !dispensed {
                if let Some(counts) = self.pharmacies.get_mut(&reject.pharmacy) {
                    counts.not_dispensed += 1;
                }
            }
        }
    }
}

/// A claim rejected 88: a DUR review (a claim rejected 79 and not 88 is none).
fn is_review_reject(row: &ClaimRow) -> bool {
    row.status == RowStatus::Rejected && row.reject_codes.contains(&reject::DUR_REJECT)
}

/// The counts of `pharmacy`, refusing a pharmacy beyond [`REPORT_PHARMACIES_MAX`].
fn counts_of<'p>(
    pharmacies: &'p mut FxHashMap<Arc<str>, Counts>,
    pharmacy: &Arc<str>,
) -> Result<&'p mut Counts, ReportError> {
    let known = pharmacies.contains_key(pharmacy);
    if !known && pharmacies.len() >= REPORT_PHARMACIES_MAX {
        return Err(too_large("pharmacies", REPORT_PHARMACIES_MAX as u64));
    }
    Ok(pharmacies.entry(Arc::clone(pharmacy)).or_default())
}

fn too_large(what: &'static str, max: u64) -> ReportError {
    ReportError::TooLarge { what, max }
}

fn follow_key(row: &ClaimRow, drugs: &DrugProducts) -> Option<FollowKey> {
    let patient = row.patient?.0;
    Some((patient, drugs.key(row), row.date_of_service.days()))
}

/// How the DUR/PPS codes of a paid claim answered its conflicts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum OverrideKind {
    Payable,
    Unpaid,
    Other,
}

/// What decides credit for one row: the settings and the credit edits.
struct Credit<'a> {
    settings: &'a P4pSettings,
    edits: &'a [Edit],
}

impl<'a> Credit<'a> {
    fn new(settings: &'a P4pSettings, edits: &'a [Edit]) -> Credit<'a> {
        Credit { settings, edits }
    }

    fn is_credit_edit(&self, edit: Edit) -> bool {
        self.edits.contains(&edit)
    }
}

/// How the accepted overrides of rejecting credit-edit conflicts on a paid claim were coded;
/// `None` when it has none (refused codes, codes on warnings or other edits: no credit).
fn override_kind(row: &ClaimRow, credit: &Credit) -> Option<OverrideKind> {
    let settings = credit.settings;
    let answering = || {
        row.dur_pps
            .iter()
            .filter(|occurrence| occurrence.overrode_rejecting(credit.edits))
    };
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
    fn add(&mut self, row: &ClaimRow, credit: &Credit) {
        match row.status {
            RowStatus::Paid => self.add_paid(row, credit),
            RowStatus::Rejected => self.dur_rejects += u64::from(is_review_reject(row)),
            RowStatus::Reversed => return,
        }
        self.with_conflicts += u64::from(!row.conflicts.is_empty());
    }

    fn add_paid(&mut self, row: &ClaimRow, credit: &Credit) {
        self.paid += 1;
        self.without_alerts += u64::from(row.conflicts.is_empty());
        let safety = row.conflicts.iter().any(|c| credit.is_credit_edit(c.edit));
        self.safety_alerts += u64::from(safety);
        let codes = &row.dur_pps;
        self.coded += u64::from(codes.iter().any(|occurrence| occurrence.carries_codes()));
        self.unmatched += u64::from(codes.iter().any(|occurrence| !occurrence.answered));
        let kind = override_kind(row, credit);
        match kind {
            Some(OverrideKind::Payable) => self.payable += 1,
            Some(OverrideKind::Unpaid) => self.unpaid += 1,
            Some(OverrideKind::Other) => self.other += 1,
            None => {}
        }
        let answered_codes = codes.iter().any(|o| o.answered && o.carries_codes());
        self.uncredited += u64::from(kind.is_none() && answered_codes);
    }
}

/// The prorated volume a pharmacy's paid claims must be over: the half-year volume × 2 ×
/// days in the period / days in the year of the period start, rounded down. For a whole
/// number of claims, being over the rounded-down volume is being over the exact one (496 is
/// over 495.89, 495 is not).
pub fn eligibility_required(settings: &P4pSettings, period: Period) -> u64 {
    let numerator =
        u128::from(settings.eligibility_paid_claims_per_half_year) * 2 * u128::from(period.days());
    let required = numerator / u128::from(period.days_in_year_of_start());
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

/// `part / whole` in basis points, rounded down (0 when `whole` is 0).
fn basis_points(part: u64, whole: u64) -> u32 {
    let share = (u128::from(part) * 10_000)
        .checked_div(u128::from(whole))
        .unwrap_or(0);
    u32::try_from(share).unwrap_or(u32::MAX)
}

fn pharmacy_line(id: &str, counts: &Counts, settings: &P4pSettings, required: u64) -> PharmacyP4p {
    let threshold = u128::from(settings.bonus_threshold_basis_points);
    PharmacyP4p {
        pharmacy_id: id.to_owned(),
        paid_claims: counts.paid,
        claims_with_conflicts: counts.with_conflicts,
        paid_claims_without_alerts: counts.without_alerts,
        payable_overrides: counts.payable,
        unpaid_overrides: counts.unpaid,
        other_overrides: counts.other,
        unmatched_code_claims: counts.unmatched,
        uncredited_code_claims: counts.uncredited,
        safety_alert_claims: counts.safety_alerts,
        safety_alert_rate_basis_points: basis_points(counts.safety_alerts, counts.paid),
        coded_paid_claims: counts.coded,
        code_share_basis_points: basis_points(counts.coded, counts.paid),
        below_threshold: u128::from(counts.coded) * 10_000 < threshold * u128::from(counts.paid),
        dur_rejects: counts.dur_rejects,
        not_dispensed_after_review: counts.not_dispensed,
        premier_alerts: counts.payable + counts.unpaid + counts.other + counts.not_dispensed,
        eligible: counts.paid > required && counts.paid > 0,
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

/// `(handled, alerts)` of the premier score, for ranked pharmacies: eligible, with at least
/// `min_alerts` alerts (accepted overrides of rejecting credit-edit conflicts plus
/// not-dispensed episodes); handled = intervention credits plus not-dispensed episodes.
fn premier_score(line: &PharmacyP4p, min_alerts: u64) -> Option<(u64, u64)> {
    let alerts = line.premier_alerts;
    let handled = line.payable_overrides + line.not_dispensed_after_review;
    (line.eligible && alerts > 0 && alerts >= min_alerts).then_some((handled.min(alerts), alerts))
}

/// Higher score first, compared as exact fractions.
fn by_score(a: (u64, u64), b: (u64, u64)) -> Ordering {
    (u128::from(b.0) * u128::from(a.1)).cmp(&(u128::from(a.0) * u128::from(b.1)))
}

/// Premier: every ranked pharmacy whose score is at least the n-th highest, n = ceil(ranked x
/// `percentile` / 100) — all pharmacies tied at the cut-off are in.
fn designate_premier(lines: &mut [PharmacyP4p], percentile: u32, min_alerts: u64) {
    let mut scores: Vec<(u64, u64)> = lines
        .iter()
        .filter_map(|line| premier_score(line, min_alerts))
        .collect();
    scores.sort_by(|a, b| by_score(*a, *b));
    let count = (scores.len() as u64 * u64::from(percentile)).div_ceil(100);
    let cut = usize::try_from(count)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|n| scores.get(n).copied());
    for line in lines.iter_mut() {
        let Some((handled, alerts)) = premier_score(line, min_alerts) else {
            continue;
        };
        line.premier_score_basis_points = Some(basis_points(handled, alerts));
        line.premier = cut.is_some_and(|cut| by_score((handled, alerts), cut) != Ordering::Greater);
    }
}

fn build_report(
    mut lines: Vec<PharmacyP4p>,
    settings: &P4pSettings,
    period: Period,
    follow_up_complete: bool,
    (conflicts_by_edit, credit_edits): ([u64; Edit::ALL.len()], &[Edit]),
) -> P4pReport {
    let pools = (
        prorate(settings.intervention_pool_cents_per_year, period),
        prorate(settings.bonus_pool_cents_per_year, period),
    );
    pay(&mut lines, settings, pools);
    designate_premier(
        &mut lines,
        settings.premier_percentile,
        settings.premier_min_alerts,
    );
    let totals = P4pTotals {
        intervention_pool_cents: pools.0,
        bonus_pool_cents: pools.1,
        days_in_period: period.days(),
        eligibility_paid_claims_required: eligibility_required(settings, period),
        bonus_threshold_basis_points: settings.bonus_threshold_basis_points,
        follow_up_days: settings.follow_up_days,
        follow_up_complete,
        premier_min_alerts: settings.premier_min_alerts,
        credit_edits: credit_edits.iter().map(|edit| edit.as_str()).collect(),
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
        uncredited_code_claims: sum(|line| line.uncredited_code_claims),
        safety_alert_claims: sum(|line| line.safety_alert_claims),
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
        "Eligibility checks plan volume only: more than {} paid claims in these {} days; \
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
        day, dur_rejected, half_year, paid, with_codes, with_conflict, with_occurrence,
        with_product, with_reject_code,
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
    fn eligibility_is_prorated_and_strictly_over() {
        // 500 per half year over 2018-01-01..06-30: over 1000 × 181 / 365 = 495.89 paid claims,
        // compared exactly: 496 × 365 = 181_040 > 181_000 qualifies, 495 × 365 = 180_675 does
        // not. The report says "more than 495".
        let settings = settings();
        assert_eq!(eligibility_required(&settings, half_year()), 495);
        let mut rows = volume("A", 0, 496);
        rows.extend(volume("B", 10_000, 495));
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        assert!(line(&report, "A").eligible);
        assert!(!line(&report, "B").eligible);
        // Over the whole of 2018 the volume is 1000 × 365 / 365 = 1000 exactly: 1000 is not
        // over it, 1001 is.
        let year = Period::new(day(0), day(364)).unwrap();
        assert_eq!(eligibility_required(&settings, year), 1_000);
        let mut rows = volume("A", 0, 1_001);
        rows.extend(volume("B", 10_000, 1_000));
        let report = p4p_report(rows, &settings, year).unwrap();
        assert!(line(&report, "A").eligible);
        assert!(!line(&report, "B").eligible);
    }

    #[test]
    fn codes_that_were_refused_or_answered_a_warning_or_another_edit_earn_nothing() {
        let settings = settings();
        let mut rows = volume("A", 0, 600);
        // A warning answered with R0/2A (matched, no override needed): no credit.
        let warned = with_conflict(paid(20_000, "A", 1, 10), Edit::Ddi, Action::Warn);
        rows.push(with_occurrence(warned, "R0", "1B", true, true));
        // A refused code next to a rejecting conflict (the claim paid on another override).
        let refused = with_conflict(paid(20_001, "A", 2, 10), Edit::Ddi, Action::Reject);
        rows.push(with_occurrence(refused, "R0", "1G", true, false));
        // An accepted override of a rejecting conflict of an edit outside credit_edits.
        let opioid = with_conflict(paid(20_002, "A", 3, 10), Edit::Opioid, Action::Reject);
        rows.push(with_occurrence(opioid, "M0", "1G", true, true));
        // The one that counts: an accepted M0/1G override of a rejecting duplication.
        let credited = with_conflict(paid(20_003, "A", 4, 10), Edit::Duplication, Action::Reject);
        rows.push(with_occurrence(credited, "M0", "1G", true, true));
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let a = line(&report, "A");
        assert_eq!((a.payable_overrides, a.uncredited_code_claims), (1, 3));
        assert_eq!((a.unpaid_overrides, a.other_overrides), (0, 0));
        // Safety alerts: the three paid claims with a credit-edit conflict (the opioid is not).
        assert_eq!(a.safety_alert_claims, 3);
        assert_eq!(a.paid_claims, 604);
        assert_eq!(a.safety_alert_rate_basis_points, 49); // 3 / 604 = 0.497 %
    }

    #[test]
    fn the_credit_edits_setting_decides_what_earns() {
        let mut settings = settings();
        settings.credit_edits = vec!["opioid".into()];
        let mut rows = volume("A", 0, 600);
        let opioid = with_conflict(paid(20_002, "A", 3, 10), Edit::Opioid, Action::Reject);
        rows.push(with_occurrence(opioid, "M0", "1G", true, true));
        let ddi = with_conflict(paid(20_003, "A", 4, 10), Edit::Ddi, Action::Reject);
        rows.push(with_occurrence(ddi, "M0", "1G", true, true));
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        assert_eq!(line(&report, "A").payable_overrides, 1);
        assert_eq!(report.totals.credit_edits, vec!["opioid"]);
    }

    #[test]
    fn repeated_rejects_of_one_drug_are_one_episode_per_follow_up_window() {
        let settings = settings();
        let mut rows = volume("A", 0, 600);
        // Patient 7 rejected on days 10, 11 and 17 (inside 10..17): one episode; day 18
        // opens a second; neither dispensed.
        for (id, day) in [(30_000, 10), (30_001, 11), (30_002, 17), (30_003, 18)] {
            rows.push(dur_rejected(id, "A", 7, day));
        }
        // The same patient rejected at another pharmacy: that pharmacy's own episode.
        rows.push(dur_rejected(30_004, "B", 7, 11));
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let a = line(&report, "A");
        assert_eq!((a.dur_rejects, a.not_dispensed_after_review), (4, 2));
        assert_eq!(line(&report, "B").not_dispensed_after_review, 1);
    }

    #[test]
    fn another_ndc_of_the_same_drug_product_dispenses_the_episode() {
        let settings = settings();
        // NDCs 1 and 2 are one drug product; NDC 3 is another strength.
        let drugs = DrugProducts::from_groups(&[(1, 0), (2, 0), (3, 1)]);
        let mut tally = P4pTally::new(&settings, half_year(), drugs);
        let rows = [
            dur_rejected(1, "A", 1, 10),
            with_product(paid(2, "B", 1, 12), 2, 30), // other labeler: dispensed
            dur_rejected(3, "A", 2, 10),
            with_product(paid(4, "A", 2, 12), 3, 30), // other strength: not dispensed
        ];
        for row in &rows {
            tally.add(row).unwrap();
        }
        let report = tally.finish();
        assert_eq!(line(&report, "A").not_dispensed_after_review, 1);
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
        let (settings, edits) = (settings(), [Edit::Ddi]);
        let credit = Credit::new(&settings, &edits);
        assert_eq!(override_kind(&row, &credit), Some(OverrideKind::Other));
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
        // Refill too soon (79) is no DUR review; a validation reject (21) is none either.
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
        assert_eq!(a.dur_rejects, 3);
        assert_eq!(a.not_dispensed_after_review, 2);
    }

    #[test]
    fn a_claim_rejected_88_and_79_is_a_dur_review() {
        // Patient 90001 rejected with 88 and 79 on day 30, never paid: one DUR reject, one
        // episode. Patient 90002 rejected 79 alone: neither.
        let settings = settings();
        let mut rows = volume("A", 0, 600);
        let mut both = dur_rejected(50_000, "A", 90_001, 30);
        both.reject_codes.push(reject::REFILL_TOO_SOON);
        rows.push(both);
        let refill = dur_rejected(50_001, "A", 90_002, 30);
        rows.push(with_reject_code(refill, reject::REFILL_TOO_SOON));
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let a = line(&report, "A");
        assert_eq!((a.dur_rejects, a.not_dispensed_after_review), (1, 1));
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
    fn premier_goes_to_the_top_tenth_with_every_tie_at_the_cut_off() {
        let settings = settings();
        let mut rows = Vec::new();
        // Eleven eligible pharmacies with 12 accepted overrides each; Pk codes k+2 of them R0
        // (payable) and the rest PE, except P08..P10 which code 11: ranked 11, n = ceil(1.1)
        // = 2, the 2nd highest score is 11/12, and P08, P09, P10 all have it.
        for index in 0..11u64 {
            let pharmacy = format!("P{index:02}");
            let first = index * 10_000;
            rows.extend(volume(&pharmacy, first, 600));
            let payable = if index >= 8 { 11 } else { index + 2 };
            for n in 0..12u64 {
                let code = if n < payable { "R0" } else { "PE" };
                rows.push(override_claim(first + 5_000 + n, &pharmacy, code, true));
            }
        }
        // 5 alerts at 100 %: below premier_min_alerts (10), not ranked.
        rows.extend(volume("SMALL", 200_000, 600));
        for n in 0..5u64 {
            rows.push(override_claim(205_000 + n, "SMALL", "R0", true));
        }
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let premier: Vec<&str> = report
            .pharmacies
            .iter()
            .filter(|line| line.premier)
            .map(|line| line.pharmacy_id.as_str())
            .collect();
        assert_eq!(premier, vec!["P08", "P09", "P10"]);
        assert_eq!(line(&report, "P02").premier_score_basis_points, Some(3_333));
        assert_eq!(line(&report, "P10").premier_alerts, 12);
        assert_eq!(line(&report, "SMALL").premier_score_basis_points, None);
        assert_eq!(report.totals.premier_pharmacies, 3);
    }

    #[test]
    fn premier_ranks_pharmacies_from_exactly_premier_min_alerts() {
        // premier_min_alerts = 10 (default). AT10: 8 accepted R0 overrides + 2 rejects never
        // dispensed = 10 alerts, 10 handled → ranked at 10_000 bp. AT9: 7 + 2 = 9 alerts → not
        // ranked, though at 100 %. HALF: 6 R0 and 6 PE overrides → 6 / 12 = 5_000 bp. Ranked:
        // AT10 and HALF; n = ceil(2 × 10 / 100) = 1: only AT10's 100 % is at the cut-off.
        let settings = settings();
        let mut rows = Vec::new();
        let shapes = [("AT10", 8, 0, 2), ("AT9", 7, 0, 2), ("HALF", 6, 6, 0)];
        for (index, (pharmacy, payable, unpaid, rejects)) in shapes.into_iter().enumerate() {
            let first = index as u64 * 10_000;
            rows.extend(volume(pharmacy, first, 600));
            for n in 0..payable + unpaid {
                let code = if n < payable { "R0" } else { "PE" };
                rows.push(override_claim(first + 5_000 + n, pharmacy, code, true));
            }
            for n in 0..rejects {
                let patient = 70_000 + (first + n) as u32; // no paid claim of theirs
                rows.push(dur_rejected(first + 6_000 + n, pharmacy, patient, 40));
            }
        }
        let report = p4p_report(rows, &settings, half_year()).unwrap();
        let figures = |id| {
            let l = line(&report, id);
            (l.premier_alerts, l.premier_score_basis_points, l.premier)
        };
        assert_eq!(figures("AT10"), (10, Some(10_000), true));
        assert_eq!(figures("AT9"), (9, None, false));
        assert_eq!(figures("HALF"), (12, Some(5_000), false));
        assert_eq!(report.totals.premier_pharmacies, 1);
    }

    #[test]
    fn a_reject_dispensed_after_review_is_one_alert_with_the_claim_that_followed() {
        // Rejected, then paid with an accepted R0 override two days later: one alert, handled
        // → 100 %. Rejected and never dispensed: one episode, handled → 100 %. Rejected, then
        // paid without a code: dispensed, no override: no alert, not ranked.
        let mut settings = settings();
        settings.premier_min_alerts = 1;
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
            (Some(10_000), Some(10_000), None)
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

    /// The rows of pharmacy `P{index:03}` of the reconciliation property: `plain` paid claims,
    /// `payable` SW overrides, `coded` PE claims answering nothing, and `rejects` patients
    /// rejected 88 on days 20 and 21 (one episode each); every second one (n odd) is paid on
    /// day 22, inside the episode's span 20..27.
    fn shape_rows(
        index: usize,
        (plain, payable, coded, rejects): (u64, u64, u64, u64),
    ) -> Vec<ClaimRow> {
        let pharmacy = format!("P{index:03}");
        let first = index as u64 * 1_000;
        let mut rows = volume(&pharmacy, first, plain);
        for n in 0..payable {
            rows.push(override_claim(first + 100 + n, &pharmacy, "SW", true));
        }
        for n in 0..coded {
            rows.push(with_codes(
                paid(first + 200 + n, &pharmacy, 3, 4),
                "PE",
                "1B",
                false,
            ));
        }
        for n in 0..rejects {
            // Patients from 500_000: no volume or override claim is theirs.
            let (patient, id) = (500_000 + (first + n) as u32, first + 300 + 3 * n);
            rows.push(dur_rejected(id, &pharmacy, patient, 20));
            rows.push(dur_rejected(id + 1, &pharmacy, patient, 21));
            if n % 2 == 1 {
                rows.push(paid(id + 2, &pharmacy, patient, 22));
            }
        }
        rows
    }

    proptest::proptest! {
        /// Random pharmacies (volume, payable overrides, codes, DUR rejects with episodes
        /// dispensed or not): every pool is paid out whole when anyone qualifies, and the
        /// pharmacies' amounts sum to the totals exactly.
        #[test]
        fn totals_reconcile_to_the_pools(
            shapes in proptest::collection::vec((0u64..40, 0u64..6, 0u64..4, 0u64..4), 1..25),
            threshold in 0u32..3_000,
            eligibility in 0u64..40,
        ) {
            let mut settings = settings();
            settings.bonus_threshold_basis_points = threshold;
            settings.eligibility_paid_claims_per_half_year = eligibility;
            let mut rows = Vec::new();
            for (index, shape) in shapes.iter().enumerate() {
                rows.extend(shape_rows(index, *shape));
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
            for (index, (_, payable, _, rejects)) in shapes.iter().enumerate() {
                let Some(line) = report.pharmacies.iter().find(|l| l.pharmacy_id == format!("P{index:03}")) else {
                    continue; // a pharmacy with no rows at all
                };
                // Two rejects per patient, one episode each; n = 0, 2 not dispensed, n = 1, 3
                // dispensed: ceil(rejects / 2) episodes count.
                proptest::prop_assert_eq!(line.dur_rejects, 2 * rejects);
                proptest::prop_assert_eq!(line.not_dispensed_after_review, rejects.div_ceil(2));
                proptest::prop_assert_eq!(line.premier_alerts, payable + rejects.div_ceil(2));
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
