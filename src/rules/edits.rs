//! The DUR edits: each looks at the claim and the patient's fills in the history window and
//! raises [`Conflict`]s.
//!
//! Place in the data flow: called by [`super::adjudicate`] in [`Edit::ALL`] order with the
//! claim, the filtered fills and the rule set; overrides and the status are decided there, not
//! here. Must never do I/O, read the clock or allocate beyond the fills it is given.
//!
//! Choices where the specs are silent:
//! - A fill dated after the claim's date of service but inside the claim's own supply is an
//!   *overlapping* fill: active for every edit and an early-refill failure (no backdating
//!   around an edit); fills dated later are ignored (see `adjudicate::window`).
//! - A fill whose NDC is not in the current tables is ignored (its ingredients are unknown).
//! - "The same prescription" (never a duplication of itself) means the same pharmacy and the
//!   same Rx number.
//! - A DDI rule raises one conflict however many fills match it, naming the most recent one;
//!   an ingredient never interacts with itself (that is duplication's job).
//! - Age-based edits (high dose bands, elderly list) are not checked without a date of birth.
//! - A days supply of 0 counts as 1 (the parser refuses 0 on a B1 already).
//! - The opioid + benzodiazepine conflict takes the opioid edit's action and override lists.
//! - The cumulative edits (MME, opioid-naive, acetaminophen) run only on a claim whose product
//!   contains the drug concerned; opioid + benzodiazepine runs on a claim for either.
//! - MME and cumulative acetaminophen are summed per fill rounded down to 10^-9 MME and to
//!   1 picogram a day; a dose limit compares exactly.

use super::policy::EditPolicy;
use super::ruleset::{IngredientId, Product, RuleSet};
use super::units::{mme_nano_of, picograms_of_mg, AmountKind, DailyAmount};
use crate::claim::{Action, Code2, Conflict, Date, Edit, Fill};
use crate::limits;

/// The claim being adjudicated, with its product resolved.
pub(crate) struct Claim<'r> {
    pub product: &'r Product,
    pub date_of_service: Date,
    /// Age in whole years on the date of service.
    pub age: Option<u32>,
    pub quantity_milli: u64,
    pub days_supply: u16,
    pub rx_number: u64,
    pub pharmacy: u64,
    pub prescriber: u64,
}

/// One fill inside the lookback window whose product is known.
pub(crate) struct Seen<'f, 'r> {
    pub fill: &'f Fill,
    pub product: &'r Product,
    pub active: bool,
    /// Last day the fill counts as active.
    pub last_active: Date,
    /// Dated after the claim but within the claim's own supply.
    pub overlapping: bool,
    /// An earlier paid transaction of the same transmission.
    pub in_transmission: bool,
    /// Recording order among the fills seen (later is newer on the same date).
    pub order: u32,
}

/// What every edit reads.
pub(crate) struct Input<'f, 'r> {
    pub rules: &'r RuleSet,
    pub claim: Claim<'r>,
    pub fills: Vec<Seen<'f, 'r>>,
}

impl<'f, 'r> Input<'f, 'r> {
    fn active(&self) -> impl Iterator<Item = &Seen<'f, 'r>> {
        self.fills.iter().filter(|seen| seen.active)
    }
}

/// The conflicts raised so far, bounded by [`limits::CONFLICTS_PER_TRANSACTION_MAX`].
#[derive(Default)]
pub(crate) struct Conflicts {
    pub list: Vec<Conflict>,
    /// A rejecting conflict did not fit: the claim must be rejected.
    pub dropped_reject: bool,
}

impl Conflicts {
    fn push(&mut self, conflict: Conflict) {
        if self.list.len() < limits::CONFLICTS_PER_TRANSACTION_MAX {
            self.list.push(conflict);
        } else if conflict.action == Action::Reject {
            self.dropped_reject = true;
        }
    }
}

/// Runs every enabled edit in order.
pub(crate) fn run_all(input: &Input, out: &mut Conflicts) {
    ddi(input, out);
    duplication(input, out);
    high_dose(input, out);
    elderly(input, out);
    age_limit(input, out);
    early_refill(input, out);
    opioid(input, out);
    acetaminophen(input, out);
}

/// The policy of `edit` when it runs.
fn running(rules: &RuleSet, edit: Edit) -> Option<&EditPolicy> {
    rules.policy(edit).filter(|policy| policy.runs())
}

/// What a raised conflict says beyond its policy.
struct Raised<'a> {
    rule_id: String,
    reason: Code2,
    severity: u8,
    action: Action,
    fill: Option<&'a Fill>,
    message: String,
}

impl Raised<'_> {
    /// Severity 1 when rejecting, 3 when warning (edits without severities).
    fn severity_of(action: Action) -> u8 {
        match action {
            Action::Reject => 1,
            Action::Warn => 3,
        }
    }
}

fn conflict(policy: &EditPolicy, claim: &Claim, raised: Raised) -> Conflict {
    let same = |same: bool, other: u8| if same { 1 } else { other };
    // The lists that answer a conflict of this severity (a severity table's, else the edit's).
    let (professional, result) = policy.lists_for(raised.severity);
    let has_lists = !professional.is_empty() && !result.is_empty();
    Conflict {
        edit: policy.edit,
        rule_id: raised.rule_id,
        reason: raised.reason,
        severity: raised.severity,
        action: raised.action,
        clinical_significance: raised.severity,
        previous_fill_date: raised.fill.map(|fill| fill.date_of_service),
        previous_quantity_milli: raised.fill.map(|fill| fill.quantity_milli),
        other_pharmacy: raised
            .fill
            .map_or(0, |fill| same(fill.pharmacy == claim.pharmacy, 3)),
        other_prescriber: raised
            .fill
            .map_or(0, |fill| same(fill.prescriber == claim.prescriber, 2)),
        message: raised.message,
        overridable: has_lists && policy.overridable(raised.severity),
        overridden_by: None,
        remembered_from: None,
    }
}

/// A conflict of an edit without severities, with the edit's own action and reason.
fn simple(
    policy: &EditPolicy,
    input: &Input,
    rule_id: String,
    fill: Option<&Fill>,
    message: String,
) -> Option<Conflict> {
    let action = policy.action()?;
    let severity = Raised::severity_of(action);
    let raised = Raised {
        rule_id,
        reason: policy.reason,
        severity,
        action,
        fill,
        message,
    };
    Some(conflict(policy, &input.claim, raised))
}

/// A conflict of an edit without severities with an explicit `action` (warning tiers).
fn with_action(
    policy: &EditPolicy,
    input: &Input,
    action: Action,
    rule_id: String,
    message: String,
) -> Conflict {
    let raised = Raised {
        rule_id,
        reason: policy.reason,
        severity: Raised::severity_of(action),
        action,
        fill: None,
        message,
    };
    conflict(policy, &input.claim, raised)
}

/// The daily amount of one ingredient of `product` (patches: the effective rate).
fn daily_of(
    product: &Product,
    strength: u64,
    quantity_milli: u64,
    days_supply: u16,
) -> DailyAmount {
    let kind = product.unit.kind();
    if kind == AmountKind::Rate {
        DailyAmount::patch_rate(strength, quantity_milli, days_supply, product.wear_hours)
    } else {
        DailyAmount::of(kind, strength, quantity_milli, days_supply)
    }
}

/// Newer: later date of service, then later recording order.
fn newer(a: &Seen, b: &Seen) -> bool {
    (a.fill.date_of_service, a.order) > (b.fill.date_of_service, b.order)
}

/// The active fills `keep` selects, one per (pharmacy, Rx number) — its newest — leaving out
/// the claim's own pharmacy and Rx number (the claim replaces them): what cumulative sums add.
fn latest_per_prescription<'s, 'f, 'r>(
    input: &'s Input<'f, 'r>,
    keep: impl Fn(&Seen) -> bool,
) -> Vec<&'s Seen<'f, 'r>> {
    let claim = &input.claim;
    let key = |fill: &Fill| (fill.pharmacy, fill.rx_number);
    let own = (claim.pharmacy, claim.rx_number);
    let mut chosen: Vec<&Seen> = Vec::with_capacity(input.fills.len());
    for seen in input
        .active()
        .filter(|seen| keep(seen) && key(seen.fill) != own)
    {
        match chosen
            .iter_mut()
            .find(|held| key(held.fill) == key(seen.fill))
        {
            Some(held) if newer(seen, held) => *held = seen,
            Some(_) => {}
            None => chosen.push(seen),
        }
    }
    chosen
}

fn ingredient_ids(product: &Product) -> impl Iterator<Item = IngredientId> + '_ {
    product.ingredients.iter().map(|part| part.ingredient)
}

fn more_recent<'a>(held: Option<&'a Fill>, candidate: &'a Fill) -> Option<&'a Fill> {
    match held {
        Some(fill) if fill.date_of_service >= candidate.date_of_service => Some(fill),
        _ => Some(candidate),
    }
}

// ---- drug-drug interaction -------------------------------------------------------------------

fn ddi(input: &Input, out: &mut Conflicts) {
    let Some(policy) = running(input.rules, Edit::Ddi) else {
        return;
    };
    if !input.claim.product.interacts {
        return;
    }
    // (rule index, most recent fill matching it); bounded by the active fills seen.
    let mut fired: Vec<(u32, &Fill)> = Vec::new();
    let dos = input.claim.date_of_service;
    for seen in input.fills.iter().filter(|seen| seen.product.interacts) {
        for index in interactions(input.rules, input.claim.product, seen.product) {
            let washout = input
                .rules
                .ddi_rules
                .get(index as usize)
                .map_or(0, |rule| rule.washout_days);
            if !seen.active && dos > seen.last_active.add_days(grace(washout)) {
                continue;
            }
            match fired.iter_mut().find(|(held, _)| *held == index) {
                Some((_, fill)) => *fill = more_recent(Some(fill), seen.fill).unwrap_or(fill),
                None => fired.push((index, seen.fill)),
            }
        }
    }
    for (index, fill) in fired {
        let Some(rule) = input.rules.ddi_rules.get(index as usize) else {
            continue;
        };
        let Some(action) = policy.action_for_severity(rule.severity) else {
            continue;
        };
        let message = rule.message.clone();
        let raised = Raised {
            rule_id: rule.id.clone(),
            reason: policy.reason,
            severity: rule.severity,
            action,
            fill: Some(fill),
            message,
        };
        out.push(conflict(policy, &input.claim, raised));
    }
}

/// Interaction rule indexes between two products' ingredients (never an ingredient with itself).
fn interactions<'p>(
    rules: &'p RuleSet,
    claim: &'p Product,
    other: &'p Product,
) -> impl Iterator<Item = u32> + 'p {
    ingredient_ids(claim).flat_map(move |a| {
        ingredient_ids(other)
            .filter(move |b| *b != a)
            .filter_map(move |b| rules.interaction(a, b))
    })
}

// ---- therapeutic duplication -----------------------------------------------------------------

fn duplication(input: &Input, out: &mut Conflicts) {
    let Some(policy) = running(input.rules, Edit::Duplication) else {
        return;
    };
    let mut rules_seen: Vec<u32> = Vec::new();
    for ingredient in ingredient_ids(input.claim.product) {
        let Some(info) = input.rules.info(ingredient) else {
            continue;
        };
        for rule in &info.duplication {
            if !rules_seen.contains(rule) {
                rules_seen.push(*rule);
                duplication_rule(policy, input, *rule, out);
            }
        }
    }
}

fn in_class(rules: &RuleSet, ingredient: IngredientId, class: u32) -> bool {
    rules
        .info(ingredient)
        .is_some_and(|info| info.classes.contains(&class))
}

fn duplication_rule(policy: &EditPolicy, input: &Input, index: u32, out: &mut Conflicts) {
    let Some(rule) = input.rules.duplication.get(index as usize) else {
        return;
    };
    let (rules, claim) = (input.rules, &input.claim);
    let members = |product: &'_ Product| -> Vec<IngredientId> {
        ingredient_ids(product)
            .filter(|id| in_class(rules, *id, rule.class))
            .collect()
    };
    let mut distinct = members(claim.product);
    let claim_members = distinct.len();
    let mut conflicting: Option<&Fill> = None;
    for seen in input.active() {
        let same_prescription =
            seen.fill.rx_number == claim.rx_number && seen.fill.pharmacy == claim.pharmacy;
        let tapering = seen.last_active.days_since(claim.date_of_service) < grace(rule.grace_days);
        let fill_members = members(seen.product);
        if same_prescription || tapering || fill_members.is_empty() {
            continue;
        }
        conflicting = more_recent(conflicting, seen.fill);
        for id in fill_members {
            if !distinct.contains(&id) {
                distinct.push(id);
            }
        }
    }
    let Some(fill) = conflicting else { return };
    let fires = if rule.allowance == 0 {
        true
    } else {
        distinct.len() > rule.allowance as usize
    };
    if fires && claim_members > 0 {
        out.extend(simple(
            policy,
            input,
            rule.rule_id.clone(),
            Some(fill),
            rule.message.clone(),
        ));
    }
}

fn grace(days: u32) -> i32 {
    i32::try_from(days).unwrap_or(i32::MAX)
}

impl Extend<Conflict> for Conflicts {
    fn extend<I: IntoIterator<Item = Conflict>>(&mut self, conflicts: I) {
        conflicts
            .into_iter()
            .for_each(|conflict| self.push(conflict));
    }
}

// ---- high dose ------------------------------------------------------------------------------

fn high_dose(input: &Input, out: &mut Conflicts) {
    let Some(policy) = running(input.rules, Edit::HighDose) else {
        return;
    };
    let claim = &input.claim;
    let Some(age) = claim.age else { return };
    let kind = claim.product.unit.kind();
    for part in claim.product.ingredients.iter() {
        let Some(bands) = input
            .rules
            .dose_bands
            .get(&(part.ingredient, claim.product.route))
        else {
            continue;
        };
        let Some(band) = bands
            .iter()
            .find(|band| (band.min_age..=band.max_age).contains(&age))
        else {
            continue;
        };
        if !band.unit.applies_to(kind) {
            continue;
        }
        let daily = daily_of(
            claim.product,
            part.strength,
            claim.quantity_milli,
            claim.days_supply,
        );
        if !daily.exceeds(band.max_daily) {
            continue;
        }
        let multiple = match band.reject_multiple_micro {
            0 => input.rules.params().high_dose_reject_multiple_micro,
            own => own,
        };
        let action = if daily.exceeds_multiple(band.max_daily, multiple.max(1_000_000)) {
            let Some(action) = policy.action() else {
                continue;
            };
            action
        } else {
            Action::Warn
        };
        let name = input.rules.ingredient_name(part.ingredient);
        let per = if kind == AmountKind::Rate {
            "hr"
        } else {
            "day"
        };
        let rule_id = format!(
            "{name}:{}:{}-{}",
            claim.product.route.as_str(),
            band.min_age,
            band.max_age
        );
        let message = format!(
            "{name} above {} {}/{per}",
            band.max_daily_text,
            band.unit.as_str()
        );
        out.push(with_action(policy, input, action, rule_id, message));
    }
}

// ---- high-risk medication in the elderly -----------------------------------------------------

fn elderly(input: &Input, out: &mut Conflicts) {
    let Some(policy) = running(input.rules, Edit::ElderlyHighRisk) else {
        return;
    };
    let Some(age) = input.claim.age else { return };
    let product = input.claim.product;
    for ingredient in product.ingredient_set.iter() {
        let Some(info) = input.rules.info(*ingredient) else {
            continue;
        };
        for rule in &info.elderly {
            let applies = rule
                .ingredients
                .iter()
                .all(|id| product.ingredient_set.contains(id));
            if applies && age >= rule.min_age {
                out.extend(simple(
                    policy,
                    input,
                    rule.rule_id.clone(),
                    None,
                    rule.message.clone(),
                ));
            }
        }
    }
}

// ---- age limit ------------------------------------------------------------------------------

fn age_limit(input: &Input, out: &mut Conflicts) {
    let Some(policy) = running(input.rules, Edit::AgeLimit) else {
        return;
    };
    let Some(age) = input.claim.age else { return };
    for ingredient in input.claim.product.ingredient_set.iter() {
        let Some(info) = input.rules.info(*ingredient) else {
            continue;
        };
        let applies = info
            .age_limits
            .iter()
            .filter(|rule| (rule.min_age..=rule.max_age).contains(&age));
        for rule in applies {
            let (rule_id, message) = (rule.rule_id.clone(), rule.message.clone());
            out.extend(simple(policy, input, rule_id, None, message));
        }
    }
}

// ---- early refill ---------------------------------------------------------------------------

fn early_refill(input: &Input, out: &mut Conflicts) {
    let Some(policy) = running(input.rules, Edit::EarlyRefill) else {
        return;
    };
    let claim = &input.claim;
    let its_fills: Vec<&Seen> = input
        .fills
        .iter()
        .filter(|seen| {
            seen.product.drug_product == claim.product.drug_product
                || (seen.fill.pharmacy == claim.pharmacy && seen.fill.rx_number == claim.rx_number)
        })
        .collect();
    let failed = elapsed_test(input, &its_fills)
        .or_else(|| overlap_test(&its_fills))
        .or_else(|| accumulation_test(input, &its_fills));
    if let Some((rule_id, fill, message)) = failed {
        out.extend(simple(policy, input, rule_id, Some(fill), message));
    }
}

/// What a failed early-refill test says: rule id, the fill it names, message.
type RefillFailure<'f> = (String, &'f Fill, String);

/// Test 1: the latest fill on or before the date of service, against the elapsed percent (by
/// the claim product's DEA schedule when the table sets one).
fn elapsed_test<'f>(input: &Input<'f, '_>, fills: &[&Seen<'f, '_>]) -> Option<RefillFailure<'f>> {
    let claim = &input.claim;
    let previous = fills
        .iter()
        .filter(|seen| !seen.overlapping)
        .copied()
        .reduce(|held, seen| if newer(seen, held) { seen } else { held })?;
    let params = input.rules.params();
    let by_schedule = claim
        .product
        .dea_schedule
        .and_then(|schedule| {
            params
                .early_refill_percent_by_schedule
                .get(usize::from(schedule))
        })
        .copied()
        .flatten();
    let percent = i64::from(by_schedule.unwrap_or(params.early_refill_min_elapsed_percent));
    let elapsed = i64::from(
        claim
            .date_of_service
            .days_since(previous.fill.date_of_service),
    );
    let supply = i64::from(previous.fill.days_supply.max(1));
    (elapsed * 100 < percent * supply).then(|| {
        let rule_id = format!("min_elapsed_percent={percent}");
        let message = format!("refill too soon: day {elapsed} of {supply}");
        (rule_id, previous.fill, message)
    })
}

/// Test 2: a fill of the same drug or prescription dated inside the claim's own supply.
fn overlap_test<'f>(fills: &[&Seen<'f, '_>]) -> Option<RefillFailure<'f>> {
    let first = fills
        .iter()
        .filter(|seen| seen.overlapping)
        .min_by_key(|seen| (seen.fill.date_of_service, seen.order))?;
    let (year, month, day) = first.fill.date_of_service.ymd();
    let message = format!("overlaps a fill of {year:04}-{month:02}-{day:02}");
    Some(("overlap".into(), first.fill, message))
}

/// Test 3 (when both keys are set): days of supply still on hand at the claim.
fn accumulation_test<'f>(
    input: &Input<'f, '_>,
    fills: &[&Seen<'f, '_>],
) -> Option<RefillFailure<'f>> {
    let (lookback, max_days) = input.rules.params().early_refill_accumulation?;
    let dos = input.claim.date_of_service;
    let mut counted: Vec<&Seen> = fills
        .iter()
        .filter(|seen| {
            !seen.overlapping && dos.days_since(seen.fill.date_of_service) <= lookback as i32
        })
        .copied()
        .collect();
    counted.sort_by_key(|seen| (seen.fill.date_of_service, seen.order));
    let last = counted.last()?;
    let mut balance = 0i64;
    let mut previous_date = None;
    for seen in &counted {
        let gap = previous_date.map_or(0, |at: Date| {
            i64::from(seen.fill.date_of_service.days_since(at))
        });
        balance = (balance - gap).max(0) + i64::from(seen.fill.days_supply);
        previous_date = Some(seen.fill.date_of_service);
    }
    let on_hand = (balance - i64::from(dos.days_since(last.fill.date_of_service))).max(0);
    (on_hand > i64::from(max_days)).then(|| {
        let message = format!("{on_hand} days on hand > {max_days}");
        (format!("accumulation>{max_days}"), last.fill, message)
    })
}

// ---- opioid safety --------------------------------------------------------------------------

/// Daily MME of a product dispensed in `quantity_milli` over `days_supply`, in 10^-9 MME.
fn mme_nano(product: &Product, quantity_milli: u64, days_supply: u16) -> u128 {
    let kind = product.unit.kind();
    let opioid_parts = product
        .ingredients
        .iter()
        .filter_map(|part| Some((part, part.mme_factor_micro?)));
    opioid_parts
        .map(|(part, factor)| {
            daily_of(product, part.strength, quantity_milli, days_supply).mme_nano(kind, factor)
        })
        .fold(0u128, u128::saturating_add)
}

fn opioid(input: &Input, out: &mut Conflicts) {
    let Some(policy) = running(input.rules, Edit::Opioid) else {
        return;
    };
    let product = input.claim.product;
    if product.opioid {
        cumulative_mme(policy, input, out);
        opioid_naive(policy, input, out);
    }
    if product.opioid || product.benzodiazepine {
        with_benzodiazepine(policy, input, out);
    }
}

fn cumulative_mme(policy: &EditPolicy, input: &Input, out: &mut Conflicts) {
    let claim = &input.claim;
    let mut total = mme_nano(claim.product, claim.quantity_milli, claim.days_supply);
    let mut latest: Option<&Fill> = None;
    for seen in latest_per_prescription(input, |seen| seen.product.opioid) {
        total = total.saturating_add(mme_nano(
            seen.product,
            seen.fill.quantity_milli,
            seen.fill.days_supply,
        ));
        latest = more_recent(latest, seen.fill);
    }
    let params = input.rules.params();
    let (threshold, action) = if total >= mme_nano_of(params.mme_reject) {
        let Some(action) = policy.action() else {
            return;
        };
        (params.mme_reject, action)
    } else if total >= mme_nano_of(params.mme_warn) {
        (params.mme_warn, Action::Warn)
    } else {
        return;
    };
    let whole = total / 1_000_000_000;
    let raised = Raised {
        rule_id: format!("mme>={threshold}"),
        reason: policy.reason,
        severity: Raised::severity_of(action),
        action,
        fill: latest,
        message: format!("cumulative MME {whole} >= {threshold}"),
    };
    out.push(conflict(policy, claim, raised));
}

fn opioid_naive(policy: &EditPolicy, input: &Input, out: &mut Conflicts) {
    let claim = &input.claim;
    let params = input.rules.params();
    if u32::from(claim.days_supply) <= params.naive_max_days_supply {
        return;
    }
    let window = i64::from(params.naive_lookback_days);
    // Opioid history: fills recorded before this transmission, dated from the window's start
    // through the day before the claim (not the same day, not an overlapping fill).
    let history = |seen: &Seen| {
        let days_before = i64::from(claim.date_of_service.days_since(seen.fill.date_of_service));
        !seen.in_transmission && (1..=window).contains(&days_before)
    };
    if input
        .fills
        .iter()
        .any(|seen| seen.product.opioid && history(seen))
    {
        return;
    }
    let rule_id = format!("opioid_naive>{}", params.naive_max_days_supply);
    let message = format!(
        "opioid naive: over {} days supply",
        params.naive_max_days_supply
    );
    out.extend(simple(policy, input, rule_id, None, message));
}

fn with_benzodiazepine(policy: &EditPolicy, input: &Input, out: &mut Conflicts) {
    let Some(action) = policy.action() else {
        return;
    };
    let product = input.claim.product;
    let pairs = |seen: &&Seen| {
        (product.opioid && seen.product.benzodiazepine)
            || (product.benzodiazepine && seen.product.opioid)
    };
    let Some(fill) = input
        .active()
        .filter(pairs)
        .map(|seen| seen.fill)
        .fold(None, more_recent)
    else {
        return;
    };
    let raised = Raised {
        rule_id: format!("opioid+{}", input.rules.params().with_benzodiazepine),
        reason: Code2::new("DD"),
        severity: Raised::severity_of(action),
        action,
        fill: Some(fill),
        message: "opioid with benzodiazepine".into(),
    };
    out.push(conflict(policy, &input.claim, raised));
}

// ---- cumulative acetaminophen ---------------------------------------------------------------

/// Acetaminophen picograms a day of a product dispensed in `quantity_milli` over `days_supply`.
fn acetaminophen_pg(
    product: &Product,
    acetaminophen: IngredientId,
    quantity_milli: u64,
    days_supply: u16,
) -> u128 {
    let kind = product.unit.kind();
    if !matches!(kind, AmountKind::Mass | AmountKind::MassPerMl) {
        return 0;
    }
    let parts = product
        .ingredients
        .iter()
        .filter(|part| part.ingredient == acetaminophen);
    parts
        .map(|part| DailyAmount::of(kind, part.strength, quantity_milli, days_supply).floor())
        .sum()
}

fn acetaminophen(input: &Input, out: &mut Conflicts) {
    let Some(policy) = running(input.rules, Edit::Acetaminophen) else {
        return;
    };
    let Some(apap) = input.rules.acetaminophen else {
        return;
    };
    let claim = &input.claim;
    let mut total = acetaminophen_pg(claim.product, apap, claim.quantity_milli, claim.days_supply);
    if total == 0 {
        return;
    }
    let mut latest: Option<&Fill> = None;
    for seen in latest_per_prescription(input, |_| true) {
        let daily = acetaminophen_pg(
            seen.product,
            apap,
            seen.fill.quantity_milli,
            seen.fill.days_supply,
        );
        if daily > 0 {
            total = total.saturating_add(daily);
            latest = more_recent(latest, seen.fill);
        }
    }
    let max_mg = input.rules.params().acetaminophen_max_mg_at(claim.age);
    if total > picograms_of_mg(max_mg) {
        let whole = total / picograms_of_mg(1);
        let message = format!("acetaminophen {whole} mg/day > {max_mg}");
        out.extend(simple(
            policy,
            input,
            format!("acetaminophen>{max_mg}mg"),
            latest,
            message,
        ));
    }
}
