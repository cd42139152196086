//! One transmission record written as rows, inside the writer's per-transmission savepoint.
//!
//! Called only by the writer thread, which owns the write transaction. Each function runs one
//! cached statement. Must never commit, open connections or look at the queue.

use crate::claim::{Action, Authorization, Code2, Conflict, Date, DurPps, Status};
use crate::store::record::{TransactionRecord, TransmissionRecord};
use crate::store::{CommitReceipt, CommittedTransaction, StoreError};
use rusqlite::{named_params, Connection, OptionalExtension};

/// Writes a transmission and its recorded transactions; the caller rolls back on `Err`.
pub(super) fn write_transmission(
    conn: &Connection,
    record: &TransmissionRecord,
) -> Result<CommitReceipt, StoreError> {
    let transmission_id = insert_transmission(conn, record)?;
    let recorded = record
        .transactions
        .iter()
        .filter(|transaction| transaction.is_recorded());
    let mut transactions = Vec::with_capacity(record.transactions.len());
    for transaction in recorded {
        transactions.push(write_transaction(
            conn,
            record,
            transmission_id,
            transaction,
        )?);
    }
    Ok(CommitReceipt {
        transmission_id: id_u64(transmission_id),
        transactions,
    })
}

fn write_transaction(
    conn: &Connection,
    record: &TransmissionRecord,
    transmission_id: i64,
    transaction: &TransactionRecord,
) -> Result<CommittedTransaction, StoreError> {
    touch_ruleset(conn, &transaction.ruleset, record.received_at_ms)?;
    let reverses = mark_reversed(conn, record, transaction)?;
    if transaction.status == Status::Paid {
        refuse_second_paid(conn, record, transmission_id, transaction)?;
    }
    let claim_id = next_claim_id(conn)?;
    let authorization = transaction
        .is_authorized()
        .then(|| Authorization::for_claim(id_u64(claim_id)));
    insert_claim(
        conn,
        record,
        transmission_id,
        transaction,
        reverses,
        (claim_id, authorization),
    )?;
    if let Some(original) = reverses {
        link_reversal(conn, original, claim_id)?;
    }
    insert_reject_codes(conn, claim_id, transaction)?;
    insert_conflicts_and_dur_pps(conn, claim_id, transaction)?;
    Ok(CommittedTransaction {
        index: transaction.index,
        claim_id: id_u64(claim_id),
        authorization,
    })
}

/// Row ids are positive `i64`s.
fn id_u64(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

fn iso(date: Date) -> String {
    date.to_string()
}

fn code(code: Option<Code2>) -> Option<String> {
    code.map(|code| code.as_str().to_owned())
}

fn insert_transmission(conn: &Connection, record: &TransmissionRecord) -> rusqlite::Result<i64> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO transmissions (received_at_ms, transaction_code, bin, pcn, pharmacy_id, \
         patient_key, transaction_count) VALUES (:received_at_ms, :transaction_code, :bin, :pcn, \
         :pharmacy_id, :patient_key, :transaction_count)",
    )?;
    statement.execute(named_params! {
        ":received_at_ms": record.received_at_ms,
        ":transaction_code": record.transaction_code.as_str(),
        ":bin": record.bin,
        ":pcn": record.pcn,
        ":pharmacy_id": record.pharmacy_id,
        ":patient_key": record.patient_key.as_ref().map(|key| key.as_str()),
        ":transaction_count": record.transactions.len(),
    })?;
    Ok(conn.last_insert_rowid())
}

fn touch_ruleset(conn: &Connection, stamp: &str, at_ms: i64) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO rulesets (stamp, first_seen_ms, last_seen_ms) VALUES (:stamp, :at, :at) \
         ON CONFLICT (stamp) DO UPDATE SET \
         first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), \
         last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
    )?;
    statement.execute(named_params! { ":stamp": stamp, ":at": at_ms })?;
    Ok(())
}

/// Marks the claim an approved B2 or a paid B3 reverses, after checking it is a paid,
/// unreversed claim of the same pharmacy, Rx, fill and date of service.
fn mark_reversed(
    conn: &Connection,
    record: &TransmissionRecord,
    transaction: &TransactionRecord,
) -> Result<Option<i64>, StoreError> {
    let Some(original) = transaction.reverses() else {
        return Ok(None);
    };
    let (index, claim_id) = (transaction.index, original);
    let not_reversible = StoreError::NotReversible { index, claim_id };
    let Ok(id) = i64::try_from(original) else {
        return Err(not_reversible);
    };
    match reversal_state(conn, record, transaction, id)? {
        None => Err(not_reversible),
        Some(Some(_)) => Err(StoreError::AlreadyReversed { index, claim_id }),
        Some(None) => {
            let mut statement =
                conn.prepare_cached("UPDATE claims SET reversed_at_ms = :at WHERE id = :id")?;
            statement.execute(named_params! { ":at": record.received_at_ms, ":id": id })?;
            Ok(Some(id))
        }
    }
}

/// `None`: no such paid claim; `Some(reversed_at_ms)` otherwise.
fn reversal_state(
    conn: &Connection,
    record: &TransmissionRecord,
    transaction: &TransactionRecord,
    id: i64,
) -> rusqlite::Result<Option<Option<i64>>> {
    let mut statement = conn.prepare_cached(
        "SELECT reversed_at_ms FROM claims WHERE id = :id AND status = 'paid' \
         AND pharmacy_id = :pharmacy_id AND rx_number = :rx_number \
         AND fill_number = :fill_number AND date_of_service = :date_of_service",
    )?;
    let params = named_params! {
        ":id": id,
        ":pharmacy_id": record.pharmacy_id,
        ":rx_number": transaction.rx_number,
        ":fill_number": transaction.fill_number,
        ":date_of_service": iso(transaction.date_of_service),
    };
    statement.query_row(params, |row| row.get(0)).optional()
}

/// Refuses a second paid, unreversed claim for the same pharmacy, Rx, fill and date of service
/// (two identical requests that raced past the history, a switch retrying on timeout...).
/// Rows of this same transmission are never the "original": they roll back with it, so the
/// answer would carry an authorization never committed. A repeat inside one transmission meets
/// the unique index `claims_paid_once` instead and fails the transmission (99).
fn refuse_second_paid(
    conn: &Connection,
    record: &TransmissionRecord,
    transmission_id: i64,
    transaction: &TransactionRecord,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, product_id FROM claims WHERE pharmacy_id = :pharmacy_id \
         AND rx_number = :rx_number AND fill_number = :fill_number \
         AND date_of_service = :date_of_service AND status = 'paid' AND reversed_at_ms IS NULL \
         AND transmission_id <> :transmission_id",
    )?;
    let params = named_params! {
        ":transmission_id": transmission_id,
        ":pharmacy_id": record.pharmacy_id,
        ":rx_number": transaction.rx_number,
        ":fill_number": transaction.fill_number,
        ":date_of_service": iso(transaction.date_of_service),
    };
    let paid = statement
        .query_row(params, |row| Ok((row.get::<_, i64>(0)?, row.get(1)?)))
        .optional()?;
    let Some((id, product_id)) = paid else {
        return Ok(());
    };
    let claim_id = id_u64(id);
    let authorization = Authorization::for_claim(claim_id);
    Err(StoreError::AlreadyPaid {
        index: transaction.index,
        claim_id,
        authorization,
        product_id,
    })
}

fn insert_claim(
    conn: &Connection,
    record: &TransmissionRecord,
    transmission_id: i64,
    transaction: &TransactionRecord,
    reverses: Option<i64>,
    (claim_id, authorization): (i64, Option<Authorization>),
) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO claims (id, authorization, transmission_id, transaction_index, kind, received_at_ms, \
         pharmacy_id, patient_key, patient_age_years, rx_number, fill_number, product_qualifier, \
         product_id, ndc, quantity_milli, days_supply, compound_code, daw_code, date_written, \
         date_of_service, prescriber_id, status, ruleset, message, ingredient_cost_cents, \
         dispensing_fee_cents, usual_and_customary_cents, patient_paid_cents, \
         gross_amount_due_cents, matched_claim_id, reverses) VALUES (:id, :authorization, :transmission_id, \
         :transaction_index, :kind, :received_at_ms, :pharmacy_id, :patient_key, \
         :patient_age_years, :rx_number, :fill_number, :product_qualifier, :product_id, :ndc, \
         :quantity_milli, :days_supply, :compound_code, :daw_code, :date_written, \
         :date_of_service, :prescriber_id, :status, :ruleset, :message, :ingredient_cost_cents, \
         :dispensing_fee_cents, :usual_and_customary_cents, :patient_paid_cents, \
         :gross_amount_due_cents, :matched_claim_id, :reverses)",
    )?;
    statement.execute(named_params! {
        ":id": claim_id,
        ":authorization": authorization.map(|number| number.to_string()),
        ":transmission_id": transmission_id,
        ":transaction_index": transaction.index,
        ":kind": transaction.kind.as_str(),
        ":received_at_ms": record.received_at_ms,
        ":pharmacy_id": record.pharmacy_id,
        ":patient_key": record.patient_key.as_ref().map(|key| key.as_str()),
        ":patient_age_years": record.patient_age_years,
        ":rx_number": transaction.rx_number,
        ":fill_number": transaction.fill_number,
        ":product_qualifier": transaction.product_qualifier,
        ":product_id": transaction.product_id,
        ":ndc": transaction.ndc.map(|ndc| ndc.to_string()),
        ":quantity_milli": transaction.quantity_milli,
        ":days_supply": transaction.days_supply,
        ":compound_code": transaction.compound_code,
        ":daw_code": transaction.daw_code,
        ":date_written": transaction.date_written.map(iso),
        ":date_of_service": iso(transaction.date_of_service),
        ":prescriber_id": transaction.prescriber_id,
        ":status": transaction.status.as_str(),
        ":ruleset": &*transaction.ruleset,
        ":message": transaction.message,
        ":ingredient_cost_cents": transaction.ingredient_cost_cents,
        ":dispensing_fee_cents": transaction.dispensing_fee_cents,
        ":usual_and_customary_cents": transaction.usual_and_customary_cents,
        ":patient_paid_cents": transaction.patient_paid_cents,
        ":gross_amount_due_cents": transaction.gross_amount_due_cents,
        ":matched_claim_id": transaction.kind.matched_claim_id(),
        ":reverses": reverses,
    })?;
    Ok(())
}

/// The id the next claim row gets. The writer holds the write lock for the whole batch, so
/// nobody else can take it; assigning it up front lets the row carry its authorization number
/// from the start instead of a second update per paid claim.
fn next_claim_id(conn: &Connection) -> rusqlite::Result<i64> {
    let mut statement = conn.prepare_cached(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'claims'), 0), \
         COALESCE((SELECT MAX(id) FROM claims), 0)) + 1",
    )?;
    statement.query_row([], |row| row.get(0))
}

fn link_reversal(conn: &Connection, original: i64, reversed_by: i64) -> rusqlite::Result<()> {
    let mut statement =
        conn.prepare_cached("UPDATE claims SET reversed_by = :reversed_by WHERE id = :id")?;
    statement.execute(named_params! { ":reversed_by": reversed_by, ":id": original })?;
    Ok(())
}

fn insert_reject_codes(
    conn: &Connection,
    claim_id: i64,
    transaction: &TransactionRecord,
) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO claim_reject_codes (claim_id, position, code) \
         VALUES (:claim_id, :position, :code)",
    )?;
    for (position, reject) in (1u32..).zip(&transaction.reject_codes) {
        statement.execute(named_params! {
            ":claim_id": claim_id,
            ":position": position,
            ":code": reject.as_str(),
        })?;
    }
    Ok(())
}

fn insert_conflicts_and_dur_pps(
    conn: &Connection,
    claim_id: i64,
    transaction: &TransactionRecord,
) -> rusqlite::Result<()> {
    let mut conflict_ids = Vec::with_capacity(transaction.conflicts.len());
    for (position, conflict) in (1u32..).zip(&transaction.conflicts) {
        conflict_ids.push(insert_conflict(conn, claim_id, position, conflict)?);
    }
    let matches = transaction.dur_pps_matches();
    for (occurrence, matched) in transaction.dur_pps.iter().zip(matches) {
        let conflict_id = matched
            .conflict
            .and_then(|position| conflict_ids.get(position));
        insert_dur_pps(
            conn,
            claim_id,
            occurrence,
            conflict_id.copied(),
            matched.overrode,
        )?;
    }
    Ok(())
}

fn insert_conflict(
    conn: &Connection,
    claim_id: i64,
    position: u32,
    conflict: &Conflict,
) -> rusqlite::Result<i64> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO conflicts (claim_id, position, edit, rule_id, reason, severity, action, \
         clinical_significance, previous_fill_date, previous_quantity_milli, other_pharmacy, \
         other_prescriber, message, overridable, overridden_by, remembered_from) VALUES \
         (:claim_id, :position, :edit, :rule_id, :reason, :severity, :action, \
         :clinical_significance, :previous_fill_date, :previous_quantity_milli, :other_pharmacy, \
         :other_prescriber, :message, :overridable, :overridden_by, :remembered_from)",
    )?;
    statement.execute(named_params! {
        ":claim_id": claim_id,
        ":position": position,
        ":edit": conflict.edit.as_str(),
        ":rule_id": conflict.rule_id,
        ":reason": conflict.reason.as_str(),
        ":severity": conflict.severity,
        ":action": action_name(conflict.action),
        ":clinical_significance": conflict.clinical_significance,
        ":previous_fill_date": conflict.previous_fill_date.map(iso),
        ":previous_quantity_milli": conflict.previous_quantity_milli,
        ":other_pharmacy": conflict.other_pharmacy,
        ":other_prescriber": conflict.other_prescriber,
        ":message": conflict.message,
        ":overridable": conflict.overridable,
        ":overridden_by": conflict.overridden_by,
        ":remembered_from": conflict.remembered_from.map(iso),
    })?;
    Ok(conn.last_insert_rowid())
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Reject => "reject",
        Action::Warn => "warn",
    }
}

fn insert_dur_pps(
    conn: &Connection,
    claim_id: i64,
    occurrence: &DurPps,
    matched_conflict_id: Option<i64>,
    overrode: bool,
) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO dur_pps (claim_id, counter, reason, professional, result, level_of_effort, \
         co_agent_qualifier, co_agent_id, matched_conflict_id, overrode) VALUES (:claim_id, \
         :counter, :reason, :professional, :result, :level_of_effort, :co_agent_qualifier, \
         :co_agent_id, :matched_conflict_id, :overrode)",
    )?;
    statement.execute(named_params! {
        ":claim_id": claim_id,
        ":counter": occurrence.counter,
        ":reason": code(occurrence.reason),
        ":professional": code(occurrence.professional),
        ":result": code(occurrence.result),
        ":level_of_effort": occurrence.level_of_effort,
        ":co_agent_qualifier": occurrence.co_agent_qualifier,
        ":co_agent_id": occurrence.co_agent_id,
        ":matched_conflict_id": matched_conflict_id,
        ":overrode": overrode,
    })?;
    Ok(())
}
