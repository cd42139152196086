//! A generated rule-table folder of any size, for the benches: deterministic, valid, and
//! shaped like a real one (single and combination products, class and ingredient
//! interactions, age bands, an opioid list).

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
schema = 1
[history]
lookback_days = 180
active_grace_days = 0
[edits.ddi]
enabled = true
reason = "DD"
action = { 1 = "reject", 2 = "reject", 3 = "warn" }
override_professional = ["M0", "R0"]
override_result = ["1A", "1G"]
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
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.elderly_high_risk]
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
action = "reject"
override_professional = ["M0"]
override_result = ["1G"]
[edits.acetaminophen]
enabled = true
reason = "HD"
max_daily_mg = 4000
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
    source
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

/// Four in five products single-ingredient, one in five a combination with acetaminophen.
fn products(sizes: &Sizes) -> String {
    let mut text = String::from(
        "ndc,ingredients,strengths,strength_unit,dose_form,route,dea_schedule,long_acting,name\n",
    );
    for index in 0..sizes.products {
        let ndc = 10_000_000_000u64 + index as u64;
        let first = ingredient(index % sizes.ingredients);
        let (ingredients, strengths) = if index % 5 == 4 {
            (format!("{first}/acetaminophen"), "5/325".to_string())
        } else {
            (first, format!("{}", 5 + index % 20 * 5))
        };
        let _ = writeln!(
            text,
            "{ndc:011},{ingredients},{strengths},mg,tablet,oral,,N,PRODUCT {index}"
        );
    }
    text
}

/// Ingredient pairs, with one in five naming a class; the severity depends only on the
/// unordered pair so that a pair generated twice never disagrees with itself.
fn interactions(sizes: &Sizes) -> String {
    let mut text = String::from("id,left,right,severity,message\n");
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
        let _ = writeln!(
            text,
            "X{index},{},{right},{severity},generated interaction {index}",
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

/// An adult and a geriatric band per ingredient.
fn dose_limits(sizes: &Sizes) -> String {
    let mut text = String::from("ingredient,route,min_age,max_age,max_daily,unit\n");
    for index in 0..sizes.ingredients {
        let name = ingredient(index);
        let _ = writeln!(text, "{name},oral,0,64,400,mg\n{name},oral,65,150,200,mg");
    }
    text.push_str("acetaminophen,oral,0,150,4,g\n");
    text
}

fn elderly(sizes: &Sizes) -> String {
    let mut text = String::from("ingredient,min_age,message\n");
    for index in (0..sizes.ingredients).step_by(20) {
        let _ = writeln!(text, "{},65,high risk in the elderly", ingredient(index));
    }
    text
}

fn mme(sizes: &Sizes) -> String {
    let mut text = String::from("ingredient,route,factor\n");
    for index in (0..sizes.ingredients).step_by(40) {
        let _ = writeln!(text, "{},oral,1.5", ingredient(index + 1));
    }
    text
}
