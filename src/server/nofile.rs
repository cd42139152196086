//! The process `nofile` limit against the connection cap: raise the soft limit at start when
//! the hard limit allows, else lower the cap below it and say so.
//!
//! Tier 3, called once by `server` before the claim listeners bind. [`plan`] is the pure rule
//! (tested here); [`fit_connection_cap`] reads and sets the limit. Must never raise the hard
//! limit or fail the start: a limit it cannot read or set leaves the cap as configured, logged.

use crate::limits::FDS_RESERVED;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// What to do about the limit for a wanted connection cap.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NofilePlan {
    /// The soft limit to set (`None`: leave it).
    pub raise_soft_to: Option<u64>,
    /// The connection cap that fits the limit.
    pub connections_max: usize,
}

/// `soft`/`hard`: the current limits (`None` is unlimited); `wanted`: the configured cap.
pub fn plan(soft: Option<u64>, hard: Option<u64>, wanted: usize) -> NofilePlan {
    let needed = wanted as u64 + FDS_RESERVED;
    let fits = |limit: Option<u64>| limit.is_none_or(|limit| limit >= needed);
    if fits(soft) {
        return NofilePlan {
            raise_soft_to: None,
            connections_max: wanted,
        };
    }
    let reachable = hard.map_or(needed, |hard| hard.min(needed));
    let usable = reachable.saturating_sub(FDS_RESERVED).max(1);
    NofilePlan {
        raise_soft_to: Some(reachable).filter(|&to| Some(to) > soft),
        connections_max: usize::try_from(usable).unwrap_or(wanted).min(wanted),
    }
}

/// Applies [`plan`] to this process; returns the connection cap to use.
pub fn fit_connection_cap(wanted: usize) -> usize {
    let limit = getrlimit(Resource::Nofile);
    let planned = plan(limit.current, limit.maximum, wanted);
    let Some(raise_to) = planned.raise_soft_to else {
        return warn_if_capped(planned.connections_max, wanted, limit.current);
    };
    let raised = Rlimit {
        current: Some(raise_to),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::info!(nofile = raise_to, "raised the open-file soft limit");
            warn_if_capped(planned.connections_max, wanted, Some(raise_to))
        }
        Err(error) => {
            let soft = limit.current.unwrap_or(u64::MAX);
            let kept = plan(Some(soft), Some(soft), wanted).connections_max;
            tracing::warn!(%error, "could not raise the open-file soft limit");
            warn_if_capped(kept, wanted, Some(soft))
        }
    }
}

fn warn_if_capped(connections_max: usize, wanted: usize, nofile: Option<u64>) -> usize {
    if connections_max < wanted {
        tracing::warn!(
            connections_max,
            configured = wanted,
            nofile = nofile.unwrap_or(u64::MAX),
            reserved = FDS_RESERVED,
            "connection cap lowered to fit the open-file limit"
        );
    }
    connections_max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_with_room_is_left_alone() {
        let planned = plan(Some(1_048_576), Some(1_048_576), 4_096);
        assert_eq!(
            planned,
            NofilePlan {
                raise_soft_to: None,
                connections_max: 4_096
            }
        );
        assert_eq!(plan(None, None, 4_096).raise_soft_to, None);
    }

    #[test]
    fn the_soft_limit_is_raised_as_far_as_needed_when_the_hard_limit_allows() {
        let planned = plan(Some(1_024), Some(524_288), 4_096);
        assert_eq!(planned.raise_soft_to, Some(4_096 + FDS_RESERVED));
        assert_eq!(planned.connections_max, 4_096);
    }

    #[test]
    fn below_the_hard_limit_the_cap_is_lowered() {
        let planned = plan(Some(1_024), Some(2_048), 4_096);
        assert_eq!(planned.raise_soft_to, Some(2_048));
        assert_eq!(planned.connections_max, 2_048 - FDS_RESERVED as usize);
        let stuck = plan(Some(400), Some(400), 4_096);
        assert_eq!(stuck.raise_soft_to, None);
        assert_eq!(stuck.connections_max, 400 - FDS_RESERVED as usize);
    }

    #[test]
    fn a_tiny_limit_still_leaves_one_connection() {
        assert_eq!(plan(Some(64), Some(64), 4_096).connections_max, 1);
    }
}
