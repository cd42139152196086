//! The clinical model of the schema-2 sample tables through a real socket: standard regimens
//! that must pay, and the ways around an edit that must not work (`docs/behaviour.md`,
//! "Precise readings"; the sample's rows are explained in `config/rules/sample/SOURCES.md`).

mod support;

use durgate::claim::Date;
use durgate::ncpdp::build::ClaimBuilder;
use durgate::ncpdp::{Response, ResponseDur};
use support::{born_years_before, days_ago, dur_reasons, rejects, start_gateway, statuses};
use support::{Client, Person, TestGateway};

// Products of the sample tables (config/rules/sample/products.csv).
const MORPHINE_ER_15MG: &str = "00378265801";
const MORPHINE_IR_15MG: &str = "00054023524";
const SERTRALINE_50MG: &str = "99999001701";
const SERTRALINE_100MG: &str = "99999001801";
const OXYCODONE_5MG: &str = "00378611201";
const OXYCODONE_10MG: &str = "00603499321";
const FENTANYL_50_MCG_HR: &str = "00093690145";
const TRAMADOL_50MG: &str = "00093005801";
const WARFARIN_5MG: &str = "99999000101";
const IBUPROFEN_800MG: &str = "99999007101";
const PHENELZINE_15MG: &str = "99999002601";
const PIMOZIDE_2MG: &str = "99999006201";
const CLARITHROMYCIN_500MG: &str = "99999005001";
const CODEINE_APAP_30_300: &str = "00093015001";
const SIMVASTATIN_10MG: &str = "99999017401";
const DILTIAZEM_ER_240MG: &str = "99999005401";
const CARBAMAZEPINE_200MG: &str = "99999004901";
const FLUVOXAMINE_100MG: &str = "99999002301";
const ESCITALOPRAM_20MG: &str = "00093585205";
const HYDROCODONE_APAP_10_650: &str = "00591050301";
const RAMELTEON_8MG: &str = "99999004501";
const AMIODARONE_200MG: &str = "99999007801";
const FLUVOXAMINE_FOR_RAMELTEON: &str = FLUVOXAMINE_100MG;
const ATAZANAVIR_300MG: &str = "99999003901";
const OMEPRAZOLE_20MG: &str = "99999001001";
const BUSPIRONE_10MG: &str = "99999012901";
const ATOMOXETINE_40MG: &str = "99999003701";
const HYDROXYZINE_25MG: &str = "99999011401";

struct Clinic {
    gateway: TestGateway,
    client: Client,
}

impl Clinic {
    async fn open() -> Clinic {
        let gateway = start_gateway().await;
        let client = gateway.client().await;
        Clinic { gateway, client }
    }

    async fn send(&mut self, claim: ClaimBuilder) -> Response {
        self.client.send(&claim.encode()).await
    }

    /// Sends a claim that must pay (the history a story starts from).
    async fn paid(&mut self, claim: ClaimBuilder) {
        let reply = self.send(claim).await;
        assert_eq!(statuses(&reply), "P", "{reply:?}");
    }

    async fn close(self) {
        self.gateway.stop().await;
    }
}

fn claim(
    patient: &Person,
    rx: u64,
    ndc: &str,
    day: Date,
    quantity: u64,
    days: u16,
) -> ClaimBuilder {
    patient
        .b1(rx, ndc, day)
        .quantity_milli(quantity * 1_000)
        .days_supply(days)
}

/// One text of each of transaction 0's DUR occurrences.
fn dur_texts(reply: &Response, text: fn(&ResponseDur) -> &String) -> Vec<String> {
    reply.transactions[0]
        .dur
        .iter()
        .map(text)
        .cloned()
        .collect()
}

/// The 544-FY texts of transaction 0's DUR occurrences.
fn dur_messages(reply: &Response) -> Vec<String> {
    dur_texts(reply, |dur| &dur.message)
}

/// The 570-NS texts of transaction 0's DUR occurrences.
fn dur_additional_texts(reply: &Response) -> Vec<String> {
    dur_texts(reply, |dur| &dur.additional_text)
}

/// A short earlier opioid fill, so that a 30-day opioid is not an opioid-naive start.
async fn opioid_history(clinic: &mut Clinic, patient: &Person) {
    clinic
        .paid(claim(patient, 90, OXYCODONE_5MG, days_ago(40), 6, 3))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn er_plus_ir_morphine_pays_with_the_mme_warning() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2MORPH001");
    opioid_history(&mut clinic, &patient).await;
    // Morphine ER 15 mg twice a day (30 MME), then IR 15 mg four times a day (60 MME).
    clinic
        .paid(claim(&patient, 1, MORPHINE_ER_15MG, days_ago(5), 60, 30))
        .await;
    let breakthrough = clinic
        .send(claim(&patient, 2, MORPHINE_IR_15MG, days_ago(0), 120, 30))
        .await;
    assert_eq!(statuses(&breakthrough), "P", "{breakthrough:?}");
    assert_eq!(dur_reasons(&breakthrough, 0), ["HD"]);
    assert!(
        dur_messages(&breakthrough)[0].contains("MME 90"),
        "{breakthrough:?}"
    );
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sertraline_100_plus_50_is_a_duplication_not_an_early_refill() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2SERT0001");
    let today = days_ago(0);
    clinic
        .paid(claim(&patient, 1, SERTRALINE_100MG, today, 30, 30))
        .await;
    let fifty = clinic
        .send(claim(&patient, 2, SERTRALINE_50MG, today, 30, 30))
        .await;
    assert_eq!(statuses(&fifty), "R");
    assert_eq!(rejects(&fifty, 0), ["88"]);
    assert_eq!(dur_reasons(&fifty, 0), ["TD"]);
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_supply_with_clarification_code_04_pays() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2LOST0001");
    clinic
        .paid(claim(&patient, 1, SERTRALINE_50MG, days_ago(5), 30, 30))
        .await;
    let refill = claim(&patient, 1, SERTRALINE_50MG, days_ago(0), 30, 30).fill(1);
    let early = clinic.send(refill.clone()).await;
    assert_eq!(rejects(&early, 0), ["79"], "{early:?}");
    let lost = clinic.send(refill.clarification(4)).await;
    assert_eq!(statuses(&lost), "P", "{lost:?}");
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_time_refill_of_a_stable_120_mme_patient_pays() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2MME00001");
    opioid_history(&mut clinic, &patient).await;
    // Oxycodone 10 mg, 8 a day: 80 mg x 1.5 = 120 MME (a warning, above 90).
    clinic
        .paid(claim(&patient, 1, OXYCODONE_10MG, days_ago(28), 240, 30))
        .await;
    let refill = claim(&patient, 1, OXYCODONE_10MG, days_ago(0), 240, 30).fill(1);
    let reply = clinic.send(refill).await;
    assert_eq!(statuses(&reply), "P", "{reply:?}");
    assert!(dur_messages(&reply)[0].contains("MME 120"), "{reply:?}");
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fentanyl_patches_at_once_reach_240_mme() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2PATCH001");
    opioid_history(&mut clinic, &patient).await;
    // 20 patches of 50 mcg/h over 30 days at 72 h each: two worn at once, 100 mcg/h x 2.4.
    let patches = clinic
        .send(claim(&patient, 1, FENTANYL_50_MCG_HR, days_ago(0), 20, 30))
        .await;
    assert_eq!(rejects(&patches, 0), ["88"], "{patches:?}");
    assert!(
        dur_messages(&patches).iter().any(|m| m.contains("MME 240")),
        "{patches:?}"
    );
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_day_tramadol_earlier_in_the_transmission_does_not_defeat_the_naive_check() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2NAIVE001");
    let today = days_ago(0);
    let transmission = claim(&patient, 1, TRAMADOL_50MG, today, 4, 1)
        .next_claim()
        .rx(2)
        .ndc(OXYCODONE_10MG)
        .quantity_milli(60_000)
        .days_supply(30);
    let reply = clinic.send(transmission).await;
    assert_eq!(statuses(&reply), "PR", "{reply:?}");
    assert_eq!(rejects(&reply, 1), ["88"]);
    let naive = reply.transactions[1]
        .dur
        .iter()
        .any(|d| d.message.contains("naive"));
    assert!(naive, "{reply:?}");
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_backdated_before_an_existing_fill_meets_it() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2BACK0001");
    clinic
        .paid(claim(&patient, 1, WARFARIN_5MG, days_ago(0), 30, 30))
        .await;
    // Dated three days before the warfarin fill, its 30-day supply covers it.
    let backdated = clinic
        .send(claim(&patient, 2, IBUPROFEN_800MG, days_ago(3), 30, 30))
        .await;
    assert_eq!(rejects(&backdated, 0), ["88"], "{backdated:?}");
    assert_eq!(dur_reasons(&backdated, 0), ["DD"]);
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phenelzine_stopped_seven_days_ago_still_rejects_sertraline() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2WASH0001");
    // 30 days filled 37 days ago: the last day of supply was 8 days ago (14-day washout).
    clinic
        .paid(claim(&patient, 1, PHENELZINE_15MG, days_ago(37), 30, 30))
        .await;
    let ssri = clinic
        .send(claim(&patient, 2, SERTRALINE_50MG, days_ago(0), 30, 30))
        .await;
    assert_eq!(rejects(&ssri, 0), ["88"], "{ssri:?}");
    assert_eq!(dur_reasons(&ssri, 0), ["DD"]);
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pimozide_with_clarithromycin_is_rejected() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2PIMO0001");
    clinic
        .paid(claim(&patient, 1, PIMOZIDE_2MG, days_ago(5), 30, 30))
        .await;
    let macrolide = clinic
        .send(claim(
            &patient,
            2,
            CLARITHROMYCIN_500MG,
            days_ago(0),
            20,
            10,
        ))
        .await;
    assert_eq!(rejects(&macrolide, 0), ["88"], "{macrolide:?}");
    assert!(dur_reasons(&macrolide, 0).contains(&"DD".to_string()));
    assert_eq!(
        macrolide.transactions[0].dur[0].clinical_significance,
        Some(1)
    );
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codeine_for_an_eight_year_old_is_rejected_and_for_an_adult_pays() {
    let mut clinic = Clinic::open().await;
    let today = days_ago(0);
    let child = Person::adult("V2CHILD001").born(born_years_before(today, 8, 10));
    let reply = clinic
        .send(claim(&child, 1, CODEINE_APAP_30_300, today, 12, 3))
        .await;
    assert_eq!(rejects(&reply, 0), ["88"], "{reply:?}");
    assert_eq!(dur_reasons(&reply, 0), ["PA"]);
    let adult = Person::adult("V2ADULT001");
    clinic
        .paid(claim(&adult, 1, CODEINE_APAP_30_300, today, 12, 3))
        .await;
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simvastatin_with_diltiazem_is_overridable_with_m0_1g() {
    let mut clinic = Clinic::open().await;
    let patient = Person::adult("V2STAT0001");
    clinic
        .paid(claim(&patient, 1, DILTIAZEM_ER_240MG, days_ago(5), 30, 30))
        .await;
    // Simvastatin 10 mg once a day: the dose the label permits with diltiazem (LBL22).
    let statin = claim(&patient, 2, SIMVASTATIN_10MG, days_ago(0), 30, 30);
    let rejected = clinic.send(statin.clone()).await;
    assert_eq!(rejects(&rejected, 0), ["88"], "{rejected:?}");
    assert_eq!(dur_reasons(&rejected, 0), ["DD"], "{rejected:?}");
    assert_eq!(
        rejected.transactions[0].dur[0].clinical_significance,
        Some(2)
    );
    assert!(
        dur_messages(&rejected)[0].contains("diltiazem"),
        "{rejected:?}"
    );
    let overridden = clinic.send(statin.dur("DD", "M0", "1G")).await;
    assert_eq!(statuses(&overridden), "P", "{overridden:?}");
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refill_of_an_overridden_interaction_pays_with_a_remembered_warning() {
    let rules = support::sample_remembering_ddi(90);
    let rules_path = rules.path().to_path_buf();
    let gateway = support::start_gateway_with(|config| config.rules = rules_path).await;
    let mut client = gateway.client().await;
    let patient = Person::adult("V2REMEMB01");
    let warfarin = claim(&patient, 1, WARFARIN_5MG, days_ago(40), 90, 90);
    assert_eq!(statuses(&client.send(&warfarin.encode()).await), "P");
    let ibuprofen = claim(&patient, 2, IBUPROFEN_800MG, days_ago(35), 90, 30);
    let rejected = client.send(&ibuprofen.clone().encode()).await;
    assert_eq!(rejects(&rejected, 0), ["88"], "{rejected:?}");
    let overridden = client.send(&ibuprofen.dur("DD", "M0", "1G").encode()).await;
    assert_eq!(statuses(&overridden), "P", "{overridden:?}");
    drop(client);
    // The memory survives a restart: the history is rebuilt from the claim store.
    let gateway = gateway.restart().await;
    let mut client = gateway.client().await;
    let refill = claim(&patient, 2, IBUPROFEN_800MG, days_ago(5), 90, 30).fill(1);
    let remembered = client.send(&refill.encode()).await;
    assert_eq!(statuses(&remembered), "P", "{remembered:?}");
    assert_eq!(dur_reasons(&remembered, 0), ["DD"]);
    let expected = format!("previously overridden {}", days_ago(35));
    assert_eq!(dur_additional_texts(&remembered), [expected]);
    // A new prescription of the same drug is not a refill of the overridden one.
    let new_rx = claim(&patient, 3, IBUPROFEN_800MG, days_ago(5), 90, 30);
    let again = client.send(&new_rx.encode()).await;
    assert_eq!(statuses(&again), "R", "{again:?}");
    assert_eq!(dur_reasons(&again, 0)[0], "DD");
    assert_eq!(dur_additional_texts(&again)[0], "", "{again:?}");
    // Every reply was sent after its commit: the record can be read while the gateway runs.
    let store = rusqlite::Connection::open(&gateway.store_path).expect("open the claim store");
    let recorded: Vec<(String, Option<String>)> = store
        .prepare("SELECT action, remembered_from FROM conflicts WHERE edit = 'ddi' ORDER BY id")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .expect("read the conflicts");
    let remembered_on = Some(days_ago(35).to_string());
    assert_eq!(
        recorded,
        [
            ("reject".to_string(), None),
            ("reject".to_string(), None),
            ("warn".to_string(), remembered_on),
            ("reject".to_string(), None),
        ]
    );
    drop(store);
    gateway.stop().await;
}

/// A patient `years` old today (past the birthday by 10 days).
fn aged(cardholder_id: &str, years: i32) -> Person {
    Person::adult(cardholder_id).born(born_years_before(days_ago(0), years, 10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_dose_bands_follow_the_labels_by_age() {
    let mut clinic = Clinic::open().await;
    let today = days_ago(0);
    // (patient, ndc, tablets over 30 days, expected status, expected DUR reasons)
    let cases = [
        // Fluvoxamine 250 mg/day: above 200 at 10 (SSRI: blocks at 1x), within 300 at 14.
        (
            aged("V2DOSE0001", 10),
            FLUVOXAMINE_100MG,
            75,
            "R",
            vec!["HD"],
        ),
        (aged("V2DOSE0002", 14), FLUVOXAMINE_100MG, 75, "P", vec![]),
        // Carbamazepine 1400 mg/day: above 1000 at 14 and above 1200 at 16, both within 2x.
        (
            aged("V2DOSE0003", 14),
            CARBAMAZEPINE_200MG,
            210,
            "P",
            vec!["HD"],
        ),
        (
            aged("V2DOSE0004", 16),
            CARBAMAZEPINE_200MG,
            210,
            "P",
            vec!["HD"],
        ),
        (
            aged("V2DOSE0005", 16),
            CARBAMAZEPINE_200MG,
            180,
            "P",
            vec![],
        ),
        // Escitalopram 20 mg/day at 70 is the adult maximum, not a high dose.
        (aged("V2DOSE0006", 70), ESCITALOPRAM_20MG, 30, "P", vec![]),
        // The program's anti-anxiety and ADHD drugs block at 1x: buspirone 70 mg/day (max 60),
        // atomoxetine 120 mg/day (max 100). Hydroxyzine 500 mg/day (max 400) is within 2x.
        (aged("V2DOSE0007", 40), BUSPIRONE_10MG, 210, "R", vec!["HD"]),
        (
            aged("V2DOSE0008", 40),
            ATOMOXETINE_40MG,
            90,
            "R",
            vec!["HD"],
        ),
        (
            aged("V2DOSE0009", 40),
            HYDROXYZINE_25MG,
            600,
            "P",
            vec!["HD"],
        ),
    ];
    // Rx numbers differ: a claim's key is pharmacy, Rx, fill and date, whoever the patient.
    for (rx, (patient, ndc, tablets, status, reasons)) in (1..).zip(cases) {
        let reply = clinic
            .send(claim(&patient, rx, ndc, today, tablets, 30))
            .await;
        assert_eq!(statuses(&reply), status, "{ndc} x{tablets}: {reply:?}");
        assert_eq!(
            dur_reasons(&reply, 0),
            reasons,
            "{ndc} x{tablets}: {reply:?}"
        );
    }
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_650_mg_combination_tablet_counts_its_real_acetaminophen() {
    let mut clinic = Clinic::open().await;
    // Six 10/650 tablets a day are 3900 mg and 60 mg hydrocodone: no conflict at all.
    let six = Person::adult("V2APAP0006");
    opioid_history(&mut clinic, &six).await;
    let within = clinic
        .send(claim(
            &six,
            1,
            HYDROCODONE_APAP_10_650,
            days_ago(0),
            180,
            30,
        ))
        .await;
    assert_eq!(statuses(&within), "P", "{within:?}");
    assert!(within.transactions[0].dur.is_empty(), "{within:?}");
    // Seven are 4550 mg of acetaminophen (325 mg tablets would have been 2275 mg).
    let seven = Person::adult("V2APAP0007");
    clinic
        .paid(claim(&seven, 91, OXYCODONE_5MG, days_ago(40), 6, 3))
        .await;
    let over = clinic
        .send(claim(
            &seven,
            2,
            HYDROCODONE_APAP_10_650,
            days_ago(0),
            210,
            30,
        ))
        .await;
    let messages = dur_messages(&over);
    assert!(
        messages
            .iter()
            .any(|text| text.starts_with("acetaminophen 4550 mg/day")),
        "{over:?}"
    );
    clinic.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_split_interactions_are_severity_2_and_the_contraindication_stays_1() {
    let mut clinic = Clinic::open().await;
    let today = days_ago(0);
    // (earlier fill, claim, expected 528-FS of the DD conflict)
    let cases = [
        (AMIODARONE_200MG, RAMELTEON_8MG, 2),
        (FLUVOXAMINE_FOR_RAMELTEON, RAMELTEON_8MG, 1),
        (OMEPRAZOLE_20MG, ATAZANAVIR_300MG, 2),
    ];
    for (number, (earlier, ndc, significance)) in cases.into_iter().enumerate() {
        let patient = Person::adult(&format!("V2SPLIT{number:03}"));
        let rx = 10 * (number as u64 + 1);
        clinic
            .paid(claim(&patient, rx, earlier, days_ago(3), 30, 30))
            .await;
        let reply = clinic
            .send(claim(&patient, rx + 1, ndc, today, 30, 30))
            .await;
        assert_eq!(rejects(&reply, 0), ["88"], "{ndc}: {reply:?}");
        let dd = reply.transactions[0]
            .dur
            .iter()
            .find(|dur| dur.reason.map(|r| r.as_str() == "DD") == Some(true));
        assert_eq!(
            dd.and_then(|dur| dur.clinical_significance),
            Some(significance),
            "{ndc}: {reply:?}"
        );
    }
    clinic.close().await;
}
