//! `--scale`: an absolute count (`3`) or a change of the running count (`+2`, `-1`).

use std::fmt;

/// A scale as the user wrote it. The result of [`ScaleSpec::apply`] is never below 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleSpec {
    /// `N`: exactly N instances (N ≥ 1; `0` is rejected by [`ScaleSpec::parse`]).
    Absolute(u32),
    /// `+N` / `-N`: the running count plus or minus N.
    Relative(i64),
}

/// What [`ScaleSpec::parse`] expects, for messages.
pub const EXPECTED: &str = "expected N, +N or -N";

impl ScaleSpec {
    /// Parses `N`, `+N` or `-N` (surrounding whitespace ignored). `0` is an error: scaling a
    /// service to nothing is not what this tool does (stop it instead); `+0`/`-0` are no-ops.
    /// The `Err` is the reason, for the caller to put next to the value and its source.
    pub fn parse(s: &str) -> Result<ScaleSpec, String> {
        let s = s.trim();
        let (sign, digits) = match s.as_bytes().first() {
            Some(b'+') => (Some(1i64), &s[1..]),
            Some(b'-') => (Some(-1i64), &s[1..]),
            _ => (None, s),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EXPECTED.to_string());
        }
        match sign {
            None => match digits.parse::<u32>() {
                Ok(0) => Err("expected at least 1 (scaling to 0 is not supported)".to_string()),
                Ok(n) => Ok(ScaleSpec::Absolute(n)),
                Err(_) => Err(format!("expected at most {}", u32::MAX)),
            },
            Some(sign) => match digits.parse::<i64>() {
                Ok(n) => Ok(ScaleSpec::Relative(sign * n)),
                Err(_) => Err(format!("expected a change of at most {}", i64::MAX)),
            },
        }
    }

    /// The instance count for `current` running instances. A relative scale that would go
    /// below 1 gives 1 (the original tool's floor); one above `u32::MAX` is an error, as is
    /// `Absolute(0)` (which `parse` never returns).
    pub fn apply(&self, current: u32) -> Result<u32, String> {
        match *self {
            ScaleSpec::Absolute(0) => Err("0 instances is not a scale: the lowest is 1".into()),
            ScaleSpec::Absolute(n) => Ok(n),
            ScaleSpec::Relative(delta) => {
                let total = i128::from(current) + i128::from(delta);
                if total < 1 {
                    Ok(1)
                } else {
                    u32::try_from(total).map_err(|_| {
                        format!("{current} {self} is more than {} instances", u32::MAX)
                    })
                }
            }
        }
    }

    pub fn is_relative(&self) -> bool {
        matches!(self, ScaleSpec::Relative(_))
    }
}

impl fmt::Display for ScaleSpec {
    /// As written: `3`, `+2`, `-1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScaleSpec::Absolute(n) => write!(f, "{n}"),
            ScaleSpec::Relative(d) if *d >= 0 => write!(f, "+{d}"),
            ScaleSpec::Relative(d) => write!(f, "{d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(ScaleSpec::parse("3"), Ok(ScaleSpec::Absolute(3)));
        assert_eq!(ScaleSpec::parse(" 3 "), Ok(ScaleSpec::Absolute(3)));
        assert_eq!(ScaleSpec::parse("+2"), Ok(ScaleSpec::Relative(2)));
        assert_eq!(ScaleSpec::parse("-1"), Ok(ScaleSpec::Relative(-1)));
        assert_eq!(ScaleSpec::parse("+0"), Ok(ScaleSpec::Relative(0)));
        assert_eq!(ScaleSpec::parse("007"), Ok(ScaleSpec::Absolute(7)));
        assert_eq!(
            ScaleSpec::parse("4294967295"),
            Ok(ScaleSpec::Absolute(u32::MAX))
        );
    }

    #[test]
    fn rejects_what_is_not_a_scale() {
        for bad in [
            "",
            " ",
            "+",
            "-",
            "+x",
            "x",
            "1.5",
            "--1",
            "+-1",
            "-+1",
            "1_000",
            "1e3",
            "0x10",
            "+ 1",
            "3 4",
            "٣",
            "4294967296",
            "99999999999999999999999",
        ] {
            assert!(ScaleSpec::parse(bad).is_err(), "{bad:?} parsed");
        }
        let e = ScaleSpec::parse("0").unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
    }

    #[test]
    fn apply_is_absolute_or_relative_with_a_floor_of_one() {
        assert_eq!(ScaleSpec::Absolute(5).apply(2), Ok(5));
        assert_eq!(ScaleSpec::Relative(2).apply(1), Ok(3));
        assert_eq!(ScaleSpec::Relative(-1).apply(3), Ok(2));
        assert_eq!(ScaleSpec::Relative(-1).apply(1), Ok(1));
        assert_eq!(ScaleSpec::Relative(-10).apply(3), Ok(1));
        assert_eq!(ScaleSpec::Relative(0).apply(0), Ok(1));
        assert_eq!(ScaleSpec::Relative(i64::MIN).apply(u32::MAX), Ok(1));
        assert!(ScaleSpec::Relative(1).apply(u32::MAX).is_err());
        assert!(ScaleSpec::Relative(i64::MAX).apply(0).is_err());
        assert!(ScaleSpec::Absolute(0).apply(3).is_err());
    }

    #[test]
    fn displays_as_written() {
        for s in ["3", "+2", "-1", "+0"] {
            assert_eq!(ScaleSpec::parse(s).unwrap().to_string(), s);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn parse_and_apply_never_panic(s in ".*", current in any::<u32>()) {
            if let Ok(spec) = ScaleSpec::parse(&s) {
                let n = spec.apply(current);
                if let Ok(n) = n { prop_assert!(n >= 1); }
                prop_assert_eq!(ScaleSpec::parse(&spec.to_string()), Ok(spec));
            }
        }

        #[test]
        fn signed_numbers_round_trip(n in any::<i32>(), current in 0u32..10_000) {
            let text = if n >= 0 { format!("+{n}") } else { n.to_string() };
            let spec = ScaleSpec::parse(&text).unwrap();
            prop_assert_eq!(spec, ScaleSpec::Relative(i64::from(n)));
            let want = (i64::from(current) + i64::from(n)).max(1);
            prop_assert_eq!(spec.apply(current).map(i64::from), Ok(want));
        }

        #[test]
        fn absolute_ignores_what_runs(n in 1u32.., a in any::<u32>(), b in any::<u32>()) {
            let spec = ScaleSpec::Absolute(n);
            prop_assert_eq!(spec.apply(a), Ok(n));
            prop_assert_eq!(spec.apply(a), spec.apply(b));
        }

        #[test]
        fn relative_is_monotone_and_floored(delta in any::<i64>(), a in any::<u32>(), b in any::<u32>()) {
            let spec = ScaleSpec::Relative(delta);
            let (lo, hi) = (a.min(b), a.max(b));
            if let (Ok(x), Ok(y)) = (spec.apply(lo), spec.apply(hi)) {
                prop_assert!(1 <= x && x <= y, "{spec} on {lo} gave {x}, on {hi} gave {y}");
                // Up never lowers, down never raises.
                if delta >= 0 { prop_assert!(x >= lo.max(1)); } else { prop_assert!(x <= lo.max(1)); }
            }
            // Past u32::MAX is an error, never a wrapped count.
            if i128::from(hi) + i128::from(delta) > i128::from(u32::MAX) {
                prop_assert!(spec.apply(hi).is_err());
            }
        }

        #[test]
        fn up_then_down_comes_back(d in 0i64..1_000_000, current in 1u32..1_000_000) {
            let up = ScaleSpec::Relative(d).apply(current).unwrap();
            prop_assert_eq!(ScaleSpec::Relative(-d).apply(up), Ok(current));
        }
    }
}
