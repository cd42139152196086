//! Money arithmetic of the P4P report: prorating a yearly pool to a period and splitting a pool
//! exactly, in integer cents.
//!
//! Pure and total: no floats, no panics, products in `u128` so no pool or weight can overflow.
//! Must never lose or invent a cent: [`largest_remainder`] always returns shares that sum to
//! the pool when any weight is positive.

use super::Period;

/// The period's part of a yearly pool: `yearly × days in period / days in the year of the
/// period start`, rounded down to the cent.
pub fn prorate(yearly_cents: u64, period: Period) -> u64 {
    let share = u128::from(yearly_cents) * u128::from(period.days())
        / u128::from(period.days_in_year_of_start());
    u64::try_from(share).unwrap_or(u64::MAX)
}

/// Splits `pool_cents` pro rata to `weights` with the largest-remainder (Hamilton) method:
/// each share is first `pool × weight / total` rounded down; the cents left over go one each
/// to the largest remainders `pool × weight mod total`, ties to the lower index. Callers order
/// the weights by pharmacy id, so the tie-break is the pharmacy id. A zero weight gets
/// nothing; when every weight is zero nothing is paid (all shares 0).
pub fn largest_remainder(pool_cents: u64, weights: &[u64]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|weight| u128::from(*weight)).sum();
    if total == 0 {
        return vec![0; weights.len()];
    }
    let pool = u128::from(pool_cents);
    let exact: Vec<(u128, u128)> = weights
        .iter()
        .map(|weight| {
            let scaled = pool * u128::from(*weight);
            (scaled / total, scaled % total)
        })
        .collect();
    let floor_sum: u128 = exact.iter().map(|(share, _)| share).sum();
    let leftover = usize::try_from(pool - floor_sum).unwrap_or(usize::MAX);
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    let mut shares: Vec<u64> = exact
        .iter()
        .map(|(share, _)| u64::try_from(*share).unwrap_or(u64::MAX))
        .collect();
    for index in order.into_iter().take(leftover) {
        if let Some(share) = shares.get_mut(index) {
            *share += 1;
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::Date;
    use proptest::prelude::*;

    fn period(from: (i32, u32, u32), to: (i32, u32, u32)) -> Period {
        let date = |(y, m, d): (i32, u32, u32)| Date::from_ymd(y, m, d).unwrap();
        Period::new(date(from), date(to)).unwrap()
    }

    #[test]
    fn pools_are_prorated_by_days_of_the_start_year() {
        // $5M a year over 2018-01-01..2018-06-30: 181/365 of it, rounded down.
        let half = period((2018, 1, 1), (2018, 6, 30));
        assert_eq!(prorate(500_000_000, half), 247_945_205);
        assert_eq!(prorate(300_000_000, half), 148_767_123);
        let year = period((2018, 1, 1), (2018, 12, 31));
        assert_eq!(prorate(500_000_000, year), 500_000_000);
        // A leap year start divides by 366.
        let leap_day = period((2024, 2, 29), (2024, 2, 29));
        assert_eq!(prorate(36_600, leap_day), 100);
    }

    #[test]
    fn leftover_cents_go_to_the_largest_remainders_then_the_lower_index() {
        // 100 cents over 1:1:1 → 33.33 each; the one leftover cent goes to index 0 (tie).
        assert_eq!(largest_remainder(100, &[1, 1, 1]), vec![34, 33, 33]);
        // 10 cents over 1:2:3 → 1.67, 3.33, 5.00: the leftover cent goes to the 0.67.
        assert_eq!(largest_remainder(10, &[1, 2, 3]), vec![2, 3, 5]);
        assert_eq!(largest_remainder(10, &[0, 0]), vec![0, 0]);
        assert_eq!(largest_remainder(7, &[0, 5]), vec![0, 7]);
        assert_eq!(largest_remainder(0, &[3, 4]), vec![0, 0]);
    }

    proptest! {
        #[test]
        fn shares_sum_exactly_to_the_pool(
            pool in 0u64..=1_000_000_000_000,
            weights in proptest::collection::vec(0u64..5_000_000, 1..300),
        ) {
            let shares = largest_remainder(pool, &weights);
            let total_weight: u128 = weights.iter().map(|w| u128::from(*w)).sum();
            let paid: u128 = shares.iter().map(|s| u128::from(*s)).sum();
            prop_assert_eq!(shares.len(), weights.len());
            if total_weight == 0 {
                prop_assert_eq!(paid, 0);
            } else {
                prop_assert_eq!(paid, u128::from(pool));
            }
            for (share, weight) in shares.iter().zip(&weights) {
                if total_weight == 0 { continue; }
                let scaled = u128::from(pool) * u128::from(*weight);
                let floor = scaled / total_weight;
                // Each share is its exact share rounded down or up, never more.
                prop_assert!(u128::from(*share) == floor || u128::from(*share) == floor + 1);
                if *weight == 0 { prop_assert_eq!(*share, 0); }
            }
        }
    }
}
