//! The async shell: listeners, connections, the claim pipeline, admin HTTP, reload, shutdown.
//!
//! Tier 3. Composes the pure core (`ncpdp`, `rules`, `history`) with the durable `store` behind
//! real sockets. `pipeline` is the one place that sequences parse → history → adjudicate →
//! commit → encode. Metrics are recorded here and nowhere else.
//!
//! Must never: answer paid/approved/duplicate before the record behind it is durably committed;
//! log a patient identifier; hold a global lock on the claim path.

pub mod admin;
pub mod connection;
pub mod echo;
pub mod listener;
pub mod metrics;
pub mod reload;
