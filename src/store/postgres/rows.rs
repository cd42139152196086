//! A batch of transmission records as PostgreSQL rows: one array per column, one statement per
//! table, every statement of a batch pipelined in one round trip.
//!
//! Called only by the PostgreSQL writer (`pg_writer`), which owns the connection and the
//! transaction and has already given every row its id. [`write`] sends the opening statement
//! (`BEGIN` or a `SAVEPOINT`) and up to nine statements of a batch without waiting between them
//! (tokio-postgres sends a request when its future is first polled, and `join!` polls in
//! order; a statement with no rows to write is not sent), then checks that every reversal found
//! its claim. Must never commit, roll back, choose ids or look at the queue.
//!
//! The claims a batch reverses are named by id (`id = ANY (...)`, so the primary key serves
//! them); the inserts need no lookup. The plans depend on table statistics like any other:
//! see `POSTGRES.md`, Statistics.
//!
//! Order of the statements (and so of the locks they take, the same on every node): the rule
//! stamps (`ON CONFLICT DO NOTHING`, no lock on an existing row), the claims reversed (locked
//! `FOR UPDATE` in id order, then marked), the transmissions, the claims (in match-key order,
//! so that two nodes inserting the same keys wait for each other instead of deadlocking), the
//! reversal links, reject codes, conflicts and DUR/PPS occurrences. An original is marked
//! reversed before the rebill that replaces it is inserted, so the unique index
//! `claims_paid_once` sees one paid claim per key at every moment.

use crate::claim::{Action, Date};
use crate::store::record::{TransactionRecord, TransmissionRecord};
use crate::store::{CommitReceipt, CommittedTransaction, StoreError};
use bytes::{BufMut, BytesMut};
use futures::future::{Either, Ready};
use std::error::Error as StdError;
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use tokio_postgres::Client;

/// Days from 1970-01-01 (our epoch) to 2000-01-01 (PostgreSQL's).
const PG_EPOCH_DAYS: i32 = 10_957;

/// SQLSTATE of a statement sent after an earlier one of the same transaction failed.
const IN_FAILED_TRANSACTION: &str = "25P02";

/// A [`Date`] as a PostgreSQL `date` (binary: days since 2000-01-01 as a big-endian i32).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct PgDate(pub Date);

impl ToSql for PgDate {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.put_i32(self.0.days() - PG_EPOCH_DAYS);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for PgDate {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<PgDate, Box<dyn StdError + Sync + Send>> {
        let bytes: [u8; 4] = raw.try_into().map_err(|_| "a date is 4 bytes")?;
        let days = i32::from_be_bytes(bytes)
            .checked_add(PG_EPOCH_DAYS)
            .ok_or("date out of range (infinity?)")?;
        Ok(PgDate(Date::from_days(days)))
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::DATE
    }
}

/// A PostgreSQL error as the gateway may log it: SQLSTATE and message, never the server's
/// DETAIL (which may quote a row, patient key included).
pub(super) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} {}", db.code().code(), db.message()),
        None => match error.source() {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// A `u64` the store writes as `bigint`. `PgStore::submit` refused records with values beyond
/// `i64` (none fit the NCPDP field widths), so this never saturates in practice.
pub(super) fn int8(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Refuses a record with a number PostgreSQL's `bigint` cannot hold.
pub(super) fn check_ranges(record: &TransmissionRecord) -> Result<(), StoreError> {
    let too_wide = |value: u64| i64::try_from(value).is_err();
    let wide = record.transactions.iter().any(|transaction| {
        too_wide(transaction.rx_number)
            || too_wide(transaction.quantity_milli)
            || transaction
                .conflicts
                .iter()
                .any(|conflict| conflict.previous_quantity_milli.is_some_and(too_wide))
    });
    if wide {
        return Err(StoreError::Invalid(
            "a number beyond the store's 64-bit range",
        ));
    }
    Ok(())
}

/// A record with the ids the writer gave its rows.
pub(super) struct Assigned<'a> {
    pub record: &'a TransmissionRecord,
    pub transmission_id: i64,
    /// The recorded transactions (D and S are not), each with its claim id and the ids of its
    /// conflicts in order.
    pub transactions: Vec<AssignedTransaction<'a>>,
}

pub(super) struct AssignedTransaction<'a> {
    pub transaction: &'a TransactionRecord,
    pub claim_id: i64,
    pub conflict_ids: Vec<i64>,
}

impl Assigned<'_> {
    /// What the submitter is told once the batch committed.
    pub fn receipt(&self) -> CommitReceipt {
        let transactions = self.transactions.iter().map(|assigned| {
            let claim_id = u64::try_from(assigned.claim_id).unwrap_or(0);
            CommittedTransaction {
                index: assigned.transaction.index,
                claim_id,
                authorization: assigned
                    .transaction
                    .is_authorized()
                    .then(|| crate::claim::Authorization::for_claim(claim_id)),
            }
        });
        CommitReceipt {
            transmission_id: u64::try_from(self.transmission_id).unwrap_or(0),
            transactions: transactions.collect(),
        }
    }
}

/// Declares a table's columns as one vector each, and the statement parameters in order.
macro_rules! columns {
    ($name:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Default)]
        struct $name<'a> {
            $($field: Vec<$ty>,)*
            _borrows: std::marker::PhantomData<&'a str>,
        }

        impl<'a> $name<'a> {
            fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
                vec![$(&self.$field as &(dyn ToSql + Sync)),*]
            }
        }
    };
}

columns!(Heads {
    patient_key: &'a str,
    expected: i64,
});

columns!(Rulesets {
    stamp: &'a str,
    at_ms: i64,
});

columns!(Reversals {
    id: i64,
    at_ms: i64,
    pharmacy_id: &'a str,
    rx_number: i64,
    fill_number: i32,
    date_of_service: PgDate,
});

columns!(Links {
    id: i64,
    reversed_by: i64,
});

columns!(Transmissions {
    id: i64,
    received_at_ms: i64,
    transaction_code: &'a str,
    bin: &'a str,
    pcn: &'a str,
    pharmacy_id: &'a str,
    patient_key: Option<&'a str>,
    transaction_count: i32,
});

columns!(Claims {
    id: i64,
    transmission_id: i64,
    transaction_index: i32,
    kind: &'a str,
    received_at_ms: i64,
    pharmacy_id: &'a str,
    patient_key: Option<&'a str>,
    patient_age_years: Option<i32>,
    rx_number: i64,
    fill_number: i32,
    product_qualifier: &'a str,
    product_id: &'a str,
    ndc: Option<String>,
    quantity_milli: i64,
    days_supply: i32,
    compound_code: i32,
    daw_code: Option<i32>,
    date_written: Option<PgDate>,
    date_of_service: PgDate,
    prescriber_id: &'a str,
    status: &'a str,
    authorization: Option<String>,
    ruleset: &'a str,
    message: Option<&'a str>,
    ingredient_cost_cents: Option<i64>,
    dispensing_fee_cents: Option<i64>,
    usual_and_customary_cents: Option<i64>,
    patient_paid_cents: Option<i64>,
    gross_amount_due_cents: Option<i64>,
    matched_claim_id: Option<i64>,
    reverses: Option<i64>,
});

columns!(Rejects {
    claim_id: i64,
    position: i32,
    code: &'a str,
});

columns!(Conflicts {
    id: i64,
    claim_id: i64,
    position: i32,
    edit: &'a str,
    rule_id: &'a str,
    reason: &'a str,
    severity: i32,
    action: &'a str,
    clinical_significance: i32,
    previous_fill_date: Option<PgDate>,
    previous_quantity_milli: Option<i64>,
    other_pharmacy: i32,
    other_prescriber: i32,
    message: &'a str,
    overridable: bool,
    overridden_by: Option<i32>,
    remembered_from: Option<PgDate>,
});

columns!(DurPpsRows {
    claim_id: i64,
    counter: i32,
    reason: Option<&'a str>,
    professional: Option<&'a str>,
    result: Option<&'a str>,
    level_of_effort: Option<i32>,
    co_agent_qualifier: Option<&'a str>,
    co_agent_id: Option<&'a str>,
    matched_conflict_id: Option<i64>,
    overrode: bool,
});

/// Every row of a batch (or of one record), column by column.
#[derive(Default)]
pub(super) struct Columns<'a> {
    heads: Heads<'a>,
    rulesets: Rulesets<'a>,
    reversals: Reversals<'a>,
    links: Links<'a>,
    transmissions: Transmissions<'a>,
    claims: Claims<'a>,
    rejects: Rejects<'a>,
    conflicts: Conflicts<'a>,
    dur_pps: DurPpsRows<'a>,
}

impl<'a> Columns<'a> {
    /// The rows of these records.
    pub fn of<'r>(records: impl IntoIterator<Item = &'r Assigned<'a>>) -> Columns<'a>
    where
        'a: 'r,
    {
        let mut columns = Columns::default();
        for assigned in records {
            columns.push(assigned);
        }
        columns
    }

    /// Reversals the batch makes (each must find its claim paid and unreversed).
    fn reversal_count(&self) -> u64 {
        self.reversals.id.len() as u64
    }

    fn push(&mut self, assigned: &Assigned<'a>) {
        let record = assigned.record;
        if let (Some(expected), Some(key), true) =
            (record.patient_head, &record.patient_key, record.pays())
        {
            self.heads.patient_key.push(key.as_str());
            self.heads.expected.push(expected);
        }
        let transmissions = &mut self.transmissions;
        transmissions.id.push(assigned.transmission_id);
        transmissions.received_at_ms.push(record.received_at_ms);
        transmissions
            .transaction_code
            .push(record.transaction_code.as_str());
        transmissions.bin.push(&record.bin);
        transmissions.pcn.push(&record.pcn);
        transmissions.pharmacy_id.push(&record.pharmacy_id);
        transmissions
            .patient_key
            .push(record.patient_key.as_ref().map(|key| key.as_str()));
        transmissions
            .transaction_count
            .push(record.transactions.len() as i32);
        for transaction in &assigned.transactions {
            self.push_transaction(assigned, transaction);
        }
    }

    fn push_transaction(&mut self, assigned: &Assigned<'a>, row: &AssignedTransaction<'a>) {
        let (record, transaction) = (assigned.record, row.transaction);
        self.push_ruleset(&transaction.ruleset, record.received_at_ms);
        if let Some(original) = transaction.reverses() {
            self.push_reversal(record, transaction, int8(original), row.claim_id);
        }
        self.push_claim(assigned, row);
        for (position, code) in (1i32..).zip(&transaction.reject_codes) {
            self.rejects.claim_id.push(row.claim_id);
            self.rejects.position.push(position);
            self.rejects.code.push(code.as_str());
        }
        self.push_conflicts(row);
        self.push_dur_pps(row);
    }

    /// One row per distinct stamp (a statement may not insert the same key twice).
    fn push_ruleset(&mut self, stamp: &'a str, at_ms: i64) {
        let rulesets = &mut self.rulesets;
        match rulesets.stamp.iter().position(|known| *known == stamp) {
            Some(seen) => {
                if let Some(first) = rulesets.at_ms.get_mut(seen) {
                    *first = (*first).min(at_ms);
                }
            }
            None => {
                rulesets.stamp.push(stamp);
                rulesets.at_ms.push(at_ms);
            }
        }
    }

    fn push_reversal(
        &mut self,
        record: &'a TransmissionRecord,
        transaction: &TransactionRecord,
        original: i64,
        reversed_by: i64,
    ) {
        let reversals = &mut self.reversals;
        reversals.id.push(original);
        reversals.at_ms.push(record.received_at_ms);
        reversals.pharmacy_id.push(&record.pharmacy_id);
        reversals.rx_number.push(int8(transaction.rx_number));
        reversals
            .fill_number
            .push(i32::from(transaction.fill_number));
        reversals
            .date_of_service
            .push(PgDate(transaction.date_of_service));
        self.links.id.push(original);
        self.links.reversed_by.push(reversed_by);
    }

    // A flat list of column pushes: one line per column of `claims`.
    fn push_claim(&mut self, assigned: &Assigned<'a>, row: &AssignedTransaction<'a>) {
        let (record, transaction) = (assigned.record, row.transaction);
        let claims = &mut self.claims;
        claims.id.push(row.claim_id);
        claims.transmission_id.push(assigned.transmission_id);
        claims.transaction_index.push(i32::from(transaction.index));
        claims.kind.push(transaction.kind.as_str());
        claims.received_at_ms.push(record.received_at_ms);
        claims.pharmacy_id.push(&record.pharmacy_id);
        let patient_key = record.patient_key.as_ref().map(|key| key.as_str());
        claims.patient_key.push(patient_key);
        claims
            .patient_age_years
            .push(record.patient_age_years.map(i32::from));
        claims.rx_number.push(int8(transaction.rx_number));
        claims.fill_number.push(i32::from(transaction.fill_number));
        claims
            .product_qualifier
            .push(&transaction.product_qualifier);
        claims.product_id.push(&transaction.product_id);
        claims.ndc.push(transaction.ndc.map(|ndc| ndc.to_string()));
        claims.quantity_milli.push(int8(transaction.quantity_milli));
        claims.days_supply.push(i32::from(transaction.days_supply));
        claims
            .compound_code
            .push(i32::from(transaction.compound_code));
        claims.daw_code.push(transaction.daw_code.map(i32::from));
        claims
            .date_written
            .push(transaction.date_written.map(PgDate));
        claims
            .date_of_service
            .push(PgDate(transaction.date_of_service));
        claims.prescriber_id.push(&transaction.prescriber_id);
        claims.status.push(transaction.status.as_str());
        let claim_id = u64::try_from(row.claim_id).unwrap_or(0);
        let authorization = transaction
            .is_authorized()
            .then(|| crate::claim::Authorization::for_claim(claim_id).to_string());
        claims.authorization.push(authorization);
        claims.ruleset.push(&transaction.ruleset);
        claims.message.push(transaction.message.as_deref());
        claims
            .ingredient_cost_cents
            .push(transaction.ingredient_cost_cents);
        claims
            .dispensing_fee_cents
            .push(transaction.dispensing_fee_cents);
        claims
            .usual_and_customary_cents
            .push(transaction.usual_and_customary_cents);
        claims
            .patient_paid_cents
            .push(transaction.patient_paid_cents);
        claims
            .gross_amount_due_cents
            .push(transaction.gross_amount_due_cents);
        claims
            .matched_claim_id
            .push(transaction.kind.matched_claim_id().map(int8));
        claims.reverses.push(transaction.reverses().map(int8));
    }

    // A flat list of column pushes: one line per column of `conflicts`.
    fn push_conflicts(&mut self, row: &AssignedTransaction<'a>) {
        let conflicts = &mut self.conflicts;
        let numbered = row.transaction.conflicts.iter().zip(&row.conflict_ids);
        for (position, (conflict, id)) in (1i32..).zip(numbered) {
            conflicts.id.push(*id);
            conflicts.claim_id.push(row.claim_id);
            conflicts.position.push(position);
            conflicts.edit.push(conflict.edit.as_str());
            conflicts.rule_id.push(&conflict.rule_id);
            conflicts.reason.push(conflict.reason.as_str());
            conflicts.severity.push(i32::from(conflict.severity));
            conflicts.action.push(action_name(conflict.action));
            conflicts
                .clinical_significance
                .push(i32::from(conflict.clinical_significance));
            conflicts
                .previous_fill_date
                .push(conflict.previous_fill_date.map(PgDate));
            conflicts
                .previous_quantity_milli
                .push(conflict.previous_quantity_milli.map(int8));
            conflicts
                .other_pharmacy
                .push(i32::from(conflict.other_pharmacy));
            conflicts
                .other_prescriber
                .push(i32::from(conflict.other_prescriber));
            conflicts.message.push(&conflict.message);
            conflicts.overridable.push(conflict.overridable);
            conflicts
                .overridden_by
                .push(conflict.overridden_by.map(i32::from));
            conflicts
                .remembered_from
                .push(conflict.remembered_from.map(PgDate));
        }
    }

    fn push_dur_pps(&mut self, row: &AssignedTransaction<'a>) {
        let transaction = row.transaction;
        let matches = transaction.dur_pps_matches();
        for (occurrence, matched) in transaction.dur_pps.iter().zip(matches) {
            let conflict_id = matched
                .conflict
                .and_then(|position| row.conflict_ids.get(position));
            let dur_pps = &mut self.dur_pps;
            dur_pps.claim_id.push(row.claim_id);
            dur_pps.counter.push(i32::from(occurrence.counter));
            dur_pps.reason.push(occurrence.reason.as_ref().map(code));
            dur_pps
                .professional
                .push(occurrence.professional.as_ref().map(code));
            dur_pps.result.push(occurrence.result.as_ref().map(code));
            dur_pps
                .level_of_effort
                .push(occurrence.level_of_effort.map(i32::from));
            dur_pps
                .co_agent_qualifier
                .push(occurrence.co_agent_qualifier.as_deref());
            dur_pps.co_agent_id.push(occurrence.co_agent_id.as_deref());
            dur_pps.matched_conflict_id.push(conflict_id.copied());
            dur_pps.overrode.push(matched.overrode);
        }
    }
}

fn code(code: &crate::claim::Code2) -> &str {
    code.as_str()
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Reject => "reject",
        Action::Warn => "warn",
    }
}

/// Advances each paying record's patient head from the version its history was read at: a
/// new patient's row is inserted at 1, a known one's raised by one only while it still holds
/// the version read. A head another node advanced meanwhile is left alone, so fewer rows than
/// records count as written. Keys in byte order (as `one_by_one` writes records), so two
/// batches lock shared heads in one order.
const HEADS_SQL: &str = "INSERT INTO patient_heads AS h (patient_key, version) \
     SELECT k, e + 1 FROM unnest($1::text[], $2::bigint[]) AS u (k, e) ORDER BY k COLLATE \"C\" \
     ON CONFLICT (patient_key) DO UPDATE SET version = h.version + 1 \
     WHERE h.version = EXCLUDED.version - 1";

const RULESETS_SQL: &str = "INSERT INTO rulesets (stamp, first_seen_ms, last_seen_ms) \
     SELECT stamp, at_ms, at_ms FROM unnest($1::text[], $2::bigint[]) AS u (stamp, at_ms) \
     ON CONFLICT (stamp) DO NOTHING";

const LOCK_SQL: &str = "SELECT id FROM claims WHERE id = ANY ($1::bigint[]) ORDER BY id FOR UPDATE";

const MARK_SQL: &str = "UPDATE claims AS c SET reversed_at_ms = u.at_ms \
     FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::int[], $6::date[]) \
     AS u (id, at_ms, pharmacy_id, rx_number, fill_number, date_of_service) \
     WHERE c.id = ANY ($1::bigint[]) AND c.id = u.id \
     AND c.status = 'paid' AND c.reversed_at_ms IS NULL \
     AND c.pharmacy_id = u.pharmacy_id AND c.rx_number = u.rx_number \
     AND c.fill_number = u.fill_number AND c.date_of_service = u.date_of_service";

const TRANSMISSIONS_SQL: &str = "INSERT INTO transmissions (id, received_at_ms, \
     transaction_code, bin, pcn, pharmacy_id, patient_key, transaction_count) \
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::text[], $8::int[])";

const CLAIMS_SQL: &str = "INSERT INTO claims (id, transmission_id, transaction_index, kind, \
     received_at_ms, pharmacy_id, patient_key, patient_age_years, rx_number, fill_number, \
     product_qualifier, product_id, ndc, quantity_milli, days_supply, compound_code, daw_code, \
     date_written, date_of_service, prescriber_id, status, \"authorization\", ruleset, message, \
     ingredient_cost_cents, dispensing_fee_cents, usual_and_customary_cents, \
     patient_paid_cents, gross_amount_due_cents, matched_claim_id, reverses) \
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::bigint[], \
     $6::text[], $7::text[], $8::int[], $9::bigint[], $10::int[], $11::text[], $12::text[], \
     $13::text[], $14::bigint[], $15::int[], $16::int[], $17::int[], $18::date[], $19::date[], \
     $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::bigint[], \
     $26::bigint[], $27::bigint[], $28::bigint[], $29::bigint[], $30::bigint[], $31::bigint[]) \
     AS u (id, transmission_id, transaction_index, kind, received_at_ms, pharmacy_id, \
     patient_key, patient_age_years, rx_number, fill_number, product_qualifier, product_id, \
     ndc, quantity_milli, days_supply, compound_code, daw_code, date_written, date_of_service, \
     prescriber_id, status, authorization_number, ruleset, message, ingredient_cost_cents, \
     dispensing_fee_cents, usual_and_customary_cents, patient_paid_cents, \
     gross_amount_due_cents, matched_claim_id, reverses) \
     ORDER BY pharmacy_id, rx_number, fill_number, date_of_service, id";

const LINKS_SQL: &str = "UPDATE claims AS c SET reversed_by = u.reversed_by \
     FROM unnest($1::bigint[], $2::bigint[]) AS u (id, reversed_by) \
     WHERE c.id = ANY ($1::bigint[]) AND c.id = u.id";

const REJECTS_SQL: &str = "INSERT INTO claim_reject_codes (claim_id, position, code) \
     SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[])";

const CONFLICTS_SQL: &str = "INSERT INTO conflicts (id, claim_id, position, edit, rule_id, \
     reason, severity, action, clinical_significance, previous_fill_date, \
     previous_quantity_milli, other_pharmacy, other_prescriber, message, overridable, \
     overridden_by, remembered_from) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], \
     $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::int[], $10::date[], \
     $11::bigint[], $12::int[], $13::int[], $14::text[], $15::boolean[], $16::int[], \
     $17::date[])";

const DUR_PPS_SQL: &str = "INSERT INTO dur_pps (claim_id, counter, reason, professional, \
     result, level_of_effort, co_agent_qualifier, co_agent_id, matched_conflict_id, overrode) \
     SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], \
     $6::int[], $7::text[], $8::text[], $9::bigint[], $10::boolean[])";

/// Why a batch (or one record) was not written.
#[derive(Debug)]
pub(super) enum Failure {
    /// The server refused a statement over the rows themselves (unique index, data exception,
    /// deadlock or serialization race): roll back and retry record by record.
    Refused(tokio_postgres::Error),
    /// A reversal did not find its claim paid and unreversed (reversed meanwhile on another
    /// node, or never paid): roll back and retry record by record.
    ReversalMissed,
    /// The server cannot take writes now, whatever the rows (another session's lock past the
    /// lock timeout, disk full, read-only, cancelled, shutting down): the whole batch fails,
    /// and so does readiness until a probe commits again.
    Unwritable(tokio_postgres::Error),
    /// Another node paid a claim of a patient since this batch's history of that patient was
    /// read (its head moved on): roll back and retry record by record.
    HeadMoved,
    /// The connection failed: the outcome of the open transaction is lost with it.
    Lost(tokio_postgres::Error),
}

/// SQLSTATE classes that refuse a statement over its rows: 21 cardinality violation (one
/// patient's head twice in a batch), 22 data exception, 23 integrity constraint violation, 40
/// transaction rollback (deadlock, serialization failure).
const ROW_REFUSAL_CLASSES: [&str; 4] = ["21", "22", "23", "40"];

impl Failure {
    pub fn of(error: tokio_postgres::Error) -> Failure {
        let Some(db) = error.as_db_error() else {
            return Failure::Lost(error);
        };
        let class = db.code().code().get(..2).unwrap_or_default();
        if ROW_REFUSAL_CLASSES.contains(&class) {
            Failure::Refused(error)
        } else {
            Failure::Unwritable(error)
        }
    }
}

/// The batch's prepared statements (cached per connection by the pool).
struct Statements {
    heads: tokio_postgres::Statement,
    rulesets: tokio_postgres::Statement,
    lock: tokio_postgres::Statement,
    mark: tokio_postgres::Statement,
    transmissions: tokio_postgres::Statement,
    claims: tokio_postgres::Statement,
    links: tokio_postgres::Statement,
    rejects: tokio_postgres::Statement,
    conflicts: tokio_postgres::Statement,
    dur_pps: tokio_postgres::Statement,
}

impl Statements {
    /// Prepares each statement once per connection (the pool caches them), so only a new
    /// connection's first batch pays these round trips.
    async fn prepare(client: &deadpool_postgres::Client) -> Result<Statements, Failure> {
        let prepare = |sql| async move { client.prepare_cached(sql).await.map_err(Failure::of) };
        Ok(Statements {
            heads: prepare(HEADS_SQL).await?,
            rulesets: prepare(RULESETS_SQL).await?,
            lock: prepare(LOCK_SQL).await?,
            mark: prepare(MARK_SQL).await?,
            transmissions: prepare(TRANSMISSIONS_SQL).await?,
            claims: prepare(CLAIMS_SQL).await?,
            links: prepare(LINKS_SQL).await?,
            rejects: prepare(REJECTS_SQL).await?,
            conflicts: prepare(CONFLICTS_SQL).await?,
            dur_pps: prepare(DUR_PPS_SQL).await?,
        })
    }
}

/// Opens a transaction or savepoint with `open` and writes every row of `columns` in one
/// pipelined round trip. On `Ok` the caller commits (or releases); on `Err` it rolls back.
pub(super) async fn write(
    client: &deadpool_postgres::Client,
    open: &str,
    columns: &Columns<'_>,
) -> Result<(), Failure> {
    let statements = Statements::prepare(client).await?;
    let pg: &Client = client;
    let (rulesets, reversals) = (columns.rulesets.params(), columns.reversals.params());
    let (transmissions, claims) = (columns.transmissions.params(), columns.claims.params());
    let (links, rejects) = (columns.links.params(), columns.rejects.params());
    let (conflicts, dur_pps) = (columns.conflicts.params(), columns.dur_pps.params());
    let originals: [&(dyn ToSql + Sync); 1] = [&columns.reversals.id];
    let reversing = !columns.reversals.id.is_empty();
    let heads = columns.heads.params();
    let heads_expected = columns.heads.patient_key.len() as u64;
    let results = futures::join!(
        pg.batch_execute(open),
        when(heads_expected > 0, pg.execute(&statements.heads, &heads)),
        pg.execute(&statements.rulesets, &rulesets),
        when(reversing, pg.execute(&statements.lock, &originals)),
        when(reversing, pg.execute(&statements.mark, &reversals)),
        pg.execute(&statements.transmissions, &transmissions),
        pg.execute(&statements.claims, &claims),
        when(reversing, pg.execute(&statements.links, &links)),
        when(
            !columns.rejects.claim_id.is_empty(),
            pg.execute(&statements.rejects, &rejects)
        ),
        when(
            !columns.conflicts.id.is_empty(),
            pg.execute(&statements.conflicts, &conflicts)
        ),
        when(
            !columns.dur_pps.claim_id.is_empty(),
            pg.execute(&statements.dur_pps, &dur_pps)
        ),
    );
    let (opened, advanced, r1, r2, marked, r4, r5, linked, r7, r8, r9) = results;
    let expected = columns.reversal_count();
    let missed = [&marked, &linked]
        .iter()
        .any(|count| matches!(count, Ok(rows) if *rows != expected));
    let moved = matches!(advanced, Ok(rows) if rows != heads_expected);
    first_failure(
        opened,
        [advanced, r1, r2, marked, r4, r5, linked, r7, r8, r9],
    )?;
    if moved {
        return Err(Failure::HeadMoved);
    }
    if missed {
        return Err(Failure::ReversalMissed);
    }
    Ok(())
}

/// A statement sent only when it has rows to write (an unpolled statement future sends
/// nothing); otherwise zero rows at once.
fn when<F>(needed: bool, statement: F) -> Either<Ready<Result<u64, tokio_postgres::Error>>, F>
where
    F: std::future::Future<Output = Result<u64, tokio_postgres::Error>>,
{
    match needed {
        true => Either::Right(statement),
        false => Either::Left(futures::future::ready(Ok(0))),
    }
}

/// The error that caused the others (statements after a failed one of the same transaction
/// only report the aborted transaction, SQLSTATE 25P02).
fn first_failure(
    opened: Result<(), tokio_postgres::Error>,
    counts: [Result<u64, tokio_postgres::Error>; 10],
) -> Result<(), Failure> {
    let later = counts.into_iter().filter_map(Result::err);
    let mut aborted = None;
    for error in opened.err().into_iter().chain(later) {
        let code = error.code().map(|code| code.code());
        if code != Some(IN_FAILED_TRANSACTION) {
            return Err(Failure::of(error));
        }
        aborted.get_or_insert(error);
    }
    aborted.map_or(Ok(()), |error| Err(Failure::of(error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server error whose DETAIL quotes a row value is described without it.
    #[test]
    fn errors_are_described_without_the_servers_detail() {
        let url = std::env::var("DURGATE_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let described = runtime.block_on(async {
            let (client, connection) = match tokio_postgres::connect(&url, tokio_postgres::NoTls).await
            {
                Ok(connected) => connected,
                Err(error) => return Err(describe(&error)),
            };
            tokio::spawn(connection);
            let sql = "CREATE TEMP TABLE phi (key text PRIMARY KEY); \
                       INSERT INTO phi VALUES ('ZZ123456789'); INSERT INTO phi VALUES ('ZZ123456789')";
            let error = client.batch_execute(sql).await.err();
            Ok(error.map(|error| (describe(&error), format!("{:?}", error.as_db_error()))))
        });
        let (shown, full) = match described {
            Ok(Some(described)) => described,
            Ok(None) => panic!("the second insert was not refused"),
            Err(reason) => {
                return crate::test_skip::skip(&format!("no PostgreSQL server ({reason})"))
            }
        };
        assert!(
            full.contains("ZZ123456789"),
            "the server's DETAIL quotes the key: {full}"
        );
        assert!(shown.starts_with("23505 duplicate key value"), "{shown}");
        assert!(!shown.contains("ZZ123456789"), "{shown}");
    }

    #[test]
    fn dates_cross_the_epochs_both_ways() {
        let mut out = BytesMut::new();
        let date = Date::from_ymd(2000, 1, 1).unwrap();
        PgDate(date).to_sql(&Type::DATE, &mut out).unwrap();
        assert_eq!(&out[..], &[0, 0, 0, 0]);
        let later = Date::from_ymd(2025, 3, 1).unwrap();
        out.clear();
        PgDate(later).to_sql(&Type::DATE, &mut out).unwrap();
        assert_eq!(PgDate::from_sql(&Type::DATE, &out).unwrap(), PgDate(later));
        let infinity = i32::MAX.to_be_bytes();
        assert!(PgDate::from_sql(&Type::DATE, &infinity).is_err());
        assert!(PgDate::from_sql(&Type::DATE, &[0, 0]).is_err());
    }
}
