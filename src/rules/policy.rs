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
}

/// Parameters of the optional edits that have them.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct EditParams {
    pub early_refill_min_elapsed_percent: u32,
    pub mme_warn: u64,
    pub mme_reject: u64,
    pub naive_max_days_supply: u32,
    pub naive_lookback_days: u32,
    /// `with_benzodiazepine` as written (`class:NAME` or an ingredient).
    pub with_benzodiazepine: String,
    pub acetaminophen_max_daily_mg: u64,
}

/// Everything `ruleset.toml` says, validated.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Policies {
    pub id: String,
    pub version: String,
    pub effective_from: Option<Date>,
    pub lookback_days: u32,
    pub active_grace_days: u32,
    /// Indexed by `Edit as usize`; `None` when the optional edit's table is absent.
    pub edits: [Option<EditPolicy>; 7],
    pub params: EditParams,
}

/// What the compiler still needs to check against classes.csv: where `with_benzodiazepine`
/// was written.
pub(crate) struct PolicyDraft {
    pub policies: Policies,
    pub benzodiazepine_at: Option<(u32, u32)>,
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
    high_dose: CommonToml,
    elderly_high_risk: CommonToml,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommonToml {
    enabled: bool,
    reason: Spanned<String>,
    action: Spanned<String>,
    override_professional: Codes,
    override_result: Codes,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EarlyRefillToml {
    enabled: bool,
    reason: Spanned<String>,
    action: Spanned<String>,
    override_professional: Codes,
    override_result: Codes,
    min_elapsed_percent: Spanned<i64>,
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
}

/// The fields every edit table has, borrowed from whichever shape it came in.
struct Common<'t> {
    enabled: bool,
    reason: &'t Spanned<String>,
    actions: [&'t Spanned<String>; 3],
    override_professional: &'t Codes,
    override_result: &'t Codes,
}

macro_rules! common_of {
    ($table:expr) => {
        Common {
            enabled: $table.enabled,
            reason: &$table.reason,
            actions: [&$table.action, &$table.action, &$table.action],
            override_professional: &$table.override_professional,
            override_result: &$table.override_result,
        }
    };
}

// ---- reading and checking -----------------------------------------------------------------

/// Located error reporting over the file's text.
struct Doc<'t> {
    text: &'t [u8],
    errors: &'t mut TableErrors,
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
        let number = *value.get_ref();
        if !range.contains(&number) {
            let last = range.end.saturating_sub(1);
            let message = format!("{name} = {number} is outside {}..={last}", range.start);
            self.error(value.span(), 5, message);
        }
        u64::try_from(number).unwrap_or(0)
    }
}

/// Parses and checks `ruleset.toml`; problems go to `errors`.
pub(crate) fn parse(text: &[u8], errors: &mut TableErrors) -> Option<PolicyDraft> {
    let mut doc = Doc { text, errors };
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
    if *parsed.schema.get_ref() != 1 {
        let message = format!(
            "schema = {} is not supported (only 1)",
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
    let (edits, params) = check_edits(doc, &parsed.edits);
    let benzodiazepine_at = parsed
        .edits
        .opioid
        .as_ref()
        .map(|opioid| line_column(doc.text, opioid.with_benzodiazepine.span().start));
    let policies = Policies {
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

fn check_edits(doc: &mut Doc, edits: &EditsToml) -> ([Option<EditPolicy>; 7], EditParams) {
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
    };
    let mut ddi_policy = policy(doc, Edit::Ddi, &ddi_common);
    ddi_policy.never_override = never_override(doc, &ddi.never_override);
    let mut params = EditParams::default();
    let early = edits.early_refill.as_ref().map(|table| {
        params.early_refill_min_elapsed_percent =
            to_days(doc.whole_number(&table.min_elapsed_percent, "min_elapsed_percent", 0..101));
        policy(doc, Edit::EarlyRefill, &common_of!(table))
    });
    let opioid = edits
        .opioid
        .as_ref()
        .map(|table| opioid(doc, table, &mut params));
    let acetaminophen = edits.acetaminophen.as_ref().map(|table| {
        let max = doc.whole_number(&table.max_daily_mg, "max_daily_mg", 1..i64::from(u32::MAX));
        params.acetaminophen_max_daily_mg = max;
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
        early,
        opioid,
        acetaminophen,
    ];
    (policies, params)
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
    }
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
