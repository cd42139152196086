-- durgate claim store, schema version 1 on PostgreSQL: the tables of schema.sql (SQLite) with
-- native types. Described table by table in src/store/SCHEMA.md. Dates are `date`, money is
-- bigint cents, quantities bigint milli-units, times bigint milliseconds since 1970-01-01 UTC,
-- flags `boolean`. Ids come from explicit sequences (not `serial`): the writer reserves blocks
-- of ids with nextval() so that a whole batch is written in one pipelined round trip, and an
-- explicit sequence behaves the same on PostgreSQL-compatible engines.

CREATE SEQUENCE transmission_ids;
CREATE SEQUENCE claim_ids;
CREATE SEQUENCE conflict_ids;

-- One row per transmission the gateway recorded (a request with its header).
CREATE TABLE transmissions (
    id                bigint  PRIMARY KEY DEFAULT nextval('transmission_ids'),
    received_at_ms    bigint  NOT NULL,
    transaction_code  text    NOT NULL CHECK (transaction_code IN ('B1', 'B2', 'B3', 'E1')),
    bin               text    NOT NULL,
    pcn               text    NOT NULL,
    pharmacy_id       text    NOT NULL,          -- 201-B1
    patient_key       text,                      -- PHI; NULL when the request had no patient
    transaction_count integer NOT NULL
);

-- Rule-table identities decisions were made with, and when they were first and last used.
CREATE TABLE rulesets (
    stamp         text    PRIMARY KEY,           -- 'id@version'
    first_seen_ms bigint  NOT NULL,
    last_seen_ms  bigint  NOT NULL
);

-- One row per recorded transaction (claim, reversal, rebill or eligibility check). Duplicates
-- answered D or S are not recorded again. A claim id, and so an authorization number, is never
-- reused (sequence values are never handed out twice).
CREATE TABLE claims (
    id                        bigint  PRIMARY KEY DEFAULT nextval('claim_ids'),
    transmission_id           bigint  NOT NULL REFERENCES transmissions (id),
    transaction_index         integer NOT NULL,  -- 1-based position in the transmission
    kind                      text    NOT NULL CHECK (kind IN ('claim', 'reversal', 'rebill', 'eligibility')),
    received_at_ms            bigint  NOT NULL,
    pharmacy_id               text    NOT NULL,  -- 201-B1
    patient_key               text,              -- PHI: cardholder id, person code, date of birth
    patient_age_years         integer,           -- on the date of service
    rx_number                 bigint  NOT NULL,  -- 402-D2 (0 when absent)
    fill_number               integer NOT NULL,  -- 403-D3
    product_qualifier         text    NOT NULL,  -- 436-E1
    product_id                text    NOT NULL,  -- 407-D7 as sent
    ndc                       text,              -- 11 digits when 407-D7 is an NDC
    quantity_milli            bigint  NOT NULL,  -- 442-E7
    days_supply               integer NOT NULL,  -- 405-D5
    compound_code             integer NOT NULL,  -- 406-D6
    daw_code                  integer,           -- 408-D8
    date_written              date,              -- 414-DE
    date_of_service           date    NOT NULL,  -- 401-D1
    prescriber_id             text    NOT NULL,  -- 411-DB
    status                    text    NOT NULL CHECK (status IN ('paid', 'rejected', 'approved')),
    "authorization"           text    UNIQUE,    -- 503-F3 (a reserved word here: quote it)
    ruleset                   text    NOT NULL REFERENCES rulesets (stamp),
    message                   text,              -- 504-F4
    ingredient_cost_cents     bigint,            -- 409-D9
    dispensing_fee_cents      bigint,            -- 412-DC
    usual_and_customary_cents bigint,            -- 426-DQ
    patient_paid_cents        bigint,            -- 433-DX
    gross_amount_due_cents    bigint,            -- 430-DU
    matched_claim_id          bigint  REFERENCES claims (id), -- the paid claim a B2/B3 matched
    reverses                  bigint  REFERENCES claims (id), -- set when this row reversed it
    reversed_by               bigint  REFERENCES claims (id), -- the row that reversed this one
    reversed_at_ms            bigint                          -- when it was reversed
);

-- Duplicate and reversal matching: same pharmacy, Rx number, fill number and date of service.
CREATE INDEX claims_match ON claims (pharmacy_id, rx_number, fill_number, date_of_service);
-- At most one paid, unreversed claim per pharmacy, Rx number, fill number and date of service:
-- what stops two gateway nodes racing on the same claim from both paying it.
CREATE UNIQUE INDEX claims_paid_once ON claims (pharmacy_id, rx_number, fill_number, date_of_service)
    WHERE status = 'paid' AND reversed_at_ms IS NULL;
-- History rebuild: paid claims since a date.
CREATE INDEX claims_status_dos ON claims (status, date_of_service);
-- Reports per pharmacy and period (dropped by migration 4: no query used it).
CREATE INDEX claims_pharmacy_dos ON claims (pharmacy_id, date_of_service);
-- Per-claim history reads (a patient's paid claims in the lookback window) and per-patient
-- reports.
CREATE INDEX claims_patient_dos ON claims (patient_key, date_of_service);

-- 511-FB reject codes of a rejected transaction, in reply order.
CREATE TABLE claim_reject_codes (
    claim_id bigint  NOT NULL REFERENCES claims (id),
    position integer NOT NULL,                   -- 1-based
    code     text    NOT NULL,
    PRIMARY KEY (claim_id, position)
);
CREATE INDEX claim_reject_codes_code ON claim_reject_codes (code);

-- Every DUR conflict raised on a transaction, overridden or not, in edit order.
CREATE TABLE conflicts (
    id                      bigint  PRIMARY KEY DEFAULT nextval('conflict_ids'),
    claim_id                bigint  NOT NULL REFERENCES claims (id),
    position                integer NOT NULL,    -- 1-based
    edit                    text    NOT NULL,    -- ddi, duplication, high_dose, ...
    rule_id                 text    NOT NULL,
    reason                  text    NOT NULL,    -- 439-E4
    severity                integer NOT NULL,
    action                  text    NOT NULL CHECK (action IN ('reject', 'warn')),
    clinical_significance   integer NOT NULL,    -- 528-FS
    previous_fill_date      date,                -- 530-FU
    previous_quantity_milli bigint,              -- 531-FV
    other_pharmacy          integer NOT NULL,    -- 529-FT
    other_prescriber        integer NOT NULL,    -- 533-FX
    message                 text    NOT NULL,    -- 544-FY, whole
    overridable             boolean NOT NULL,
    overridden_by           integer              -- 473-7E counter of the DUR/PPS that overrode it
);
CREATE INDEX conflicts_claim ON conflicts (claim_id);

-- Every DUR/PPS occurrence submitted, with the conflict it answered (if any).
CREATE TABLE dur_pps (
    claim_id            bigint  NOT NULL REFERENCES claims (id),
    counter             integer NOT NULL,        -- 473-7E
    reason              text,                    -- 439-E4
    professional        text,                    -- 440-E5
    result              text,                    -- 441-E6
    level_of_effort     integer,                 -- 474-8E
    co_agent_qualifier  text,                    -- 475-J9
    co_agent_id         text,                    -- 476-H6
    matched_conflict_id bigint  REFERENCES conflicts (id),
    overrode            boolean NOT NULL,        -- true when it overrode matched_conflict_id
    PRIMARY KEY (claim_id, counter)
);
CREATE INDEX dur_pps_conflict ON dur_pps (matched_conflict_id);
