//! `ruleset.toml`: identity, history windows and the policy of every edit.
//!
//! Place in the data flow: read first by [`super::compile`]; the resulting [`Policies`] become
//! part of the [`super::RuleSet`] and tell each edit whether it runs, what its conflicts do and
//! which DUR/PPS codes override them. Must never accept an unknown key (`deny_unknown_fields`)
//! or an override code that is not a valid NCPDP 440-E5 / 441-E6 value.
//!
//! Choices where the format is silent: the four core edits (`ddi`, `duplication`, `high_dose`,
//! `elderly_high_risk`) must each have a table; the optional ones (`early_refill`, `opioid`,
//! `acetaminophen`) are off when their table is absent. Parse problems (syntax, unknown or
//! missing key, wrong type, bad action or reason) are reported under rule 2 (a missing or other
//! `schema` under rule 1), numbers out of range under rule 5. The TOML parser stops at its
//! first syntax or shape error, so a file that does not parse reports that one error.

use super::error::{line_column, TableError, TableErrors};
use crate::claim::{codes, Action, Code2, Date, Edit};
use crate::limits;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

pub(crate) const FILE: &str = "ruleset.toml";

/// One edit's policy: whether it runs, its 439-E4 reason, what its conflicts do, and which
/// DUR/PPS codes override them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EditPolicy {
    pub edit: Edit,
    pub enabled: bool,
    /// 439-E4 returned with the edit's conflicts.
    pub reason: Code2,
    /// Action per severity 1..=3 (`None` = `off`); edits without severities repeat one action.
    pub actions: [Option<Action>; 3],
    /// 440-E5 codes that may override.
    pub override_professional: Vec<Code2>,
    /// 441-E6 codes that may override.
    pub override_result: Vec<Code2>,
    /// Severities no code may override (ddi only; empty elsewhere).
    pub never_override: Vec<u8>,
    /// Schema 2, ddi only: `[edits.ddi.severity.N]` lists (E5, E6) replacing the edit's lists
    /// for severity N (index N - 1).
    pub severity_lists: [Option<(Vec<Code2>, Vec<Code2>)>; 3],
    /// Schema 2: days an accepted override is remembered per pharmacy + Rx (0 = off).
    pub remember_override_days: u32,
}

impl EditPolicy {
    /// The action of an edit without severities (`None` = off).
    pub fn action(&self) -> Option<Action> {
        self.actions[0]
    }

    /// The action for an interaction severity 1..=3 (`None` = off or out of range).
    pub fn action_for_severity(&self, severity: u8) -> Option<Action> {
        let index = usize::from(severity).checked_sub(1)?;
        self.actions.get(index).copied().flatten()
    }

    /// Enabled and not `off` for every severity.
    pub fn runs(&self) -> bool {
        self.enabled && self.actions.iter().any(Option::is_some)
    }

    /// Whether a conflict of `severity` may be overridden at all.
    pub fn overridable(&self, severity: u8) -> bool {
        !self.never_override.contains(&severity)
    }

    /// Whether the E5/E6 pair is in this edit's override lists.
    pub fn accepts(&self, professional: Code2, result: Code2) -> bool {
        self.override_professional.contains(&professional) && self.override_result.contains(&result)
    }

    /// The (E5, E6) lists that override a conflict of `severity`: the severity's own table when
    /// there is one (ddi, schema 2), else the edit's.
    pub fn lists_for(&self, severity: u8) -> (&[Code2], &[Code2]) {
        let own = usize::from(severity)
            .checked_sub(1)
            .and_then(|index| self.severity_lists.get(index))
            .and_then(Option::as_ref);
        match own {
            Some((professional, result)) => (professional, result),
            None => (&self.override_professional, &self.override_result),
        }
    }

    /// Whether the E5/E6 pair overrides a conflict of `severity` ([`EditPolicy::lists_for`]).
    pub fn accepts_for(&self, severity: u8, professional: Code2, result: Code2) -> bool {
        let (professionals, results) = self.lists_for(severity);
        professionals.contains(&professional) && results.contains(&result)
    }
}

/// Parameters of the optional edits that have them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct EditParams {
    pub early_refill_min_elapsed_percent: u32,
    /// Schema 2: percent by the claim product's DEA schedule (index = schedule, 2..=5).
    pub early_refill_percent_by_schedule: [Option<u32>; 6],
    /// Schema 2: (lookback days, most days on hand) of the accumulation test.
    pub early_refill_accumulation: Option<(u32, u32)>,
    /// Schema 2: 420-DK values (as numbers) that override an early-refill conflict.
    pub early_refill_override_clarification: Vec<u8>,
    /// Schema 2: `[edits.high_dose] reject_multiple` in millionths (default 1.0).
    pub high_dose_reject_multiple_micro: u64,
    pub mme_warn: u64,
    pub mme_reject: u64,
    pub naive_max_days_supply: u32,
    pub naive_lookback_days: u32,
    /// `with_benzodiazepine` as written (`class:NAME` or an ingredient).
    pub with_benzodiazepine: String,
    /// Schema 2 `opioids` as written (`class:NAME` or an ingredient); `None`: the ingredients
    /// of mme.csv are the opioids.
    pub opioids: Option<String>,
    pub acetaminophen_max_daily_mg: u64,
    /// Schema 2 `max_daily_mg_by_age`, sorted by age, not overlapping.
    pub acetaminophen_by_age: Vec<AgeBandMg>,
}

/// One band of `max_daily_mg_by_age`: whole years, both inclusive.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AgeBandMg {
    pub min_age: u32,
    pub max_age: u32,
    pub max_daily_mg: u64,
}

impl EditParams {
    /// The acetaminophen maximum for a patient of `age` (no age or no band: `max_daily_mg`).
    pub fn acetaminophen_max_mg_at(&self, age: Option<u32>) -> u64 {
        age.and_then(|age| {
            self.acetaminophen_by_age
                .iter()
                .find(|band| (band.min_age..=band.max_age).contains(&age))
        })
        .map_or(self.acetaminophen_max_daily_mg, |band| band.max_daily_mg)
    }
}

/// Everything `ruleset.toml` says, validated.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Policies {
    /// `schema` (1 or 2).
    pub schema: u8,
    pub id: String,
    pub version: String,
    pub effective_from: Option<Date>,
    pub lookback_days: u32,
    pub active_grace_days: u32,
    /// Indexed by `Edit as usize`; `None` when the optional edit's table is absent.
    pub edits: [Option<EditPolicy>; Edit::ALL.len()],
    pub params: EditParams,
}

/// What the compiler still needs to check against classes.csv: where `with_benzodiazepine`
/// was written.
pub(crate) struct PolicyDraft {
    pub policies: Policies,
    pub benzodiazepine_at: Option<(u32, u32)>,
    /// Where `opioids` was written, when it was.
    pub opioids_at: Option<(u32, u32)>,
    /// Where the opioid edit's table starts (its `reason`), when it is enabled.
    pub opioid_enabled_at: Option<(u32, u32)>,
}

// ---- the file's shape ---------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesetToml {
    id: Spanned<String>,
    version: Spanned<String>,
    schema: Spanned<i64>,
    effective_from: Option<Spanned<String>>,
    history: HistoryToml,
    edits: EditsToml,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryToml {
    lookback_days: Spanned<i64>,
    active_grace_days: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditsToml {
    ddi: DdiToml,
    duplication: CommonToml,
    high_dose: HighDoseToml,
    elderly_high_risk: CommonToml,
    age_limit: Option<CommonToml>,
    early_refill: Option<EarlyRefillToml>,
    opioid: Option<OpioidToml>,
    acetaminophen: Option<AcetaminophenToml>,
}

type Codes = Vec<Spanned<String>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DdiActionToml {
    #[serde(rename = "1")]
    severity_1: Spanned<String>,
    #[serde(rename = "2")]
    severity_2: Spanned<String>,
    #[serde(rename = "3")]
    severity_3: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DdiToml {
    enabled: bool,
    reason: Spanned<String>,
    action: DdiActionToml,
    override_professional: Codes,
    override_result: Codes,
    #[serde(default)]
    never_override: Vec<Spanned<i64>>,
    #[serde(default)]
    severity: std::collections::BTreeMap<Spanned<String>, SeverityListsToml>,
    remember_override_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeverityListsToml {
    /// Both lists are required (rule 9); read as optional so a missing one is located at the
    /// table's key under rule 9 rather than as a parse error.
    override_professional: Option<Codes>,
    override_result: Option<Codes>,
}

/// A TOML number written as an integer or a float.
#[derive(Deserialize, Clone, Copy)]
#[serde(untagged)]
enum NumberToml {
    Integer(i64),
    Float(f64),
}

impl NumberToml {
    fn as_f64(self) -> f64 {
        match self {
            NumberToml::Integer(value) => value as f64,
            NumberToml::Float(value) => value,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HighDoseToml {
    enabled: bool,
    reason: Spanned<String>,
    action: Spanned<String>,
    override_professional: Codes,
    override_result: Codes,
    reject_multiple: Option<Spanned<NumberToml>>,
    remember_override_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonToml {
    enabled: bool,
    reason: Spanned<String>,
    action: Spanned<String>,
    override_professional: Codes,
    override_result: Codes,
    remember_override_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EarlyRefillToml {
    enabled: bool,
    reason: Spanned<String>,
    action: Spanned<String>,
    override_professional: Codes,
    override_result: Codes,
    min_elapsed_percent: Option<Spanned<i64>>,
    #[serde(default)]
    min_elapsed_percent_by_schedule: std::collections::BTreeMap<Spanned<String>, Spanned<i64>>,
    accumulation_lookback_days: Option<Spanned<i64>>,
    accumulation_max_days: Option<Spanned<i64>>,
    #[serde(default)]
    override_clarification: Codes,
    remember_override_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpioidToml {
    enabled: bool,
    reason: Spanned<String>,
    action: Spanned<String>,
    override_professional: Codes,
    override_result: Codes,
    mme_warn: Spanned<i64>,
    mme_reject: Spanned<i64>,
    naive_max_days_supply: Spanned<i64>,
    naive_lookback_days: Spanned<i64>,
    with_benzodiazepine: Spanned<String>,
    opioids: Option<Spanned<String>>,
    remember_override_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcetaminophenToml {
    enabled: bool,
    reason: Spanned<String>,
    action: Spanned<String>,
    override_professional: Codes,
    override_result: Codes,
    max_daily_mg: Spanned<i64>,
    #[serde(default)]
    max_daily_mg_by_age: Vec<Spanned<AgeBandToml>>,
    remember_override_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgeBandToml {
    min_age: Spanned<i64>,
    max_age: Spanned<i64>,
    max_daily_mg: Spanned<i64>,
}

/// The fields every edit table has, borrowed from whichever shape it came in.
struct Common<'t> {
    enabled: bool,
    reason: &'t Spanned<String>,
    actions: [&'t Spanned<String>; 3],
    override_professional: &'t Codes,
    override_result: &'t Codes,
    remember_override_days: Option<&'t Spanned<i64>>,
}

macro_rules! common_of {
    ($table:expr) => {
        Common {
            enabled: $table.enabled,
            reason: &$table.reason,
            actions: [&$table.action, &$table.action, &$table.action],
            override_professional: &$table.override_professional,
            override_result: &$table.override_result,
            remember_override_days: $table.remember_override_days.as_ref(),
        }
    };
}

// ---- reading and checking -----------------------------------------------------------------

/// Located error reporting over the file's text.
struct Doc<'t> {
    text: &'t [u8],
    errors: &'t mut TableErrors,
    /// `[history] lookback_days` once read (bounds `remember_override_days`).
    lookback_days: u64,
}

impl Doc<'_> {
    fn error(&mut self, span: Range<usize>, rule: u8, message: String) {
        let (line, column) = line_column(self.text, span.start);
        self.errors.push(TableError {
            file: FILE.into(),
            line,
            column,
            rule,
            message,
        });
    }

    fn whole_number(&mut self, value: &Spanned<i64>, name: &str, range: Range<i64>) -> u64 {
        self.whole_number_of_rule(value, name, range, 5)
    }

    /// [`Doc::whole_number`] for a key whose range is numbered `rule` (the early-refill keys).
    fn whole_number_of_rule(
        &mut self,
        value: &Spanned<i64>,
        name: &str,
        range: Range<i64>,
        rule: u8,
    ) -> u64 {
        let number = *value.get_ref();
        if !range.contains(&number) {
            let last = range.end.saturating_sub(1);
            let message = format!("{name} = {number} is outside {}..={last}", range.start);
            self.error(value.span(), rule, message);
        }
        u64::try_from(number).unwrap_or(0)
    }
}

/// Parses and checks `ruleset.toml`; problems go to `errors`.
pub(crate) fn parse(text: &[u8], errors: &mut TableErrors) -> Option<PolicyDraft> {
    let mut doc = Doc {
        text,
        errors,
        lookback_days: 0,
    };
    let utf8 = match std::str::from_utf8(text) {
        Ok(utf8) => utf8,
        Err(bad) => {
            let at = bad.valid_up_to();
            doc.error(at..at, 2, "file is not UTF-8".into());
            return None;
        }
    };
    match toml::from_str::<RulesetToml>(utf8) {
        Ok(parsed) => Some(check(&mut doc, &parsed)),
        Err(problem) => {
            let span = problem.span().unwrap_or(0..0);
            let message = problem.message().trim().replace('\n', " ");
            let rule = if message.contains("missing field `schema`") {
                1
            } else {
                2
            };
            doc.error(span, rule, message);
            None
        }
    }
}

fn check(doc: &mut Doc, parsed: &RulesetToml) -> PolicyDraft {
    if !(1..=2).contains(parsed.schema.get_ref()) {
        let message = format!(
            "schema = {} is not supported (1 or 2)",
            parsed.schema.get_ref()
        );
        doc.error(parsed.schema.span(), 1, message);
    }
    let id = non_empty(doc, &parsed.id, "id");
    let version = non_empty(doc, &parsed.version, "version");
    let effective_from = parsed
        .effective_from
        .as_ref()
        .and_then(|text| date(doc, text));
    let history_days = limits::HISTORY_LOOKBACK_DAYS_MAX;
    let lookback = doc.whole_number(
        &parsed.history.lookback_days,
        "lookback_days",
        1..i64::from(history_days) + 1,
    );
    let grace_max = i64::from(limits::RULES_ACTIVE_GRACE_DAYS_MAX);
    let grace = doc.whole_number(
        &parsed.history.active_grace_days,
        "active_grace_days",
        0..grace_max + 1,
    );
    doc.lookback_days = lookback;
    let (edits, params) = check_edits(doc, &parsed.edits);
    accumulation_within_lookback(doc, parsed, lookback);
    let benzodiazepine_at = parsed
        .edits
        .opioid
        .as_ref()
        .map(|opioid| line_column(doc.text, opioid.with_benzodiazepine.span().start));
    let opioid_table = parsed.edits.opioid.as_ref();
    let opioids_at = opioid_table
        .and_then(|opioid| opioid.opioids.as_ref())
        .map(|text| line_column(doc.text, text.span().start));
    let opioid_enabled_at = opioid_table
        .filter(|opioid| opioid.enabled)
        .map(|opioid| line_column(doc.text, opioid.reason.span().start));
    let policies = Policies {
        schema: u8::try_from(*parsed.schema.get_ref()).unwrap_or(0),
        id,
        version,
        effective_from,
        lookback_days: to_days(lookback),
        active_grace_days: to_days(grace),
        edits,
        params,
    };
    PolicyDraft {
        policies,
        benzodiazepine_at,
        opioids_at,
        opioid_enabled_at,
    }
}

/// Rule 9: the accumulation test looks back no further than the history does.
fn accumulation_within_lookback(doc: &mut Doc, parsed: &RulesetToml, lookback_days: u64) {
    let Some(value) = parsed
        .edits
        .early_refill
        .as_ref()
        .and_then(|table| table.accumulation_lookback_days.as_ref())
    else {
        return;
    };
    if u64::try_from(*value.get_ref()).is_ok_and(|days| days > lookback_days) {
        let message = format!(
            "accumulation_lookback_days = {} is beyond [history] lookback_days = {lookback_days}",
            value.get_ref()
        );
        doc.error(value.span(), 9, message);
    }
}

fn to_days(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn non_empty(doc: &mut Doc, value: &Spanned<String>, name: &str) -> String {
    let text = value.get_ref().trim();
    if text.is_empty() || text.contains('@') || text.chars().any(char::is_control) {
        doc.error(
            value.span(),
            2,
            format!("{name} must be non-empty text without '@'"),
        );
    }
    text.to_string()
}

fn date(doc: &mut Doc, value: &Spanned<String>) -> Option<Date> {
    let text = value.get_ref();
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    let parsed = (text.len() == 10)
        .then(|| Date::parse_ccyymmdd(digits.as_bytes()))
        .flatten();
    if parsed.is_none() {
        doc.error(
            value.span(),
            2,
            format!("effective_from {text:?} is not a YYYY-MM-DD date"),
        );
    }
    parsed
}

fn check_edits(
    doc: &mut Doc,
    edits: &EditsToml,
) -> ([Option<EditPolicy>; Edit::ALL.len()], EditParams) {
    let ddi = &edits.ddi;
    let ddi_common = Common {
        enabled: ddi.enabled,
        reason: &ddi.reason,
        actions: [
            &ddi.action.severity_1,
            &ddi.action.severity_2,
            &ddi.action.severity_3,
        ],
        override_professional: &ddi.override_professional,
        override_result: &ddi.override_result,
        remember_override_days: ddi.remember_override_days.as_ref(),
    };
    let mut ddi_policy = policy(doc, Edit::Ddi, &ddi_common);
    ddi_policy.never_override = never_override(doc, &ddi.never_override);
    ddi_policy.severity_lists = severity_lists(doc, &ddi.severity);
    let mut params = EditParams {
        high_dose_reject_multiple_micro: reject_multiple(
            doc,
            edits.high_dose.reject_multiple.clone(),
        ),
        ..EditParams::default()
    };
    let age_limit = edits
        .age_limit
        .as_ref()
        .map(|table| policy(doc, Edit::AgeLimit, &common_of!(table)));
    let early = edits
        .early_refill
        .as_ref()
        .map(|table| early_refill(doc, table, &mut params));
    let opioid = edits
        .opioid
        .as_ref()
        .map(|table| opioid(doc, table, &mut params));
    let acetaminophen = edits.acetaminophen.as_ref().map(|table| {
        let max = doc.whole_number(&table.max_daily_mg, "max_daily_mg", 1..i64::from(u32::MAX));
        params.acetaminophen_max_daily_mg = max;
        params.acetaminophen_by_age = age_bands(doc, &table.max_daily_mg_by_age);
        policy(doc, Edit::Acetaminophen, &common_of!(table))
    });
    let policies = [
        Some(ddi_policy),
        Some(policy(
            doc,
            Edit::Duplication,
            &common_of!(edits.duplication),
        )),
        Some(policy(doc, Edit::HighDose, &common_of!(edits.high_dose))),
        Some(policy(
            doc,
            Edit::ElderlyHighRisk,
            &common_of!(edits.elderly_high_risk),
        )),
        age_limit,
        early,
        opioid,
        acetaminophen,
    ];
    (policies, params)
}

/// Rule 6: `max_daily_mg_by_age` bands of whole years 0..150, `min_age <= max_age`, not
/// overlapping, each maximum a whole number > 0; returned sorted by age.
fn age_bands(doc: &mut Doc, bands: &[Spanned<AgeBandToml>]) -> Vec<AgeBandMg> {
    let mut read: Vec<(AgeBandMg, std::ops::Range<usize>)> = Vec::with_capacity(bands.len());
    for band in bands.iter().take(limits::ACETAMINOPHEN_AGE_BANDS_MAX + 1) {
        let at = band.span();
        let band = band.get_ref();
        let ages = 0..i64::from(limits::AGE_YEARS_MAX) + 1;
        let min_age = doc.whole_number_of_rule(&band.min_age, "min_age", ages.clone(), 6);
        let max_age = doc.whole_number_of_rule(&band.max_age, "max_age", ages, 6);
        let mg_max = i64::from(u32::MAX);
        let max_daily_mg =
            doc.whole_number_of_rule(&band.max_daily_mg, "max_daily_mg", 1..mg_max, 6);
        if min_age > max_age {
            doc.error(
                at.clone(),
                6,
                format!("age band {min_age}..{max_age} is empty"),
            );
        }
        let (min_age, max_age) = (to_days(min_age), to_days(max_age));
        read.push((
            AgeBandMg {
                min_age,
                max_age,
                max_daily_mg,
            },
            at,
        ));
    }
    if bands.len() > limits::ACETAMINOPHEN_AGE_BANDS_MAX {
        let message = format!(
            "more than {} age bands",
            limits::ACETAMINOPHEN_AGE_BANDS_MAX
        );
        doc.error(
            bands[limits::ACETAMINOPHEN_AGE_BANDS_MAX].span(),
            6,
            message,
        );
    }
    read.sort_by_key(|(band, _)| band.min_age);
    for pair in read.windows(2) {
        let [(earlier, _), (later, at)] = pair else {
            continue;
        };
        if later.min_age <= earlier.max_age {
            let message = format!(
                "age band {}..{} overlaps {}..{}",
                later.min_age, later.max_age, earlier.min_age, earlier.max_age
            );
            doc.error(at.clone(), 6, message);
        }
    }
    read.into_iter().map(|(band, _)| band).collect()
}

/// Millionths of an `x max_daily` multiple; 1.0 when absent; rule 5 below 1.
fn reject_multiple(doc: &mut Doc, value: Option<Spanned<NumberToml>>) -> u64 {
    let Some(value) = value else {
        return 1_000_000;
    };
    let number = value.get_ref().as_f64();
    match multiple_micro(number) {
        Some(micro) => micro,
        None => {
            let message = format!("reject_multiple = {number} must be a number >= 1");
            doc.error(value.span(), 5, message);
            1_000_000
        }
    }
}

/// A multiple >= 1 (at most [`limits::DOSE_REJECT_MULTIPLE_MAX`]) in millionths.
pub(crate) fn multiple_micro(number: f64) -> Option<u64> {
    let in_range =
        number.is_finite() && number >= 1.0 && number <= limits::DOSE_REJECT_MULTIPLE_MAX as f64;
    in_range.then(|| (number * 1_000_000.0).round() as u64)
}

fn severity_lists(
    doc: &mut Doc,
    tables: &std::collections::BTreeMap<Spanned<String>, SeverityListsToml>,
) -> [Option<(Vec<Code2>, Vec<Code2>)>; 3] {
    let mut lists: [Option<(Vec<Code2>, Vec<Code2>)>; 3] = Default::default();
    for (key, table) in tables {
        let (Some(professional), Some(result)) =
            (&table.override_professional, &table.override_result)
        else {
            let message = format!(
                "[edits.ddi.severity.{}] must set both override_professional and override_result",
                key.get_ref()
            );
            doc.error(key.span(), 9, message);
            continue;
        };
        let professional = code_list(doc, professional, codes::is_professional_service, "440-E5");
        let result = code_list(doc, result, codes::is_result_of_service, "441-E6");
        match key
            .get_ref()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=3).contains(n))
        {
            Some(severity) => lists[severity - 1] = Some((professional, result)),
            None => {
                let message = format!(
                    "[edits.ddi.severity.{}] is not a severity 1..3",
                    key.get_ref()
                );
                doc.error(key.span(), 9, message);
            }
        }
    }
    lists
}

fn early_refill(doc: &mut Doc, table: &EarlyRefillToml, params: &mut EditParams) -> EditPolicy {
    params.early_refill_min_elapsed_percent = table
        .min_elapsed_percent
        .as_ref()
        .map_or(limits::EARLY_REFILL_MIN_ELAPSED_PERCENT_DEFAULT, |value| {
            to_days(doc.whole_number_of_rule(value, "min_elapsed_percent", 0..101, 9))
        });
    for (key, value) in &table.min_elapsed_percent_by_schedule {
        let schedule = key
            .get_ref()
            .parse::<usize>()
            .ok()
            .filter(|n| (2..=5).contains(n));
        let percent =
            to_days(doc.whole_number_of_rule(value, "min_elapsed_percent_by_schedule", 1..101, 9));
        match schedule {
            Some(schedule) => params.early_refill_percent_by_schedule[schedule] = Some(percent),
            None => {
                let message = format!("schedule {:?} is not a DEA schedule 2..5", key.get_ref());
                doc.error(key.span(), 9, message);
            }
        }
    }
    params.early_refill_accumulation = accumulation(doc, table);
    params.early_refill_override_clarification = table
        .override_clarification
        .iter()
        .filter_map(|text| clarification(doc, text))
        .collect();
    policy(doc, Edit::EarlyRefill, &common_of!(table))
}

fn accumulation(doc: &mut Doc, table: &EarlyRefillToml) -> Option<(u32, u32)> {
    match (
        &table.accumulation_lookback_days,
        &table.accumulation_max_days,
    ) {
        (None, None) => None,
        (Some(lookback), Some(max)) => {
            let days_max = i64::from(limits::HISTORY_LOOKBACK_DAYS_MAX) + 1;
            let lookback =
                doc.whole_number_of_rule(lookback, "accumulation_lookback_days", 1..days_max, 9);
            let max = doc.whole_number_of_rule(max, "accumulation_max_days", 0..days_max, 9);
            Some((to_days(lookback), to_days(max)))
        }
        (Some(one), None) | (None, Some(one)) => {
            let message =
                "accumulation_lookback_days and accumulation_max_days must be set together".into();
            doc.error(one.span(), 9, message);
            None
        }
    }
}

/// One 420-DK value, 1..99 (written `"03"` or `"3"`).
fn clarification(doc: &mut Doc, text: &Spanned<String>) -> Option<u8> {
    let value = text.get_ref();
    let number = value
        .parse::<u8>()
        .ok()
        .filter(|n| (1..=99).contains(n) && value.len() <= 2 && !value.is_empty());
    if number.is_none() {
        let message = format!("420-DK {value:?} is not a submission clarification code 1..99");
        doc.error(text.span(), 8, message);
    }
    number
}

fn opioid(doc: &mut Doc, table: &OpioidToml, params: &mut EditParams) -> EditPolicy {
    let mme_range = 1..i64::from(u32::MAX);
    params.mme_warn = doc.whole_number(&table.mme_warn, "mme_warn", mme_range.clone());
    params.mme_reject = doc.whole_number(&table.mme_reject, "mme_reject", mme_range);
    if params.mme_warn > params.mme_reject {
        let message = format!(
            "mme_warn {} is above mme_reject {}",
            params.mme_warn, params.mme_reject
        );
        doc.error(table.mme_warn.span(), 5, message);
    }
    let days_max = i64::from(limits::HISTORY_LOOKBACK_DAYS_MAX) + 1;
    params.naive_max_days_supply = to_days(doc.whole_number(
        &table.naive_max_days_supply,
        "naive_max_days_supply",
        1..days_max,
    ));
    params.naive_lookback_days = to_days(doc.whole_number(
        &table.naive_lookback_days,
        "naive_lookback_days",
        1..days_max,
    ));
    params.with_benzodiazepine = table.with_benzodiazepine.get_ref().trim().to_string();
    params.opioids = table
        .opioids
        .as_ref()
        .map(|text| text.get_ref().trim().to_string());
    policy(doc, Edit::Opioid, &common_of!(table))
}

fn policy(doc: &mut Doc, edit: Edit, common: &Common) -> EditPolicy {
    let reason = code(
        doc,
        common.reason,
        "reason",
        codes::is_reason_for_service,
        2,
    );
    let actions = common.actions.map(|text| action(doc, text));
    EditPolicy {
        edit,
        enabled: common.enabled,
        reason: reason.unwrap_or(Code2::new("??")),
        actions,
        override_professional: code_list(
            doc,
            common.override_professional,
            codes::is_professional_service,
            "440-E5",
        ),
        override_result: code_list(
            doc,
            common.override_result,
            codes::is_result_of_service,
            "441-E6",
        ),
        never_override: Vec::new(),
        severity_lists: Default::default(),
        remember_override_days: remember_days(doc, common.remember_override_days),
    }
}

/// Rule 9: `remember_override_days` is 0..=`lookback_days` (absent: 0, off).
fn remember_days(doc: &mut Doc, value: Option<&Spanned<i64>>) -> u32 {
    let Some(value) = value else {
        return 0;
    };
    let lookback = i64::try_from(doc.lookback_days).unwrap_or(i64::MAX);
    let range = 0..lookback.saturating_add(1);
    to_days(doc.whole_number_of_rule(value, "remember_override_days", range, 9))
}

fn action(doc: &mut Doc, text: &Spanned<String>) -> Option<Action> {
    match text.get_ref().as_str() {
        "reject" => Some(Action::Reject),
        "warn" => Some(Action::Warn),
        "off" => None,
        other => {
            let message = format!("action {other:?} is not one of reject, warn, off");
            doc.error(text.span(), 2, message);
            None
        }
    }
}

fn code(
    doc: &mut Doc,
    text: &Spanned<String>,
    what: &str,
    valid: fn(&str) -> bool,
    rule: u8,
) -> Option<Code2> {
    let value = text.get_ref();
    let parsed = Code2::parse(value.as_bytes()).filter(|_| valid(value));
    if parsed.is_none() {
        doc.error(
            text.span(),
            rule,
            format!("{what} {value:?} is not a valid NCPDP code"),
        );
    }
    parsed
}

fn code_list(doc: &mut Doc, list: &Codes, valid: fn(&str) -> bool, field: &str) -> Vec<Code2> {
    list.iter()
        .filter_map(|text| code(doc, text, field, valid, 8))
        .collect()
}

fn never_override(doc: &mut Doc, list: &[Spanned<i64>]) -> Vec<u8> {
    let severity = |value: &Spanned<i64>| {
        u8::try_from(*value.get_ref())
            .ok()
            .filter(|s| (1..=3).contains(s))
    };
    let mut severities = Vec::new();
    for value in list.iter().take(3 * limits::RULE_TABLE_ERRORS_MAX) {
        match severity(value) {
            Some(valid) => severities.push(valid),
            None => doc.error(
                value.span(),
                5,
                format!("never_override severity {} is not 1..3", value.get_ref()),
            ),
        }
    }
    severities
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"
id = "t"
version = "1"
schema = 1
[history]
lookback_days = 180
active_grace_days = 0
[edits.ddi]
enabled = true
reason = "DD"
action = { 1 = "reject", 2 = "reject", 3 = "warn" }
override_professional = ["M0"]
override_result = ["1G"]
never_override = [1]
[edits.duplication]
enabled = true
reason = "TD"
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.high_dose]
enabled = true
reason = "HD"
action = "warn"
override_professional = []
override_result = []
[edits.elderly_high_risk]
enabled = false
reason = "PA"
action = "reject"
override_professional = []
override_result = []
"#;

    fn parse_text(text: &str) -> (Option<PolicyDraft>, TableErrors) {
        let mut errors = TableErrors::default();
        let draft = parse(text.as_bytes(), &mut errors);
        (draft, errors)
    }

    #[test]
    fn a_minimal_file_gives_the_policies() {
        let (draft, errors) = parse_text(SAMPLE);
        assert!(errors.is_empty(), "{errors}");
        let policies = draft.unwrap().policies;
        let ddi = policies.edits[Edit::Ddi as usize].clone().unwrap();
        assert_eq!(ddi.action_for_severity(3), Some(Action::Warn));
        assert!(!ddi.overridable(1) && ddi.overridable(2));
        assert!(policies.edits[Edit::Opioid as usize].is_none());
        assert!(!policies.edits[Edit::ElderlyHighRisk as usize]
            .clone()
            .unwrap()
            .runs());
    }

    #[test]
    fn unknown_key_is_located() {
        let text = SAMPLE.replace("lookback_days = 180", "lookback_days = 180\nlookbak = 3");
        let (_, errors) = parse_text(&text);
        let error = &errors.errors[0];
        assert_eq!((error.line, error.column, error.rule), (7, 1, 2), "{error}");
        assert!(error.message.contains("lookbak"), "{error}");
    }

    #[test]
    fn missing_schema_breaks_rule_1() {
        let (_, errors) = parse_text(&SAMPLE.replace("schema = 1\n", ""));
        assert_eq!(errors.errors[0].rule, 1, "{errors}");
        assert!(errors.errors[0].message.contains("schema"), "{errors}");
    }

    #[test]
    fn bad_action_and_codes_are_all_reported() {
        let text = SAMPLE
            .replace("action = \"warn\"", "action = \"block\"")
            .replace(
                "override_result = [\"1G\"]\nnever",
                "override_result = [\"9Z\"]\nnever",
            );
        let (_, errors) = parse_text(&text);
        let shown = errors.to_string();
        assert!(
            shown.contains("ruleset.toml:24:10: action \"block\""),
            "{shown}"
        );
        assert!(
            shown.contains("ruleset.toml:13:20: 441-E6 \"9Z\" is not a valid NCPDP code (rule 8)"),
            "{shown}"
        );
    }
}
