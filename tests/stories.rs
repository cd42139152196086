//! The gateway's contract (`docs/behaviour.md`), one story per row and per precise reading,
//! through a real socket to a real gateway with the sample rule tables and a fresh SQLite store.
//!
//! Each story uses its own patients and its own gateway, and dates of service relative to today
//! (the gateway reads the clock). Where a story pays, the durable record is checked by opening
//! the SQLite file read-only, as an analyst would (`src/store/SCHEMA.md`).

mod support;

use durgate::claim::Date;
use durgate::ncpdp::build::{ClaimBuilder, RawMessage};
use durgate::ncpdp::{HeaderStatus, Place, Response, ResponseDur};
use durgate::wire::Framing;
use support::{
    authorization, born_years_before, days_ago, dur_reasons, message_text, rejects, start_gateway,
    statuses, ClaimRow, Client, Person, StoreView, TestGateway,
};

// Products of the sample tables (config/rules/sample/products.csv).
const WARFARIN_5MG: &str = "99999000101";
const IBUPROFEN_800MG: &str = "99999007101";
const PHENELZINE_15MG: &str = "99999002601";
const SERTRALINE_50MG: &str = "99999001701";
const ESCITALOPRAM_10MG: &str = "16729016901";
const SIMVASTATIN_20MG: &str = "99999000301";
const SIMVASTATIN_40MG: &str = "99999000401";
const NAPROXEN_500MG: &str = "99999007201";
const AMLODIPINE_10MG: &str = "99999008101";
const ATORVASTATIN_10MG: &str = "67877051190";
const ATORVASTATIN_40MG: &str = "67877051390";
const HYDROXYZINE_25MG: &str = "99999011401";
const OXYCODONE_5MG: &str = "00378611201";
const MORPHINE_15MG: &str = "00054023524";
const ALPRAZOLAM_0_5MG: &str = "00378400301";
const ACETAMINOPHEN_500MG: &str = "99999010101";
const HYDROCODONE_APAP_5_325: &str = "99999009101";
const MEPERIDINE_50MG: &str = "99999004401";
/// 11 digits, in no table.
const UNKNOWN_NDC: &str = "12345678901";

/// A pharmacy and a prescriber other than the builder's defaults.
const OTHER_PHARMACY: &str = "1234567000";
const OTHER_PRESCRIBER: &str = "1999999992";

/// One gateway, one client connection, and the stamp decisions must carry.
struct Story {
    gateway: TestGateway,
    client: Client,
    ruleset: String,
}

impl Story {
    async fn start() -> Story {
        let gateway = start_gateway().await;
        let client = gateway.client().await;
        let ruleset = gateway
            .gateway
            .as_ref()
            .expect("running")
            .rules()
            .stamp()
            .to_string();
        Story {
            gateway,
            client,
            ruleset,
        }
    }

    async fn send(&mut self, claim: ClaimBuilder) -> Response {
        self.client.send(&claim.encode()).await
    }

    fn store(&self) -> StoreView {
        StoreView::open(&self.gateway.store_path)
    }

    /// The durable row behind a P (or A) reply: recorded with its authorization and the
    /// current rule-table stamp.
    fn recorded(&self, response: &Response, status: &str) -> ClaimRow {
        let number = authorization(response, 0);
        assert!(!number.is_empty(), "no authorization in {response:?}");
        let row = self
            .store()
            .claim_by_authorization(&number)
            .unwrap_or_else(|| panic!("authorization {number} is not in the store"));
        assert_eq!(row.status, status, "{row:?}");
        assert_eq!(row.ruleset, self.ruleset, "{row:?}");
        row
    }

    async fn stop(self) {
        self.gateway.stop().await;
    }
}

/// Asserts a one-transaction reply's status and reject codes (with the reply on failure).
fn expect(response: &Response, status: &str, reject_codes: &[&str]) {
    assert_eq!(
        response.header.status,
        HeaderStatus::Accepted,
        "{response:?}"
    );
    assert_eq!(
        (statuses(response).as_str(), rejects(response, 0)),
        (status, reject_codes.iter().map(|c| c.to_string()).collect()),
        "{response:?}"
    );
}

/// The only AM24 occurrence of transaction 0.
fn only_dur(response: &Response) -> &ResponseDur {
    let dur = &response.transactions[0].dur;
    assert_eq!(dur.len(), 1, "one AM24 occurrence expected: {response:?}");
    &dur[0]
}

/// Checks an AM24 occurrence: 439-E4, 528-FS, 530-FU and 531-FV.
fn expect_dur(dur: &ResponseDur, reason: &str, significance: u8, previous: Option<(Date, u64)>) {
    let got = (
        dur.reason.map(|code| code.to_string()),
        dur.clinical_significance,
        dur.previous_fill_date,
        dur.previous_quantity_milli,
    );
    let wanted = (
        Some(reason.to_string()),
        Some(significance),
        previous.map(|(date, _)| date),
        previous.map(|(_, quantity)| quantity),
    );
    assert_eq!(got, wanted, "{dur:?}");
    assert_eq!(dur.counter, 1, "{dur:?}");
}

// ---- drug-drug interactions and overrides ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddi_severity_1_rejects_88_and_only_prescriber_consultation_overrides_it() {
    let mut story = Story::start().await;
    let patient = Person::adult("DDI1000001");
    let first_day = days_ago(10);
    let maoi = patient
        .b1(1, PHENELZINE_15MG, first_day)
        .quantity_milli(60_000);
    expect(&story.send(maoi).await, "P", &[]);
    let ssri = patient
        .b1(2, SERTRALINE_50MG, days_ago(2))
        .provider_id(OTHER_PHARMACY)
        .prescriber(OTHER_PRESCRIBER);
    let rejected = story.send(ssri.clone()).await;
    expect(&rejected, "R", &["88"]);
    let dur = only_dur(&rejected);
    expect_dur(dur, "DD", 1, Some((first_day, 60_000)));
    assert_eq!(
        (dur.other_pharmacy, dur.other_prescriber),
        (Some(3), Some(2))
    );
    assert!(dur.message.contains("MAOI"), "{dur:?}");

    // The sample's severity-1 lists: M0 (prescriber consulted) with 1C/1D/1G only.
    let overridden = story.send(ssri.clone().dur("DD", "R0", "1G")).await;
    expect(&overridden, "R", &["88"]);
    expect_dur(only_dur(&overridden), "DD", 1, Some((first_day, 60_000)));
    let store = story.store();
    let rows = store.claims_for_rx(2);
    let last = rows.last().expect("the refused override is recorded");
    assert_eq!(last.status, "rejected");
    let conflicts = store.conflicts(last.id);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let conflict = &conflicts[0];
    assert_eq!(
        (
            conflict.edit.as_str(),
            conflict.severity,
            conflict.overridable
        ),
        ("ddi", 1, true),
        "{conflict:?}"
    );
    assert_eq!(conflict.overridden_by, None);
    let codes = store.dur_pps(last.id);
    assert_eq!(codes.len(), 1, "{codes:?}");
    assert_eq!(codes[0].matched_conflict_id, Some(conflict.id));
    assert!(!codes[0].overrode, "{codes:?}");
    assert_eq!(store.reject_codes(last.id), ["88"]);
    let consulted = story.send(ssri.dur("DD", "M0", "1G")).await;
    expect(&consulted, "P", &[]);
    story.recorded(&consulted, "paid");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddi_severity_2_rejects_then_a_matching_override_pays_and_is_recorded() {
    let mut story = Story::start().await;
    let patient = Person::adult("DDI2000001");
    let first_day = days_ago(5);
    expect(
        &story.send(patient.b1(1, WARFARIN_5MG, first_day)).await,
        "P",
        &[],
    );
    let nsaid = patient.b1(2, IBUPROFEN_800MG, days_ago(1));
    let rejected = story.send(nsaid.clone()).await;
    expect(&rejected, "R", &["88"]);
    let dur = only_dur(&rejected);
    expect_dur(dur, "DD", 2, Some((first_day, 30_000)));
    assert_eq!(
        (dur.other_pharmacy, dur.other_prescriber),
        (Some(1), Some(1))
    );

    let paid = story.send(nsaid.dur("DD", "M0", "1G")).await;
    expect(&paid, "P", &[]);
    expect_dur(only_dur(&paid), "DD", 2, Some((first_day, 30_000)));
    let row = story.recorded(&paid, "paid");
    assert_eq!(
        (row.rx_number, row.ndc.as_deref(), row.kind.as_str()),
        (2, Some(IBUPROFEN_800MG), "claim")
    );
    let store = story.store();
    let conflicts = store.conflicts(row.id);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    let conflict = &conflicts[0];
    assert_eq!(
        (
            conflict.edit.as_str(),
            conflict.rule_id.as_str(),
            conflict.severity,
            conflict.action.as_str(),
            conflict.overridden_by
        ),
        ("ddi", "LBL03", 2, "reject", Some(1)),
        "{conflict:?}"
    );
    assert_eq!(conflict.previous_fill_date, Some(first_day.to_string()));
    let codes = store.dur_pps(row.id);
    assert_eq!(codes.len(), 1, "{codes:?}");
    let code = &codes[0];
    assert_eq!(
        (
            code.reason.as_deref(),
            code.professional.as_deref(),
            code.result.as_deref()
        ),
        (Some("DD"), Some("M0"), Some("1G"))
    );
    assert_eq!(
        (code.matched_conflict_id, code.overrode),
        (Some(conflict.id), true)
    );
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_override_with_the_wrong_reason_professional_or_result_code_is_refused() {
    let mut story = Story::start().await;
    let patient = Person::adult("DDI2000002");
    expect(
        &story.send(patient.b1(1, WARFARIN_5MG, days_ago(5))).await,
        "P",
        &[],
    );
    let nsaid = patient.b1(2, IBUPROFEN_800MG, days_ago(1));
    // CC is a valid 440-E5 outside the ddi list; 2A a valid 441-E6 that means "not filled".
    for (reason, professional, result) in
        [("DD", "CC", "1G"), ("DD", "M0", "2A"), ("TD", "M0", "1G")]
    {
        let refused = story
            .send(nsaid.clone().dur(reason, professional, result))
            .await;
        expect(&refused, "R", &["88"]);
        assert_eq!(dur_reasons(&refused, 0), ["DD"]);
    }
    let store = story.store();
    let rows = store.claims_for_rx(2);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for row in &rows {
        assert_eq!(row.status, "rejected");
        let codes = store.dur_pps(row.id);
        assert!(codes.iter().all(|code| !code.overrode), "{codes:?}");
    }
    // A refused DD override still answered the DD conflict; the wrong reason answered none.
    let matched: Vec<bool> = rows
        .iter()
        .map(|row| store.dur_pps(row.id)[0].matched_conflict_id.is_some())
        .collect();
    assert_eq!(matched, [true, true, false]);
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ddi_severity_3_warns_the_claim_is_paid_with_the_am24_occurrence() {
    let mut story = Story::start().await;
    let patient = Person::adult("DDI3000001");
    let first_day = days_ago(3);
    expect(
        &story.send(patient.b1(1, SIMVASTATIN_20MG, first_day)).await,
        "P",
        &[],
    );
    let paid = story
        .send(patient.b1(2, AMLODIPINE_10MG, days_ago(1)))
        .await;
    expect(&paid, "P", &[]);
    expect_dur(only_dur(&paid), "DD", 3, Some((first_day, 30_000)));
    let row = story.recorded(&paid, "paid");
    let conflicts = story.store().conflicts(row.id);
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(
        (
            conflicts[0].rule_id.as_str(),
            conflicts[0].severity,
            conflicts[0].action.as_str()
        ),
        ("LBL07", 3, "warn")
    );
    story.stop().await;
}

// ---- the other edits ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplication_rejects_unless_the_active_fill_is_tapering_within_grace_days() {
    let mut story = Story::start().await;
    let today = days_ago(0);
    // SSRI grace_days = 7; a 30-day fill from day d is last active on d + 29.
    let cases = [
        ("DUP0000001", 10, Some("R")), // last active in 19 days
        ("DUP0000002", 22, Some("R")), // last active in 7 days: not fewer than 7
        ("DUP0000003", 23, None),      // last active in 6 days: a taper, ignored
    ];
    for (rx, (cardholder, days_before, rejected)) in (10..).step_by(10).zip(cases) {
        let patient = Person::adult(cardholder);
        let first_day = days_ago(days_before);
        expect(
            &story
                .send(patient.b1(rx, ESCITALOPRAM_10MG, first_day))
                .await,
            "P",
            &[],
        );
        let second = story.send(patient.b1(rx + 1, SERTRALINE_50MG, today)).await;
        match rejected {
            Some(_) => {
                expect(&second, "R", &["88"]);
                expect_dur(only_dur(&second), "TD", 1, Some((first_day, 30_000)));
            }
            None => {
                expect(&second, "P", &[]);
                assert!(second.transactions[0].dur.is_empty(), "{second:?}");
                story.recorded(&second, "paid");
            }
        }
    }
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_dose_rejects_above_the_daily_maximum_and_pays_exactly_at_it() {
    let mut story = Story::start().await;
    // Atorvastatin adult maximum: 80 mg a day. 40 mg tablets for 30 days.
    let at_limit = Person::adult("HD00000001").b1(1, ATORVASTATIN_40MG, days_ago(1));
    let paid = story
        .send(at_limit.quantity_milli(60_000).days_supply(30))
        .await;
    expect(&paid, "P", &[]);
    assert!(paid.transactions[0].dur.is_empty(), "{paid:?}");
    story.recorded(&paid, "paid");

    let above = Person::adult("HD00000002").b1(2, ATORVASTATIN_40MG, days_ago(1));
    let rejected = story
        .send(above.quantity_milli(61_000).days_supply(30))
        .await;
    expect(&rejected, "R", &["88"]);
    let dur = only_dur(&rejected);
    expect_dur(dur, "HD", 1, None);
    assert!(dur.message.contains("atorvastatin"), "{dur:?}");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elderly_high_risk_rejects_from_the_65th_birthday_on() {
    let mut story = Story::start().await;
    let day = days_ago(1);
    let sixty_five_today = Person::adult("ELD0000001").born(born_years_before(day, 65, 0));
    let rejected = story
        .send(sixty_five_today.b1(1, HYDROXYZINE_25MG, day))
        .await;
    expect(&rejected, "R", &["88"]);
    expect_dur(only_dur(&rejected), "PA", 1, None);

    let sixty_five_tomorrow =
        Person::adult("ELD0000002").born(born_years_before(day.add_days(1), 65, 0));
    let paid = story
        .send(sixty_five_tomorrow.b1(2, HYDROXYZINE_25MG, day))
        .await;
    expect(&paid, "P", &[]);
    story.recorded(&paid, "paid");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_refill_rejects_79_before_the_elapsed_percentage_and_after_duplicate_detection() {
    let mut story = Story::start().await;
    let patient = Person::adult("ER00000001");
    // 40 days supply, min_elapsed_percent 75: a refill is due 30 days later.
    let first_day = days_ago(31);
    let original = patient
        .b1(1, WARFARIN_5MG, first_day)
        .quantity_milli(40_000)
        .days_supply(40);
    let paid = story.send(original.clone()).await;
    expect(&paid, "P", &[]);
    let duplicate = story.send(original).await;
    expect(&duplicate, "D", &[]);
    assert_eq!(authorization(&duplicate, 0), authorization(&paid, 0));

    let too_soon = story
        .send(patient.b1(1, WARFARIN_5MG, days_ago(2)).fill(1))
        .await;
    expect(&too_soon, "R", &["79"]);
    expect_dur(only_dur(&too_soon), "ER", 1, Some((first_day, 40_000)));
    // Any Rx number of the same ingredients counts as the previous fill.
    let other_rx = story.send(patient.b1(7, WARFARIN_5MG, days_ago(2))).await;
    expect(&other_rx, "R", &["79"]);

    let due = story
        .send(patient.b1(1, WARFARIN_5MG, days_ago(1)).fill(1))
        .await;
    expect(&due, "P", &[]);
    let row = story.recorded(&due, "paid");
    assert_eq!((row.rx_number, row.fill_number), (1, 1));
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversed_fill_is_not_the_previous_fill_of_an_early_refill() {
    let mut story = Story::start().await;
    let patient = Person::adult("ER00000002");
    let first_day = days_ago(20);
    let original = patient.b1(1, WARFARIN_5MG, first_day);
    expect(&story.send(original).await, "P", &[]);
    let reversal = story.send(patient.b2(1, WARFARIN_5MG, first_day)).await;
    expect(&reversal, "A", &[]);
    let refill = story
        .send(patient.b1(1, WARFARIN_5MG, days_ago(1)).fill(1))
        .await;
    expect(&refill, "P", &[]);
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opioid_mme_warns_at_90_and_rejects_at_200() {
    let mut story = Story::start().await;
    let earlier = days_ago(20);
    // Morphine 15 mg, factor 1: 180 tablets in 30 days = 90 MME a day, 400 = 200 MME.
    let cases = [
        ("MME0000001", 180_000, "P", 3u8),
        ("MME0000002", 400_000, "R", 1),
    ];
    for (rx, (cardholder, quantity_milli, status, significance)) in (10..).step_by(10).zip(cases) {
        let patient = Person::adult(cardholder);
        // A short earlier opioid fill (inactive now) so the patient is not opioid-naive.
        let starter = patient
            .b1(rx, OXYCODONE_5MG, earlier)
            .quantity_milli(10_000)
            .days_supply(5);
        expect(&story.send(starter).await, "P", &[]);
        let claim = patient
            .b1(rx + 1, MORPHINE_15MG, days_ago(1))
            .quantity_milli(quantity_milli)
            .days_supply(30);
        let response = story.send(claim).await;
        let codes: &[&str] = if status == "R" { &["88"] } else { &[] };
        expect(&response, status, codes);
        let dur = only_dur(&response);
        assert_eq!(dur.reason.map(|c| c.to_string()).as_deref(), Some("HD"));
        assert_eq!(dur.clinical_significance, Some(significance), "{dur:?}");
        assert!(dur.message.contains("MME"), "{dur:?}");
        if status == "P" {
            let row = story.recorded(&response, "paid");
            let conflicts = story.store().conflicts(row.id);
            assert_eq!(
                (conflicts[0].edit.as_str(), conflicts[0].action.as_str()),
                ("opioid", "warn")
            );
        }
    }
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opioid_naive_patient_is_refused_more_than_seven_days() {
    let mut story = Story::start().await;
    let day = days_ago(1);
    let naive = Person::adult("NAIVE00001").b1(1, OXYCODONE_5MG, day);
    let rejected = story
        .send(naive.quantity_milli(56_000).days_supply(14))
        .await;
    expect(&rejected, "R", &["88"]);
    expect_dur(only_dur(&rejected), "HD", 1, None);
    assert!(only_dur(&rejected).message.contains("naive"));

    let short = Person::adult("NAIVE00002").b1(2, OXYCODONE_5MG, day);
    let paid = story
        .send(short.quantity_milli(28_000).days_supply(7))
        .await;
    expect(&paid, "P", &[]);
    story.recorded(&paid, "paid");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opioid_with_benzodiazepine_fires_either_way_and_takes_only_the_opioid_override() {
    let mut story = Story::start().await;
    let first_day = days_ago(5);
    // Benzodiazepine first, then the opioid.
    let patient = Person::adult("OPB0000001");
    expect(
        &story.send(patient.b1(1, ALPRAZOLAM_0_5MG, first_day)).await,
        "P",
        &[],
    );
    let opioid = patient
        .b1(2, OXYCODONE_5MG, days_ago(1))
        .quantity_milli(20_000)
        .days_supply(5);
    let rejected = story.send(opioid.clone()).await;
    expect(&rejected, "R", &["88"]);
    expect_dur(only_dur(&rejected), "DD", 1, Some((first_day, 30_000)));
    // R0/1G is in the ddi edit's lists, not in the opioid edit's (M0/1G).
    let ddi_codes = story.send(opioid.clone().dur("DD", "R0", "1G")).await;
    expect(&ddi_codes, "R", &["88"]);
    let paid = story.send(opioid.dur("DD", "M0", "1G")).await;
    expect(&paid, "P", &[]);
    let row = story.recorded(&paid, "paid");
    let conflicts = story.store().conflicts(row.id);
    assert_eq!(
        (conflicts[0].edit.as_str(), conflicts[0].overridden_by),
        ("opioid", Some(1))
    );

    // The opioid first, then the benzodiazepine.
    let reverse = Person::adult("OPB0000002");
    let opioid_first = reverse
        .b1(11, OXYCODONE_5MG, first_day)
        .quantity_milli(28_000)
        .days_supply(7);
    expect(&story.send(opioid_first).await, "P", &[]);
    let benzo = story
        .send(reverse.b1(12, ALPRAZOLAM_0_5MG, days_ago(1)))
        .await;
    expect(&benzo, "R", &["88"]);
    expect_dur(only_dur(&benzo), "DD", 1, Some((first_day, 28_000)));
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_acetaminophen_rejects_above_4000_mg_a_day() {
    let mut story = Story::start().await;
    let patient = Person::adult("APAP000001");
    let first_day = days_ago(5);
    // 8 tablets of 500 mg a day: exactly 4000 mg, allowed.
    let at_limit = patient
        .b1(1, ACETAMINOPHEN_500MG, first_day)
        .quantity_milli(240_000)
        .days_supply(30);
    let paid = story.send(at_limit).await;
    expect(&paid, "P", &[]);
    assert!(paid.transactions[0].dur.is_empty(), "{paid:?}");
    // 3 tablets of 5/325 a day add 975 mg.
    let combination = patient
        .b1(2, HYDROCODONE_APAP_5_325, days_ago(1))
        .quantity_milli(15_000)
        .days_supply(5);
    let rejected = story.send(combination).await;
    expect(&rejected, "R", &["88"]);
    let dur = only_dur(&rejected);
    expect_dur(dur, "HD", 1, Some((first_day, 240_000)));
    assert!(dur.message.contains("acetaminophen"), "{dur:?}");
    story.stop().await;
}

// ---- windows: active days and lookback ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_counts_through_its_last_supply_day_and_only_inside_the_lookback() {
    let mut story = Story::start().await;
    let day = days_ago(1);
    // (first fill days before the claim, days supply, interaction expected)
    let cases = [
        ("WIN0000001", 29, 30, true),    // last active day is the claim's day
        ("WIN0000002", 30, 30, false),   // ran out the day before
        ("WIN0000003", 180, 365, true),  // at the 180-day lookback edge
        ("WIN0000004", 181, 365, false), // still supplied, but beyond the lookback
    ];
    for (rx, (cardholder, days_before, days_supply, conflicts)) in (10..).step_by(10).zip(cases) {
        let patient = Person::adult(cardholder);
        let first = patient
            .b1(rx, WARFARIN_5MG, day.add_days(-days_before))
            .quantity_milli(u64::from(days_supply) * 1_000)
            .days_supply(days_supply);
        expect(&story.send(first).await, "P", &[]);
        let second = story.send(patient.b1(rx + 1, IBUPROFEN_800MG, day)).await;
        if conflicts {
            expect(&second, "R", &["88"]);
        } else {
            expect(&second, "P", &[]);
            assert!(
                second.transactions[0].dur.is_empty(),
                "{cardholder}: {second:?}"
            );
        }
    }
    story.stop().await;
}

// ---- duplicates, reversals, rebills ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_is_answered_d_with_the_original_authorization_and_not_recorded_twice() {
    let mut story = Story::start().await;
    let claim = Person::adult("DUPL000001").b1(1, ATORVASTATIN_10MG, days_ago(1));
    let paid = story.send(claim.clone()).await;
    expect(&paid, "P", &[]);
    let duplicate = story.send(claim).await;
    expect(&duplicate, "D", &[]);
    assert_eq!(authorization(&duplicate, 0), authorization(&paid, 0));
    story.recorded(&paid, "paid");
    assert_eq!(story.store().claims_for_rx(1).len(), 1);
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_rx_and_fill_in_one_transmission_is_83_and_only_committed_claims_carry_an_authorization(
) {
    let mut story = Story::start().await;
    let patient = Person::adult("REPEAT0001");
    let day = days_ago(1);
    // The second transaction repeats the first's Rx 1, fill 0 with another product.
    let repeated = patient
        .b1(1, ATORVASTATIN_10MG, day)
        .next_claim()
        .rx(1)
        .ndc(WARFARIN_5MG);
    let response = story.send(repeated).await;
    assert_eq!(statuses(&response), "PR", "{response:?}");
    assert_eq!(rejects(&response, 1), ["83"]);
    assert_eq!(authorization(&response, 1), "");
    let first = story.recorded(&response, "paid");
    assert_eq!(story.store().claims_for_rx(1).len(), 1, "{first:?}");
    // Two reversals of one claim in one transmission: the first reverses it, the second is 83.
    let reversals = patient
        .b2(1, ATORVASTATIN_10MG, day)
        .no_patient()
        .next_claim()
        .rx(1);
    let reversed = story.send(reversals).await;
    assert_eq!(statuses(&reversed), "AR", "{reversed:?}");
    assert_eq!(rejects(&reversed, 1), ["83"]);
    let original = story
        .store()
        .claim_by_authorization(&authorization(&response, 0))
        .expect("the original");
    assert!(!original.counts_as_paid());
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_rx_fill_and_date_for_another_product_is_83_until_the_paid_claim_is_reversed() {
    let mut story = Story::start().await;
    let patient = Person::adult("OTHERP0001");
    let day = days_ago(1);
    let paid = story.send(patient.b1(1, ATORVASTATIN_10MG, day)).await;
    expect(&paid, "P", &[]);
    let other_product = patient.b1(1, WARFARIN_5MG, day);
    let refused = story.send(other_product.clone()).await;
    expect(&refused, "R", &["83"]);
    assert_eq!(authorization(&refused, 0), "", "{refused:?}");
    // Refused while planning (the history holds the paid claim), so recorded with its 83;
    // one refused only at commit would leave no row.
    let store = story.store();
    let rows = store.claims_for_rx(1);
    let kept: Vec<&str> = rows.iter().map(|row| row.status.as_str()).collect();
    assert_eq!(kept, ["paid", "rejected"], "{rows:?}");
    assert_eq!(store.reject_codes(rows[1].id), ["83"]);
    assert!(rows[0].counts_as_paid(), "{rows:?}");

    expect(
        &story.send(patient.b2(1, ATORVASTATIN_10MG, day)).await,
        "A",
        &[],
    );
    let after_reversal = story.send(other_product).await;
    expect(&after_reversal, "P", &[]);
    story.recorded(&after_reversal, "paid");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_product_found_paid_only_at_commit_is_83_and_not_recorded() {
    let mut story = Story::start().await;
    let day = days_ago(1);
    // Two patients, so neither transmission waits for the other's commit before planning.
    let first = Person::adult("COMMIT0001").b1(1, ATORVASTATIN_10MG, day);
    let second = Person::adult("COMMIT0002").b1(1, WARFARIN_5MG, day);
    // While the write lock is held nothing commits: both are planned against a history
    // without the other, and only the store's uniqueness of the key can refuse the second.
    let lock = rusqlite::Connection::open(&story.gateway.store_path).expect("second connection");
    lock.execute_batch("BEGIN IMMEDIATE").expect("write lock");
    story
        .client
        .send_all_only(&[first.encode(), second.encode()])
        .await;
    // Time for both to be planned (microseconds of work), and well inside the store's 500 ms
    // busy timeout, so the held commit then goes through.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    lock.execute_batch("ROLLBACK").expect("release");
    drop(lock);
    let (paid, refused) = (story.client.reply().await, story.client.reply().await);
    expect(&paid, "P", &[]);
    expect(&refused, "R", &["83"]);
    assert_eq!(authorization(&refused, 0), "", "{refused:?}");
    let rows = story.store().claims_for_rx(1);
    assert_eq!(rows.len(), 1, "the refused claim is not recorded: {rows:?}");
    assert_eq!(rows[0], story.recorded(&paid, "paid"));
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reversal_is_approved_and_the_claim_it_conflicted_with_then_pays() {
    let mut story = Story::start().await;
    let patient = Person::adult("REV0000001");
    let first_day = days_ago(4);
    let paid = story.send(patient.b1(1, WARFARIN_5MG, first_day)).await;
    expect(&paid, "P", &[]);
    let nsaid = patient.b1(2, IBUPROFEN_800MG, days_ago(1));
    expect(&story.send(nsaid.clone()).await, "R", &["88"]);

    // A switch may send a B2 without the patient segments.
    let reversal = story
        .send(patient.b2(1, WARFARIN_5MG, first_day).no_patient())
        .await;
    expect(&reversal, "A", &[]);
    let reversal_row = story.recorded(&reversal, "approved");
    let original = story
        .store()
        .claim_by_authorization(&authorization(&paid, 0))
        .expect("the original");
    assert_eq!(reversal_row.kind, "reversal");
    assert_eq!(reversal_row.reverses, Some(original.id));
    assert_eq!(original.reversed_by, Some(reversal_row.id));
    assert!(!original.counts_as_paid());

    let unblocked = story.send(nsaid).await;
    expect(&unblocked, "P", &[]);
    assert!(unblocked.transactions[0].dur.is_empty(), "{unblocked:?}");
    story.recorded(&unblocked, "paid");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_reversal_is_s_and_a_reversal_of_nothing_is_87() {
    let mut story = Story::start().await;
    let patient = Person::adult("REV0000002");
    let day = days_ago(2);
    expect(
        &story.send(patient.b1(1, WARFARIN_5MG, day)).await,
        "P",
        &[],
    );
    let reversal = patient.b2(1, WARFARIN_5MG, day);
    expect(&story.send(reversal.clone()).await, "A", &[]);
    expect(&story.send(reversal).await, "S", &[]);
    let nothing = story.send(patient.b2(99, WARFARIN_5MG, day)).await;
    expect(&nothing, "R", &["87"]);
    let store = story.store();
    assert_eq!(store.claims_for_rx(1).len(), 2, "the S is not recorded");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_rebill_replaces_the_original_without_conflicting_with_it() {
    let mut story = Story::start().await;
    let patient = Person::adult("RBL0000001");
    let day = days_ago(2);
    let original = patient.b1(1, ATORVASTATIN_10MG, day);
    let paid = story.send(original.clone()).await;
    expect(&paid, "P", &[]);
    // Same drug the same day: against the original it would be an early refill (79).
    let rebill = patient
        .b3(1, ATORVASTATIN_10MG, day)
        .quantity_milli(60_000)
        .days_supply(60);
    let rebilled = story.send(rebill).await;
    expect(&rebilled, "P", &[]);
    assert!(rebilled.transactions[0].dur.is_empty(), "{rebilled:?}");
    assert_ne!(authorization(&rebilled, 0), authorization(&paid, 0));
    let new_row = story.recorded(&rebilled, "paid");
    let old_row = story
        .store()
        .claim_by_authorization(&authorization(&paid, 0))
        .expect("the original");
    assert_eq!(new_row.kind, "rebill");
    assert_eq!(new_row.quantity_milli, 60_000);
    assert_eq!(new_row.reverses, Some(old_row.id));
    assert_eq!(old_row.reversed_by, Some(new_row.id));

    // The rebill is now the paid claim of that Rx, fill and date.
    let resubmitted = story.send(original).await;
    expect(&resubmitted, "D", &[]);
    assert_eq!(authorization(&resubmitted, 0), authorization(&rebilled, 0));
    let reversal = story.send(patient.b2(1, ATORVASTATIN_10MG, day)).await;
    expect(&reversal, "A", &[]);
    assert_eq!(
        story.recorded(&reversal, "approved").reverses,
        Some(new_row.id)
    );
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_rebill_leaves_the_original_paid() {
    let mut story = Story::start().await;
    let patient = Person::adult("RBL0000002");
    let day = days_ago(2);
    let original = patient.b1(1, ATORVASTATIN_10MG, day);
    let paid = story.send(original.clone()).await;
    expect(&paid, "P", &[]);
    // 120 mg a day of atorvastatin: high dose.
    let rebill = patient
        .b3(1, ATORVASTATIN_40MG, day)
        .quantity_milli(90_000)
        .days_supply(30);
    let refused = story.send(rebill).await;
    expect(&refused, "R", &["88"]);
    let original_row = story.recorded(&paid, "paid");
    assert!(original_row.counts_as_paid(), "{original_row:?}");
    let rows = story.store().claims_for_rx(1);
    let rebill_row = rows.last().expect("the rebill is recorded");
    assert_eq!(
        (
            rebill_row.kind.as_str(),
            rebill_row.status.as_str(),
            rebill_row.reverses
        ),
        ("rebill", "rejected", None)
    );

    let resubmitted = story.send(original).await;
    expect(&resubmitted, "D", &[]);
    assert_eq!(authorization(&resubmitted, 0), authorization(&paid, 0));
    let reversal = story.send(patient.b2(1, ATORVASTATIN_10MG, day)).await;
    expect(&reversal, "A", &[]);
    assert_eq!(
        story.recorded(&reversal, "approved").reverses,
        Some(original_row.id)
    );
    story.stop().await;
}

// ---- validation -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ndc_absent_from_the_rule_tables_is_not_covered_70() {
    let mut story = Story::start().await;
    let claim = Person::adult("NDC0000001").b1(1, UNKNOWN_NDC, days_ago(1));
    expect(&story.send(claim).await, "R", &["70"]);
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_dated_and_too_old_claims_are_rejected_82_and_81_but_old_claims_may_be_reversed() {
    let mut story = Story::start().await;
    let patient = Person::adult("DATE000001");
    expect(
        &story
            .send(patient.b1(1, ATORVASTATIN_10MG, days_ago(-1)))
            .await,
        "P",
        &[],
    );
    expect(
        &story
            .send(patient.b1(2, ATORVASTATIN_10MG, days_ago(-2)))
            .await,
        "R",
        &["82"],
    );
    expect(
        &story
            .send(patient.b1(3, ATORVASTATIN_10MG, days_ago(366)))
            .await,
        "R",
        &["81"],
    );
    expect(
        &story
            .send(patient.b1(4, ATORVASTATIN_10MG, days_ago(365)))
            .await,
        "P",
        &[],
    );
    expect(
        &story
            .send(patient.b2(4, ATORVASTATIN_10MG, days_ago(365)))
            .await,
        "A",
        &[],
    );
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_validation_problem_is_reported_at_once() {
    let mut story = Story::start().await;
    let claim = Person::adult("")
        .b1(1, ATORVASTATIN_10MG, days_ago(1))
        .days_supply(0)
        .quantity_milli(0)
        .dur("ZZ", "M0", "1G");
    let mut raw = RawMessage::from_builder(claim);
    raw.segment_mut(Place::Transmission, "01")
        .expect("patient segment")
        .set("C4", b"19801345");
    let response = story.client.send(&raw.to_bytes()).await;
    assert_eq!(
        response.header.status,
        HeaderStatus::Accepted,
        "{response:?}"
    );
    assert_eq!(statuses(&response), "R");
    let mut codes = rejects(&response, 0);
    codes.sort();
    assert_eq!(codes, ["07", "09", "19", "E4", "E7"], "{response:?}");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_person_code_is_its_own_patient_key() {
    let mut story = Story::start().await;
    let day = days_ago(1);
    let without_code = Person::adult("PC00000001").person_code("");
    expect(
        &story.send(without_code.b1(1, WARFARIN_5MG, day)).await,
        "P",
        &[],
    );
    let same_patient = story.send(without_code.b1(2, IBUPROFEN_800MG, day)).await;
    expect(&same_patient, "R", &["88"]);
    let dependant = without_code.clone().person_code("02");
    let other_patient = story.send(dependant.b1(3, IBUPROFEN_800MG, day)).await;
    expect(&other_patient, "P", &[]);
    story.stop().await;
}

// ---- transmissions and connections ----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn later_transactions_see_earlier_paid_ones_of_the_transmission_but_not_rejected_ones() {
    let mut story = Story::start().await;
    let patient = Person::adult("MULTI00001");
    let day = days_ago(1);
    let transmission = patient
        .b1(1, SERTRALINE_50MG, day) // paid
        .next_claim()
        .ndc(PHENELZINE_15MG) // MAOI with the sertraline just paid: rejected
        .next_claim()
        .ndc(MEPERIDINE_50MG) // would interact with the MAOI, which was rejected: paid
        .quantity_milli(10_000)
        .days_supply(5)
        .next_claim()
        .ndc(ESCITALOPRAM_10MG) // duplicate SSRI of the first transaction: rejected
        .quantity_milli(30_000)
        .days_supply(30);
    let response = story.send(transmission).await;
    assert_eq!(response.header.status, HeaderStatus::Accepted);
    assert_eq!(statuses(&response), "PRPR", "{response:?}");
    assert_eq!(dur_reasons(&response, 1), ["DD"]);
    assert!(response.transactions[2].dur.is_empty(), "{response:?}");
    assert_eq!(dur_reasons(&response, 3), ["TD"]);
    let first = &response.transactions[1].dur[0];
    assert_eq!(first.previous_fill_date, Some(day));
    let store = story.store();
    let statuses_stored: Vec<String> = (1..=4)
        .map(|rx| store.claims_for_rx(rx)[0].status.clone())
        .collect();
    assert_eq!(statuses_stored, ["paid", "rejected", "paid", "rejected"]);
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_and_see_each_other() {
    let mut story = Story::start().await;
    let day = days_ago(1);
    let anticoagulated = Person::adult("PIPE000000");
    let mut sent = vec![anticoagulated.b1(100, WARFARIN_5MG, day)];
    for n in 1..=6u64 {
        let other = Person::adult(&format!("PIPE00000{n}"));
        sent.push(other.b1(100 + n, ATORVASTATIN_10MG, day));
    }
    sent.push(anticoagulated.b1(107, IBUPROFEN_800MG, day));
    for claim in &sent {
        story.client.send_only(&claim.clone().encode()).await;
    }
    let mut replies = Vec::new();
    for _ in &sent {
        replies.push(story.client.reply().await);
    }
    let rx_numbers: Vec<u64> = replies
        .iter()
        .map(|reply| reply.transactions[0].claim.expect("AM22").rx_number)
        .collect();
    assert_eq!(rx_numbers, (100..=107).collect::<Vec<u64>>());
    let all: String = replies.iter().map(statuses).collect();
    assert_eq!(all, "PPPPPPPR");
    let last = replies.last().expect("eight replies");
    assert_eq!(rejects(last, 0), ["88"]);
    expect_dur(only_dur(last), "DD", 2, Some((day, 30_000)));
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_commit_answers_99_and_records_nothing_paid() {
    let mut story = Story::start().await;
    let claim = Person::adult("STORE00001").b1(1, ATORVASTATIN_10MG, days_ago(1));
    let lock = rusqlite::Connection::open(&story.gateway.store_path).expect("second connection");
    lock.execute_batch("BEGIN EXCLUSIVE")
        .expect("exclusive lock");
    let refused = story.send(claim.clone()).await;
    expect(&refused, "R", &["99"]);
    assert_eq!(authorization(&refused, 0), "");
    lock.execute_batch("ROLLBACK").expect("release");
    drop(lock);
    assert!(
        story.store().claims_for_rx(1).is_empty(),
        "nothing of the refused claim was recorded"
    );

    let paid = story.send(claim).await;
    expect(&paid, "P", &[]);
    story.recorded(&paid, "paid");
    let rows = story.store().claims_for_rx(1);
    assert_eq!(rows.len(), 1, "{rows:?}");
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn earlier_transactions_paid_with_an_override_or_a_warning_count_as_fills() {
    let mut story = Story::start().await;
    let day = days_ago(1);
    let overridden = Person::adult("MULTI00002")
        .b1(1, WARFARIN_5MG, day)
        .next_claim()
        .ndc(IBUPROFEN_800MG) // DD with the warfarin, overridden: paid
        .dur("DD", "M0", "1G")
        .next_claim()
        .ndc(NAPROXEN_500MG) // DD overridden again, but a duplicate NSAID of the ibuprofen
        .dur("DD", "M0", "1G");
    let response = story.send(overridden).await;
    assert_eq!(statuses(&response), "PPR", "{response:?}");
    assert_eq!(rejects(&response, 2), ["88"]);
    assert_eq!(
        dur_reasons(&response, 2),
        ["TD", "DD"],
        "open conflict first"
    );

    let warned = Person::adult("MULTI00003")
        .b1(11, SIMVASTATIN_20MG, day)
        .next_claim()
        .ndc(AMLODIPINE_10MG) // paid with a severity 3 warning
        .next_claim()
        .ndc(SIMVASTATIN_40MG); // duplicate statin, warning pair with amlodipine; a new strength
                                // on a new Rx is a dose change, not an early refill
    let response = story.send(warned).await;
    assert_eq!(statuses(&response), "PPR", "{response:?}");
    assert_eq!(dur_reasons(&response, 1), ["DD"]);
    let third = &response.transactions[2].dur;
    let significance: Vec<(String, Option<u8>)> = third
        .iter()
        .map(|dur| {
            (
                dur.reason.map(|c| c.to_string()).unwrap_or_default(),
                dur.clinical_significance,
            )
        })
        .collect();
    let wanted = [("TD", Some(1)), ("DD", Some(3))];
    let wanted: Vec<(String, Option<u8>)> = wanted
        .iter()
        .map(|(reason, significance)| (reason.to_string(), *significance))
        .collect();
    assert_eq!(significance, wanted);
    assert_eq!(rejects(&response, 2), ["88"]);
    story.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_configured_for_length_prefixed_frames_answers_in_kind() {
    let gateway = support::start_gateway_with(|config| config.framing = Framing::Len4).await;
    let mut client = Client::connect_with(gateway.addr, Framing::Len4).await;
    let claim = Person::adult("LEN4000001").b1(1, ATORVASTATIN_10MG, days_ago(1));
    expect(&client.send(&claim.clone().encode()).await, "P", &[]);
    expect(&client.send(&claim.encode()).await, "D", &[]);
    gateway.stop().await;
}

// ---- eligibility ----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e1_answers_known_and_unknown_patients_alike_unless_the_plan_enables_disclosure() {
    let mut story = Story::start().await;
    let known = Person::adult("ELIG000001");
    let day = days_ago(1);
    expect(
        &story.send(known.b1(1, ATORVASTATIN_10MG, day)).await,
        "P",
        &[],
    );
    let unknown = Person::adult("ELIG000002");
    let to_known = story.send(known.e1(day)).await;
    let to_unknown = story.send(unknown.e1(day)).await;
    assert_eq!(statuses(&to_known), "A", "{to_known:?}");
    assert_eq!(format!("{to_known:?}"), format!("{to_unknown:?}"));
    story.stop().await;

    let gateway =
        support::start_gateway_with(|config| config.eligibility_reveals_history = true).await;
    let mut client = gateway.client().await;
    let paid = client
        .send(&known.b1(1, ATORVASTATIN_10MG, day).encode())
        .await;
    assert_eq!(statuses(&paid), "P", "{paid:?}");
    let to_known = client.send(&known.e1(day).encode()).await;
    let to_unknown = client.send(&unknown.e1(day).encode()).await;
    assert_eq!(message_text(&to_known, 0), "PATIENT KNOWN TO DUR HISTORY");
    assert_eq!(message_text(&to_unknown, 0), "PATIENT NOT IN DUR HISTORY");
    gateway.stop().await;
}
