//! A small, complete rule-table folder in memory, for the rule engine's tests.
//!
//! Test-only: built into the crate under `cfg(test)`. Every table is small enough to read at a
//! glance, and each test that needs a variation replaces one file with [`RuleSource::set`].

use super::RuleSource;

pub(crate) const RULESET: &str = r#"id = "test"
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
override_professional = ["M0", "R0"]
override_result = ["1A", "1G"]

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
with_benzodiazepine = "class:BENZODIAZEPINE"
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

pub(crate) const PRODUCTS: &str = "\
ndc,ingredients,strengths,strength_unit,dose_form,route,dea_schedule,long_acting,name
00000000001,sertraline,50,mg,tablet,oral,,N,SERTRALINE 50
00000000002,fluoxetine,20,mg,capsule,oral,,N,FLUOXETINE 20
00000000003,simvastatin,40,mg,tablet,oral,,N,SIMVASTATIN 40
00000000004,clarithromycin,500,mg,tablet,oral,,N,CLARITHROMYCIN 500
00000000005,oxycodone,10,mg,tablet,oral,2,N,OXYCODONE 10
00000000006,hydrocodone/acetaminophen,5/325,mg,tablet,oral,2,N,HYDROCODONE-APAP 5/325
00000000007,alprazolam,1,mg,tablet,oral,4,N,ALPRAZOLAM 1
00000000008,fentanyl,25,mcg/hr,patch,transdermal,2,Y,FENTANYL 25
00000000009,acetaminophen,500,mg,tablet,oral,,N,APAP 500
00000000010,amitriptyline,25,mg,tablet,oral,,N,AMITRIPTYLINE 25
00000000011,warfarin,5,mg,tablet,oral,,N,WARFARIN 5
00000000012,aspirin,81,mg,tablet,oral,,N,ASPIRIN 81
00000000013,escitalopram,10,mg,tablet,oral,,N,ESCITALOPRAM 10
00000000014,acetaminophen,32,mg/mL,solution,oral,,N,APAP 160/5
00000000015,atorvastatin,0.04,g,tablet,oral,,N,ATORVASTATIN 40
00000000016,gabapentin,300,mg,capsule,oral,,N,GABAPENTIN 300
00000000017,lamotrigine,100,mg,tablet,oral,,N,LAMOTRIGINE 100
00000000018,levetiracetam,500,mg,tablet,oral,,N,LEVETIRACETAM 500
00000000019,fentanyl,50,mcg/hr,patch,transdermal,2,Y,FENTANYL 50
";

pub(crate) const CLASSES: &str = "\
class,ingredient
SSRI,sertraline
SSRI,fluoxetine
SSRI,escitalopram
STATIN,simvastatin
class:STATIN,atorvastatin
MACROLIDE,clarithromycin
OPIOID,oxycodone
OPIOID,hydrocodone
OPIOID,fentanyl
BENZODIAZEPINE,alprazolam
ANTICONVULSANT,gabapentin
ANTICONVULSANT,lamotrigine
ANTICONVULSANT,levetiracetam
";

pub(crate) const DDI: &str = "\
id,left,right,severity,message
D1,simvastatin,class:MACROLIDE,1,statin + macrolide: myopathy
D2,warfarin,aspirin,2,bleeding risk
D3,class:SSRI,aspirin,3,SSRI + aspirin: bleeding
D4,class:SSRI,warfarin,2,SSRI + warfarin: bleeding
";

pub(crate) const DUPLICATION: &str = "\
class,allowance,grace_days,message
class:SSRI,0,7,duplicate SSRI
class:ANTICONVULSANT,2,,more than two anticonvulsants
class:STATIN,1,,duplicate statin
";

pub(crate) const DOSE_LIMITS: &str = "\
ingredient,route,min_age,max_age,max_daily,unit
sertraline,oral,0,17,100,mg
sertraline,oral,18,150,200,mg
fluoxetine,oral,18,64,80,mg
fluoxetine,oral,65,150,40,mg
atorvastatin,oral,18,150,80,mg
fentanyl,transdermal,18,150,25,mcg/hr
acetaminophen,oral,18,150,4,g
clarithromycin,oral,0,150,1000,mg
";

pub(crate) const ELDERLY: &str = "\
ingredient,min_age,message
amitriptyline,65,anticholinergic in the elderly
";

pub(crate) const MME: &str = "\
ingredient,route,factor
oxycodone,oral,1.5
hydrocodone,oral,1
fentanyl,transdermal,2.4
";

/// The complete fixture folder.
pub(crate) fn source() -> RuleSource {
    let mut source = RuleSource::default();
    let files = [
        ("ruleset.toml", RULESET),
        ("products.csv", PRODUCTS),
        ("classes.csv", CLASSES),
        ("ddi.csv", DDI),
        ("duplication.csv", DUPLICATION),
        ("dose_limits.csv", DOSE_LIMITS),
        ("elderly_high_risk.csv", ELDERLY),
        ("mme.csv", MME),
    ];
    for (name, text) in files {
        source.set(name, text);
    }
    source
}

/// The fixture with one file replaced.
pub(crate) fn with(name: &str, text: &str) -> RuleSource {
    let mut source = source();
    source.set(name, text);
    source
}
