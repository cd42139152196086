//! Every numeric bound of the gateway, in one place.
//!
//! Tier 0: imported by every other module, imports nothing. Each constant names what it bounds
//! with its unit last (`frame_bytes_max`, `read_timeout`). Relations between bounds are asserted
//! at compile time at the bottom of the file. Configuration may *lower* a bound, never raise it
//! beyond the value here.
//!
//! Must never: read the environment, the clock or a file; hold anything but constants.

use std::time::Duration;

// ---- wire ----------------------------------------------------------------------------------

/// Largest frame payload (the D.0 transmission between STX and ETX, or after the length
/// prefix) the gateway accepts. Configuration may lower it.
pub const FRAME_BYTES_MAX: usize = 8 * 1024;
/// Smallest frame limit configuration may set: a request header alone is 56 bytes.
pub const FRAME_BYTES_MIN: usize = 64;
/// Bytes outside STX..ETX skipped in a row before the connection is closed as garbage.
pub const FRAME_GARBAGE_BYTES_MAX: usize = 64 * 1024;

// ---- ncpdp ---------------------------------------------------------------------------------

/// Request header width (bytes, fixed).
pub const REQUEST_HEADER_BYTES: usize = 56;
/// Response header width (bytes, fixed).
pub const RESPONSE_HEADER_BYTES: usize = 31;
/// Transactions (groups) in one transmission.
pub const TRANSACTIONS_MAX: usize = 4;
/// Segments in one group (transmission level or one transaction); AM01..AM29 appear once each.
pub const SEGMENTS_PER_GROUP_MAX: usize = 16;
/// Fields in one segment, repeats included (compound with 25 ingredients × 6 fields fits).
pub const FIELDS_PER_SEGMENT_MAX: usize = 256;
/// DUR/PPS occurrences (473-7E counter) in one request segment, and 567-J6 in a response.
pub const DUR_PPS_OCCURRENCES_MAX: usize = 9;
/// Submission clarification codes (354-NX count).
pub const CLARIFICATION_CODES_MAX: usize = 3;
/// COB other payers (337-4C count).
pub const COB_PAYERS_MAX: usize = 9;
/// Per-payer repeats inside COB (amount paid, reject codes, patient responsibility, stages).
pub const COB_PAYER_REPEATS_MAX: usize = 20;
/// Compound ingredients (447-EC count).
pub const COMPOUND_INGREDIENTS_MAX: usize = 99;
/// Pricing other amounts claimed (478-H7 count).
pub const PRICING_OTHER_AMOUNTS_MAX: usize = 9;
/// Reject codes (510-FA count) the gateway sends or reads in one Response Status segment.
pub const REJECT_CODES_MAX: usize = 20;
/// Problems collected for one transmission before validation stops collecting.
pub const PROBLEMS_PER_TRANSMISSION_MAX: usize = 64;
/// Width of 544-FY DUR free text message.
pub const DUR_MESSAGE_BYTES_MAX: usize = 30;
/// Width of 570-NS DUR additional text.
pub const DUR_ADDITIONAL_TEXT_BYTES_MAX: usize = 100;
/// Width of 504-F4 response message.
pub const RESPONSE_MESSAGE_BYTES_MAX: usize = 200;
/// Additional message lines (130-UF count of 132-UH/526-FQ) in one Response Status segment.
pub const ADDITIONAL_MESSAGES_MAX: usize = 9;
/// Width of 526-FQ additional message information.
pub const ADDITIONAL_MESSAGE_BYTES_MAX: usize = 40;
/// Bytes of one file `durgate decode` reads (one transmission or many STX/ETX frames).
pub const DECODE_FILE_BYTES_MAX: usize = 64 * 1024 * 1024;

// ---- rules ---------------------------------------------------------------------------------

/// Rows in one rule-table CSV file.
pub const RULE_TABLE_ROWS_MAX: usize = 2_000_000;
/// Bytes of one rule-table file.
pub const RULE_TABLE_FILE_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Errors reported for one refused rule-table folder (the rest are counted, not listed).
pub const RULE_TABLE_ERRORS_MAX: usize = 200;
/// Ingredients in one combination product.
pub const PRODUCT_INGREDIENTS_MAX: usize = 8;
/// Conflicts raised on one transaction (each becomes a 567-J6 occurrence; extra are dropped
/// from the reply but recorded).
pub const CONFLICTS_PER_TRANSACTION_MAX: usize = 32;
/// Debounce window of the rule-folder watch.
pub const RULES_WATCH_DEBOUNCE: Duration = Duration::from_millis(500);
/// Whole years an age in a rule table may reach (dose bands, age limits, acetaminophen bands).
pub const AGE_YEARS_MAX: u32 = 150;
/// Bands of `[edits.acetaminophen] max_daily_mg_by_age`.
pub const ACETAMINOPHEN_AGE_BANDS_MAX: usize = 32;
/// Rows of age_limits.csv one ingredient may have.
pub const AGE_LIMITS_PER_INGREDIENT_MAX: usize = 16;
/// Largest `reject_multiple` (x `max_daily`) a dose row or `[edits.high_dose]` may set.
pub const DOSE_REJECT_MULTIPLE_MAX: u32 = 100;
/// `min_elapsed_percent` of the early-refill edit when its table leaves it out (schema 2).
pub const EARLY_REFILL_MIN_ELAPSED_PERCENT_DEFAULT: u32 = 75;
/// Largest `washout_days` a ddi.csv row may set.
pub const DDI_WASHOUT_DAYS_MAX: u32 = 366;
/// Hours one patch is worn when products.csv leaves `wear_hours` empty.
pub const PATCH_WEAR_HOURS_DEFAULT: u32 = 72;
/// Largest `wear_hours` products.csv may set.
pub const PATCH_WEAR_HOURS_MAX: u32 = 24 * 31;
/// Longest a steady stream of folder changes can postpone a reload.
pub const RULES_WATCH_SETTLE_MAX: Duration = Duration::from_secs(10);
/// Largest `active_grace_days` a ruleset may set.
pub const RULES_ACTIVE_GRACE_DAYS_MAX: u32 = 366;
/// Columns in the header of one rule-table CSV file.
pub const RULE_TABLE_COLUMNS_MAX: usize = 256;
/// Classes one ingredient may belong to.
pub const CLASSES_PER_INGREDIENT_MAX: usize = 64;

// ---- filing window -------------------------------------------------------------------------
/// A claim may be dated at most this many days after the gateway's today (UTC against the
/// pharmacy's local date, and clock slack).
pub const POST_DATED_DAYS_MAX: i32 = 1;
/// Timely filing: a claim dated more than this many days before today is rejected 81.
pub const CLAIM_AGE_DAYS_MAX: i32 = 365;

// ---- history -------------------------------------------------------------------------------

/// Entries (fills, reversed claims) the embedded history keeps per patient; beyond it reversed
/// ones, then the oldest fills, are dropped: the DUR edits see the newest, and a dropped claim is
/// matched in the store (`server::pipeline` recall). The shared history reads as many.
pub const FILLS_PER_PATIENT_MAX: usize = 256;
/// Overridden conflicts a fill remembers for `remember_override_days` (8 bytes a fill); an
/// override beyond it is not remembered, so its conflict is raised again on the next fill.
pub const OVERRIDES_REMEMBERED_PER_FILL_MAX: usize = 1;
/// Patients kept in the in-memory history.
pub const HISTORY_PATIENTS_MAX: usize = 20_000_000;
/// Shards of the history map.
pub const HISTORY_SHARDS: usize = 64;
/// Lookback the history keeps when the rule tables ask for more.
pub const HISTORY_LOOKBACK_DAYS_MAX: u32 = 3 * 366;

// ---- store ---------------------------------------------------------------------------------

/// Claim records waiting for the writer.
pub const STORE_QUEUE_DEPTH_MAX: usize = 8_192;
/// Records committed in one transaction (one fsync).
pub const STORE_BATCH_RECORDS_MAX: usize = 1_024;
/// How long a claim may wait for a place in a full queue before it is rejected with 99.
pub const STORE_ENQUEUE_DEADLINE: Duration = Duration::from_millis(2_000);
/// Group commit: after the first record of a batch, keep gathering while the next one arrives
/// within this time...
pub const STORE_GATHER_LINGER: Duration = Duration::from_micros(250);
/// ...but never delay a batch by more than this in total (small against a disk flush).
pub const STORE_GATHER_WINDOW: Duration = Duration::from_micros(1_000);
/// How long a store statement waits for a lock held by another connection before it fails
/// (the batch then fails and its claims are answered 99).
pub const STORE_BUSY_TIMEOUT: Duration = Duration::from_millis(500);
/// A commit running longer than this makes `/readyz` answer 503 (a wedged writer).
pub const STORE_COMMIT_STALL: Duration = Duration::from_secs(5);
/// While the last commit failed, the writer probes this often whether it can commit again (so
/// readiness recovers by itself when the disk or the database comes back, with no traffic).
pub const STORE_PROBE_INTERVAL: Duration = Duration::from_millis(1_000);
/// Prepared statements a store connection keeps cached.
pub const STORE_STATEMENTS_CACHED_MAX: usize = 32;
/// Claim rows the history rebuild visits before it refuses: more than the history could hold.
pub const STORE_HISTORY_ROWS_MAX: u64 = HISTORY_PATIENTS_MAX as u64 * FILLS_PER_PATIENT_MAX as u64;
/// PostgreSQL: pooled connections for the per-claim history reads of one gateway (the writer
/// has one more of its own).
pub const PG_READ_CONNECTIONS_MAX: usize = 8;
/// PostgreSQL: how long opening a connection may take.
pub const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// PostgreSQL: how long a history read waits for a pooled connection before the claim is
/// answered 99.
pub const PG_POOL_WAIT: Duration = Duration::from_millis(2_000);
/// PostgreSQL: server-side limit on one statement (a write waiting on another node's lock
/// included); the batch then fails and its claims are answered 99.
pub const PG_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
/// PostgreSQL: the client's own deadline on one history read (the server's statement timeout
/// cannot fire when the network is gone); the claim is then answered 99 and the connection
/// dropped.
pub const PG_READ_DEADLINE: Duration = Duration::from_secs(6);
/// With a shared store, how many times one transmission is read and planned again because
/// another node paid a claim of the same patient before it committed; after that it is
/// answered 99 (the switch retries).
pub const PATIENT_REPLANS_MAX: u32 = 3;
/// PostgreSQL: the client's own deadline on one group commit, from the first statement to the
/// `COMMIT`'s answer (a partition mid-batch, a batch whose records keep meeting lock timeouts);
/// the batch then fails whole (99, readiness off until the writer's probe succeeds).
pub const PG_BATCH_DEADLINE: Duration = Duration::from_secs(15);
/// PostgreSQL: a statement waits at most this long for a row or table lock another session
/// holds (`lock_timeout`); the batch is then written again record by record, and a record
/// that still cannot get its lock is answered 99, instead of the whole batch waiting out the
/// statement timeout.
pub const PG_LOCK_TIMEOUT: Duration = Duration::from_secs(1);
/// PostgreSQL: the server ends a session of ours that sits inside a transaction doing nothing
/// this long (`idle_in_transaction_session_timeout`; a node stuck mid-batch frees its locks).
pub const PG_IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(10);
/// PostgreSQL: unacknowledged data on a store connection fails it after this long
/// (`TCP_USER_TIMEOUT`), and an idle one is probed by TCP keepalives from then on, so a silent
/// network partition is found in seconds instead of the kernel's ~15 minutes.
pub const PG_TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// PostgreSQL: ids the writer reserves from a sequence in one round trip.
pub const PG_IDS_RESERVED: usize = 512;
/// PostgreSQL: a rule-table stamp's `last_seen_ms` is brought forward at most this often per
/// gateway (the row is shared by every node; updating it in each batch would serialize them).
pub const PG_RULESET_TOUCH_INTERVAL: Duration = Duration::from_secs(1);
/// PostgreSQL: the gateway runs `ANALYZE` on its tables once this many records were written
/// since the last one, or [`PG_ANALYZE_GROWTH_DIVISOR`]th of all it wrote since opening,
/// whichever is more (autovacuum's rule, for servers that run without it).
pub const PG_ANALYZE_RECORDS_MIN: usize = 1_000;
/// PostgreSQL: see [`PG_ANALYZE_RECORDS_MIN`] (5 = after a fifth more).
pub const PG_ANALYZE_GROWTH_DIVISOR: usize = 5;
/// PostgreSQL: how long opening the store (connecting and migrating) may take in all.
pub const PG_OPEN_TIMEOUT: Duration = Duration::from_secs(30);
/// PostgreSQL: rows of the history rebuild held between the reading task and the visitor.
pub const PG_HISTORY_ROWS_BUFFERED: usize = 1_024;

// ---- lifecycle (durgate backup, durgate purge) --------------------------------------------

/// `durgate backup`: database pages copied in one step of the SQLite online backup.
pub const BACKUP_PAGES_PER_STEP: i32 = 1_024;
/// `durgate backup`: pause between two steps, so a serving gateway's writer gets the disk.
pub const BACKUP_STEP_PAUSE: Duration = Duration::from_millis(5);
/// `durgate backup`: steps in a row that may find the source busy or locked before it fails.
pub const BACKUP_BUSY_RETRIES_MAX: u32 = 200;
/// `durgate purge`: transmissions deleted in one transaction (more when their claims link to
/// other purged ones: a link is never split across transactions). Kept small so that one
/// chunk's transaction is meant to stay well below the gateway's `STORE_BUSY_TIMEOUT` (not
/// measured on large stores).
pub const PURGE_CHUNK_TRANSMISSIONS: i64 = 500;
/// `durgate purge`: pause between two chunks, so a serving gateway's writer gets its turn.
pub const PURGE_CHUNK_PAUSE: Duration = Duration::from_millis(20);
/// `durgate purge`: passes that follow reversal and match links (kept claims pinning older
/// ones, a chunk taking in the transmissions linked to it) before the purge refuses.
pub const PURGE_LINK_PASSES_MAX: usize = 64;
/// `durgate purge`: `--before` must be at least this many days before today (UTC): today's
/// claims are what duplicate detection and reversals match against.
pub const PURGE_BEFORE_DAYS_MIN: i32 = 1;
/// `durgate purge`: how long one statement waits for a lock the gateway holds (SQLite busy
/// timeout, PostgreSQL `lock_timeout`).
pub const PURGE_LOCK_WAIT: Duration = Duration::from_secs(5);
/// `durgate purge` on PostgreSQL: server-side limit on one statement (the planning scan reads
/// every claim).
pub const PURGE_PG_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

// ---- report --------------------------------------------------------------------------------

/// Days one report period may span (`--from` to `--to`, inclusive).
pub const REPORT_PERIOD_DAYS_MAX: u32 = 3 * 366;
/// Claim rows one report scan visits before it refuses (a store far beyond what the reports
/// were sized for).
pub const REPORT_CLAIMS_MAX: u64 = 100_000_000;
/// Distinct pharmacies one report holds.
pub const REPORT_PHARMACIES_MAX: usize = 200_000;
/// Distinct patients the report reader numbers (the store's patient keys, held while it runs).
pub const REPORT_PATIENTS_MAX: usize = HISTORY_PATIENTS_MAX;
/// Measure-relevant fills kept for one patient in one report (later ones are counted, ignored).
pub const REPORT_FILLS_PER_PATIENT_MAX: usize = 4_096;
/// Rule-table classes the report settings may name in all.
pub const REPORT_SETTINGS_CLASSES_MAX: usize = 64;
/// Longest window (days) a report setting may ask for: follow-up, asthma, opioid.
pub const REPORT_WINDOW_DAYS_MAX: u32 = 366;
/// Bars one report chart draws (the table below it lists every row).
pub const REPORT_CHART_BARS_MAX: usize = 40;
/// Bytes of the report settings file.
pub const REPORT_SETTINGS_BYTES_MAX: u64 = 1024 * 1024;
/// PostgreSQL report reader: rows fetched from a cursor per round trip (four cursors at once).
pub const REPORT_PG_FETCH_ROWS: i32 = 2_048;
/// PostgreSQL report reader: how long one statement may run (the patient ranking reads every
/// claim of the store); the gateway's own `PG_STATEMENT_TIMEOUT` is far shorter.
pub const REPORT_PG_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

// ---- server --------------------------------------------------------------------------------

/// Open client connections per gateway; beyond it new connections are refused.
pub const CONNECTIONS_MAX: usize = 4_096;
/// File descriptors kept for everything but claim connections (listeners, admin connections,
/// store files and database connections, the rule-folder watch, logs): the connection cap stays
/// this far below the process `nofile` limit.
pub const FDS_RESERVED: u64 = 256;
/// After an accept fails for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM), the accept
/// loop waits this long before it tries again, instead of spinning.
pub const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);
/// Open admin HTTP connections; beyond it new ones are closed at once.
pub const ADMIN_CONNECTIONS_MAX: usize = 64;
/// An admin request's headers must arrive within this time (a keep-alive connection waiting
/// for its next request is closed after it too).
pub const ADMIN_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// One admin request (a reload included) is answered within this time, else 503.
pub const ADMIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of the admin bearer-token file read at most.
pub const ADMIN_TOKEN_BYTES_MAX: u64 = 4_096;
/// Pharmacies whose E1 checks of the current minute are counted at once (the rate limit's map).
pub const ELIGIBILITY_PHARMACIES_MAX: usize = 65_536;
/// The per-pharmacy E1 rate limit may be set at most to this many checks per minute.
pub const ELIGIBILITY_PER_PHARMACY_PER_MINUTE_MAX: u32 = 60_000;
/// Requests read from one connection and not yet answered.
pub const IN_FLIGHT_PER_CONNECTION_MAX: usize = 64;
/// Kernel send buffer asked for each claim connection (`SO_SNDBUF`; Linux doubles it and stops
/// growing it). Replies a client has not read sit in this buffer and in the client's own
/// receive window; without the bound the kernel grows the buffer to megabytes, and one client
/// that never reads makes the gateway adjudicate and commit tens of thousands of claims before its
/// write deadline can start. At 16 KiB a reply-sized pipeline (64 replies of a few hundred bytes)
/// still fits.
pub const SEND_BUFFER_BYTES: usize = 16 * 1024;
/// An idle claim connection is probed by TCP keepalives after this long (then every
/// `TCP_KEEPALIVE_INTERVAL`, `TCP_KEEPALIVE_PROBES` times), so a switch that vanished without a
/// FIN (a dead NAT entry, a powered-off host) frees its slot long before the idle timeout.
pub const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
/// Between two keepalive probes.
pub const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered keepalive probes before the kernel closes the connection.
pub const TCP_KEEPALIVE_PROBES: u32 = 6;
/// The send buffer may be set no lower than this.
pub const SEND_BUFFER_BYTES_MIN: usize = 4 * 1024;
/// A started frame must complete within this time.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with no request arriving (garbage and empty frames do not count) is closed
/// after this time.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// One write of owed replies must complete within this time: a client that stops reading is
/// closed instead of holding its slot (and the shutdown) forever.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time in-flight claims get to finish after SIGTERM/SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Listeners one gateway may open.
pub const LISTENERS_MAX: usize = 16;
/// Entries (IP addresses or CIDR blocks) in the `allow` list of one `[[listener]]`.
pub const LISTENER_ALLOW_ENTRIES_MAX: usize = 256;
/// PROXY protocol v2: the fixed part of the header (signature, version/command, family,
/// length), read exactly before anything else on a `proxy_protocol` listener.
pub const PROXY_V2_FIXED_BYTES: usize = 16;
/// PROXY protocol v2: the largest address part (addresses and TLVs after the fixed part) a
/// header may announce; a longer one closes the connection. IPv6 addresses take 36 bytes; the
/// rest is room for a load balancer's TLVs (which are read and ignored).
pub const PROXY_V2_ADDRESS_BYTES_MAX: usize = 512;

// ---- server::tls ---------------------------------------------------------------------------

/// Bytes of one PEM file read for TLS (certificate chain, private key or client-CA bundle).
pub const TLS_PEM_FILE_BYTES_MAX: u64 = 1024 * 1024;
/// Certificates in the gateway's own chain (its certificate, then intermediates).
pub const TLS_CHAIN_CERTIFICATES_MAX: usize = 16;
/// Trust anchors in one client-CA bundle.
pub const TLS_CLIENT_CA_CERTIFICATES_MAX: usize = 1_024;
/// Client-certificate scopes (`[tls.scopes]` entries).
pub const TLS_CLIENT_SCOPES_MAX: usize = 1_024;
/// BINs, or pharmacy ids, one scope may list.
pub const TLS_SCOPE_IDS_MAX: usize = 100_000;
/// Names (DNS subject alternative names, then the common name) read from one client
/// certificate when its scope is looked up.
pub const TLS_CERTIFICATE_NAMES_MAX: usize = 64;
/// TLS sessions kept for resumption per certificate generation (a reload starts afresh).
pub const TLS_SESSION_CACHE_ENTRIES: usize = 256;

const _: () = assert!(FRAME_BYTES_MIN < FRAME_BYTES_MAX);
const _: () = assert!(REQUEST_HEADER_BYTES < FRAME_BYTES_MIN);
const _: () = assert!(STORE_BATCH_RECORDS_MAX <= STORE_QUEUE_DEPTH_MAX);
const _: () = assert!(PG_IDS_RESERVED >= TRANSACTIONS_MAX * CONFLICTS_PER_TRANSACTION_MAX);
const _: () = assert!(STORE_GATHER_LINGER.as_micros() <= STORE_GATHER_WINDOW.as_micros());
const _: () = assert!(CONFLICTS_PER_TRANSACTION_MAX >= DUR_PPS_OCCURRENCES_MAX);
const _: () = assert!(HISTORY_SHARDS.is_power_of_two());
const _: () = assert!(RESPONSE_HEADER_BYTES < REQUEST_HEADER_BYTES);
const _: () = assert!(DUR_PPS_OCCURRENCES_MAX <= 9 && ADDITIONAL_MESSAGES_MAX <= 9);
const _: () = assert!(REPORT_WINDOW_DAYS_MAX <= REPORT_PERIOD_DAYS_MAX);
const _: () = assert!(REPORT_SETTINGS_CLASSES_MAX <= 64); // one bit each in a u64 mask
