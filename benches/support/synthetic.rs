//! A generated rule-table folder of any size, for the benches: deterministic, valid, and
//! shaped like a real schema-2 one (single and combination products, opioid products with
//! their MME factors and patches, class and ingredient interactions with washouts and
//! per-severity override lists, age bands with two-tier dose limits, age limits, early refill
//! by DEA schedule with accumulation and clarification codes, acetaminophen by age).

use durgate::rules::RuleSource;
use std::fmt::Write;

/// Sizes of a generated folder.
pub struct Sizes {
    pub products: usize,
    pub interactions: usize,
    pub classes: usize,
    pub ingredients: usize,
}

const RULESET: &str = r#"id = "generated"
version = "1"
schema = 2
[history]
lookback_days = 180
active_grace_days = 0
[edits.ddi]
enabled = true
reason = "DD"
action = { 1 = "reject", 2 = "reject", 3 = "warn" }
override_professional = ["M0", "R0"]
override_result = ["1A", "1G"]
never_override = []
[edits.ddi.severity.1]
override_professional = ["M0"]
override_result = ["1C", "1D", "1G"]
[edits.duplication]
enabled = true
reason = "TD"
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.high_dose]
enabled = true
reason = "HD"
action = "reject"
reject_multiple = 2.0
override_professional = ["M0"]
override_result = ["1G"]
[edits.elderly_high_risk]
enabled = true
reason = "PA"
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.age_limit]
enabled = true
reason = "PA"
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.early_refill]
enabled = true
reason = "ER"
action = "reject"
min_elapsed_percent = 75
min_elapsed_percent_by_schedule = { 2 = 90, 3 = 80, 4 = 80, 5 = 80 }
accumulation_lookback_days = 180
accumulation_max_days = 14
override_clarification = ["03", "04", "05", "07", "13", "14"]
override_professional = []
override_result = []
[edits.opioid]
enabled = true
reason = "HD"
mme_warn = 90
mme_reject = 200
naive_max_days_supply = 7
naive_lookback_days = 60
with_benzodiazepine = "class:CLASS_000"
opioids = "class:OPIOID"
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.acetaminophen]
enabled = true
reason = "HD"
max_daily_mg = 4000
max_daily_mg_by_age = [
  { min_age = 0, max_age = 1, max_daily_mg = 600 },
  { min_age = 2, max_age = 5, max_daily_mg = 1200 },
  { min_age = 6, max_age = 11, max_daily_mg = 2400 },
]
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
"#;

fn ingredient(index: usize) -> String {
    format!("ingredient{index:05}")
}

fn class(index: usize) -> String {
    format!("CLASS_{index:03}")
}

/// The folder for `sizes`.
pub fn generate(sizes: &Sizes) -> RuleSource {
    let mut source = RuleSource::default();
    source.set("ruleset.toml", RULESET);
    source.set("classes.csv", classes(sizes));
    source.set("products.csv", products(sizes));
    source.set("ddi.csv", interactions(sizes));
    source.set("duplication.csv", duplication(sizes));
    source.set("dose_limits.csv", dose_limits(sizes));
    source.set("elderly_high_risk.csv", elderly(sizes));
    source.set("mme.csv", mme(sizes));
    source.set("age_limits.csv", age_limits(sizes));
    source
}

/// One ingredient in [`OPIOID_EVERY`] is an opioid: in class `OPIOID`, with an MME factor for
/// each route its products take (oral tablets; every tenth opioid also a transdermal patch).
const OPIOID_EVERY: usize = 40;

fn is_opioid(ingredient_index: usize) -> bool {
    ingredient_index % OPIOID_EVERY == 1
}

/// Every ingredient in one class, a third of them in a second one.
fn classes(sizes: &Sizes) -> String {
    let mut text = String::from("class,ingredient\n");
    for index in 0..sizes.ingredients {
        let _ = writeln!(
            text,
            "{},{}",
            class(index % sizes.classes),
            ingredient(index)
        );
        if is_opioid(index) {
            let _ = writeln!(text, "OPIOID,{}", ingredient(index));
        }
        if index % 3 == 0 {
            let _ = writeln!(
                text,
                "{},{}",
                class((index * 7 + 1) % sizes.classes),
                ingredient(index)
            );
        }
    }
    text
}

/// Four in five products single-ingredient, one in five a combination with acetaminophen;
/// opioid products are C-II, and one opioid product in ten is a 72-hour patch.
fn products(sizes: &Sizes) -> String {
    let mut text = String::from(
        "ndc,ingredients,strengths,strength_unit,dose_form,route,dea_schedule,long_acting,name,wear_hours\n",
    );
    for index in 0..sizes.products {
        let ndc = 10_000_000_000u64 + index as u64;
        let first_index = index % sizes.ingredients;
        let first = ingredient(first_index);
        let schedule = if is_opioid(first_index) { "2" } else { "" };
        let line = if is_opioid(first_index) && index % 10 == 3 {
            format!("{first},25,mcg/hr,patch,transdermal,{schedule},Y,PRODUCT {index},72")
        } else if index % 5 == 4 {
            format!("{first}/acetaminophen,5/325,mg,tablet,oral,{schedule},N,PRODUCT {index},")
        } else {
            let strength = 5 + index % 20 * 5;
            format!("{first},{strength},mg,tablet,oral,{schedule},N,PRODUCT {index},")
        };
        let _ = writeln!(text, "{ndc:011},{line}");
    }
    text
}

/// Ingredient pairs, with one in five naming a class; the severity depends only on the
/// unordered pair so that a pair generated twice never disagrees with itself.
fn interactions(sizes: &Sizes) -> String {
    let mut text = String::from("id,left,right,severity,message,washout_days\n");
    for index in 0..sizes.interactions {
        // `round` shifts the partner on every pass over the ingredients: no pair repeats.
        let (left, round) = (index % sizes.ingredients, index / sizes.ingredients);
        let right_index = (index * 31 + 17 + round) % sizes.ingredients;
        let class_index = (index + round) % sizes.classes;
        let right = if index % 5 == 0 {
            format!("class:{}", class(class_index))
        } else {
            ingredient(right_index)
        };
        let (low, high) = (left.min(right_index), left.max(right_index));
        let severity = (low * 7 + high * 13 + usize::from(index % 5 == 0) * 11) % 3 + 1;
        let washout = if index % 10 == 0 { "14" } else { "" };
        let _ = writeln!(
            text,
            "X{index},{},{right},{severity},generated interaction {index},{washout}",
            ingredient(left)
        );
    }
    text
}

fn duplication(sizes: &Sizes) -> String {
    let mut text = String::from("class,allowance,grace_days,message\n");
    for index in 0..sizes.classes {
        let _ = writeln!(
            text,
            "class:{},{},{},duplicate in class",
            class(index),
            index % 3,
            index % 8
        );
    }
    text
}

/// A pediatric, an adult and a geriatric band per ingredient; every other ingredient blocks
/// above 1x (a listed class), the rest above the folder's 2x.
fn dose_limits(sizes: &Sizes) -> String {
    let mut text =
        String::from("ingredient,route,min_age,max_age,max_daily,unit,reject_multiple\n");
    for index in 0..sizes.ingredients {
        let name = ingredient(index);
        let multiple = if index % 2 == 0 { "1" } else { "" };
        let _ = writeln!(
            text,
            "{name},oral,0,17,200,mg,{multiple}\n{name},oral,18,64,400,mg,{multiple}\n\
             {name},oral,65,150,200,mg,{multiple}"
        );
    }
    text.push_str("acetaminophen,oral,0,150,4,g,\n");
    text
}

fn elderly(sizes: &Sizes) -> String {
    let mut text = String::from("ingredient,min_age,message\n");
    for index in (0..sizes.ingredients).step_by(20) {
        let _ = writeln!(text, "{},65,high risk in the elderly", ingredient(index));
    }
    text
}

/// A factor per opioid and route its products take.
fn mme(sizes: &Sizes) -> String {
    let mut text = String::from("ingredient,route,factor\n");
    for index in (0..sizes.ingredients).filter(|index| is_opioid(*index)) {
        let name = ingredient(index);
        let _ = writeln!(text, "{name},oral,1.5\n{name},transdermal,2.4");
    }
    text
}

/// One ingredient in fifty contraindicated under 12.
fn age_limits(sizes: &Sizes) -> String {
    let mut text = String::from("ingredient,min_age,max_age,message\n");
    for index in (0..sizes.ingredients).step_by(50) {
        let _ = writeln!(text, "{},0,11,contraindicated under 12", ingredient(index));
    }
    text
}
