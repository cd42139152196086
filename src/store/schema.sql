-- durgate claim store, schema version 1 (SQLite; a PostgreSQL store mirrors it).
-- Described table by table in src/store/SCHEMA.md. Dates are ISO 'YYYY-MM-DD' text, money is
-- integer cents, quantities integer milli-units, times integer milliseconds since 1970-01-01 UTC.

-- One row per transmission the gateway recorded (a request with its header).
CREATE TABLE transmissions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at_ms    INTEGER NOT NULL,
    transaction_code  TEXT    NOT NULL CHECK (transaction_code IN ('B1', 'B2', 'B3', 'E1')),
    bin               TEXT    NOT NULL,
    pcn               TEXT    NOT NULL,
    pharmacy_id       TEXT    NOT NULL,          -- 201-B1
    patient_key       TEXT,                      -- PHI; NULL when the request had no patient
    transaction_count INTEGER NOT NULL
);

-- Rule-table identities decisions were made with, and when they were first and last used.
CREATE TABLE rulesets (
    stamp         TEXT    PRIMARY KEY,           -- 'id@version'
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per recorded transaction (claim, reversal, rebill or eligibility check). Duplicates
-- answered D or S are not recorded again. AUTOINCREMENT: a claim id, and so an authorization
-- number, is never reused, even after rows are deleted.
CREATE TABLE claims (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    transmission_id           INTEGER NOT NULL REFERENCES transmissions (id),
    transaction_index         INTEGER NOT NULL,  -- 1-based position in the transmission
    kind                      TEXT    NOT NULL CHECK (kind IN ('claim', 'reversal', 'rebill', 'eligibility')),
    received_at_ms            INTEGER NOT NULL,
    pharmacy_id               TEXT    NOT NULL,  -- 201-B1
    patient_key               TEXT,              -- PHI: cardholder id, person code, date of birth
    patient_age_years         INTEGER,           -- on the date of service
    rx_number                 INTEGER NOT NULL,  -- 402-D2 (0 when absent)
    fill_number               INTEGER NOT NULL,  -- 403-D3
    product_qualifier         TEXT    NOT NULL,  -- 436-E1
    product_id                TEXT    NOT NULL,  -- 407-D7 as sent
    ndc                       TEXT,              -- 11 digits when 407-D7 is an NDC
    quantity_milli            INTEGER NOT NULL,  -- 442-E7
    days_supply               INTEGER NOT NULL,  -- 405-D5
    compound_code             INTEGER NOT NULL,  -- 406-D6
    daw_code                  INTEGER,           -- 408-D8
    date_written              TEXT,              -- 414-DE
    date_of_service           TEXT    NOT NULL,  -- 401-D1
    prescriber_id             TEXT    NOT NULL,  -- 411-DB
    status                    TEXT    NOT NULL CHECK (status IN ('paid', 'rejected', 'approved')),
    authorization             TEXT    UNIQUE,    -- 503-F3, paid claims and approved reversals
    ruleset                   TEXT    NOT NULL REFERENCES rulesets (stamp),
    message                   TEXT,              -- 504-F4
    ingredient_cost_cents     INTEGER,           -- 409-D9
    dispensing_fee_cents      INTEGER,           -- 412-DC
    usual_and_customary_cents INTEGER,           -- 426-DQ
    patient_paid_cents        INTEGER,           -- 433-DX
    gross_amount_due_cents    INTEGER,           -- 430-DU
    matched_claim_id          INTEGER REFERENCES claims (id), -- the paid claim a B2/B3 matched
    reverses                  INTEGER REFERENCES claims (id), -- set when this row reversed it
    reversed_by               INTEGER REFERENCES claims (id), -- the row that reversed this one
    reversed_at_ms            INTEGER                         -- when it was reversed
);

-- Duplicate and reversal matching: same pharmacy, Rx number, fill number and date of service.
CREATE INDEX claims_match ON claims (pharmacy_id, rx_number, fill_number, date_of_service);
-- At most one paid, unreversed claim per pharmacy, Rx number, fill number and date of service.
CREATE UNIQUE INDEX claims_paid_once ON claims (pharmacy_id, rx_number, fill_number, date_of_service)
    WHERE status = 'paid' AND reversed_at_ms IS NULL;
-- History rebuild: paid claims since a date.
CREATE INDEX claims_status_dos ON claims (status, date_of_service);
-- Reports per pharmacy and period (dropped by migration 4: no query used it).
CREATE INDEX claims_pharmacy_dos ON claims (pharmacy_id, date_of_service);
-- Reports per patient and per-claim history reads (dropped by migration 4: the embedded
-- store's history is in memory, the reports rank patients in one sort).
CREATE INDEX claims_patient_dos ON claims (patient_key, date_of_service);

-- 511-FB reject codes of a rejected transaction, in reply order.
CREATE TABLE claim_reject_codes (
    claim_id INTEGER NOT NULL REFERENCES claims (id),
    position INTEGER NOT NULL,                   -- 1-based
    code     TEXT    NOT NULL,
    PRIMARY KEY (claim_id, position)
) WITHOUT ROWID;
CREATE INDEX claim_reject_codes_code ON claim_reject_codes (code);

-- Every DUR conflict raised on a transaction, overridden or not, in edit order.
CREATE TABLE conflicts (
    id                      INTEGER PRIMARY KEY,
    claim_id                INTEGER NOT NULL REFERENCES claims (id),
    position                INTEGER NOT NULL,    -- 1-based
    edit                    TEXT    NOT NULL,    -- ddi, duplication, high_dose, ...
    rule_id                 TEXT    NOT NULL,
    reason                  TEXT    NOT NULL,    -- 439-E4
    severity                INTEGER NOT NULL,
    action                  TEXT    NOT NULL CHECK (action IN ('reject', 'warn')),
    clinical_significance   INTEGER NOT NULL,    -- 528-FS
    previous_fill_date      TEXT,                -- 530-FU
    previous_quantity_milli INTEGER,             -- 531-FV
    other_pharmacy          INTEGER NOT NULL,    -- 529-FT
    other_prescriber        INTEGER NOT NULL,    -- 533-FX
    message                 TEXT    NOT NULL,    -- 544-FY, whole
    overridable             INTEGER NOT NULL,    -- 0 or 1
    overridden_by           INTEGER              -- 473-7E counter of the DUR/PPS that overrode it
);
CREATE INDEX conflicts_claim ON conflicts (claim_id);

-- Every DUR/PPS occurrence submitted, with the conflict it answered (if any).
CREATE TABLE dur_pps (
    claim_id            INTEGER NOT NULL REFERENCES claims (id),
    counter             INTEGER NOT NULL,        -- 473-7E
    reason              TEXT,                    -- 439-E4
    professional        TEXT,                    -- 440-E5
    result              TEXT,                    -- 441-E6
    level_of_effort     INTEGER,                 -- 474-8E
    co_agent_qualifier  TEXT,                    -- 475-J9
    co_agent_id         TEXT,                    -- 476-H6
    matched_conflict_id INTEGER REFERENCES conflicts (id),
    overrode            INTEGER NOT NULL,        -- 1 when it overrode matched_conflict_id
    PRIMARY KEY (claim_id, counter)
) WITHOUT ROWID;
CREATE INDEX dur_pps_conflict ON dur_pps (matched_conflict_id);
