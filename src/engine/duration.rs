//! Durations and byte sizes written the way Compose reads them.
//!
//! - Durations (`healthcheck.*`, `stop_grace_period`): Go's `time.ParseDuration` (compose-go
//!   `types.Duration`), e.g. `1m30s`, `10s`, `500ms`, `1.5h`, `0`.
//! - Byte sizes (`mem_limit`, `mem_reservation`, `memswap_limit`, `shm_size`,
//!   `deploy.resources.*.memory`, `tmpfs.size`): go-units `RAMInBytes` (compose-go
//!   `types.UnitBytes`): binary multipliers, so `1g`, `1gb`, `1GiB` and `1G` are all 1024³ bytes
//!   and `1.5GB` is 1.5 × 1024³; a bare number is bytes.

/// Parses a Go duration into nanoseconds. `Err` carries a reason for the caller's message.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {text:?} (expected e.g. 10s, 1m30s, 500ms)");
    let mut s = text.trim();
    let mut negative = false;
    if let Some(rest) = s.strip_prefix('-') {
        negative = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: i128 = 0;
    while !s.is_empty() {
        let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int_part, rest) = s.split_at(int_len);
        let (frac_part, rest) = match rest.strip_prefix('.') {
            Some(r) => {
                let n = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
                r.split_at(n)
            }
            None => ("", rest),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let (unit, rest) = rest.split_at(unit_len);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            _ => return Err(bad()),
        };
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad())?
        };
        let mut value = whole * scale;
        if !frac_part.is_empty() {
            // Only as many digits as can matter for nanoseconds.
            let digits = &frac_part[..frac_part.len().min(18)];
            let frac: i128 = digits.parse().map_err(|_| bad())?;
            value += frac * scale / 10i128.pow(digits.len() as u32);
        }
        total += value;
        if total > i64::MAX as i128 {
            return Err(format!("duration {text:?} is too long"));
        }
        s = rest;
    }
    Ok(if negative {
        -(total as i64)
    } else {
        total as i64
    })
}

/// Parses a byte size with go-units `RAMInBytes` semantics.
pub fn parse_ram_bytes(text: &str) -> Result<i64, String> {
    let bad = || format!("invalid size {text:?} (expected e.g. 512m, 1g, 1.5GB or bytes)");
    let s = text;
    let sep = s
        .rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')
        .ok_or_else(bad)?;
    let (num, sfx) = if s.as_bytes()[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num.trim().parse().map_err(|_| bad())?;
    if size < 0.0 || !size.is_finite() {
        return Err(bad());
    }
    if sfx.is_empty() {
        return Ok(size as i64);
    }
    if sfx.len() > 3 {
        return Err(bad());
    }
    let sfx = sfx.to_ascii_lowercase();
    let b = sfx.as_bytes();
    if b[0] == b'b' {
        return if b.len() == 1 {
            Ok(size as i64)
        } else {
            Err(bad())
        };
    }
    let mul: f64 = match b[0] {
        b'k' => 1024f64,
        b'm' => 1024f64.powi(2),
        b'g' => 1024f64.powi(3),
        b't' => 1024f64.powi(4),
        b'p' => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    match (b.len(), &sfx[1..]) {
        (1, _) | (2, "b") | (3, "ib") => Ok((size * mul) as i64),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_parses_them() {
        assert_eq!(parse_duration("10s"), Ok(10_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("1h2m3s4ms5us6ns"), Ok(3_723_004_005_006));
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("-2s"), Ok(-2_000_000_000));
        assert_eq!(parse_duration("3µs"), Ok(3_000));
        for bad in ["", "10", "s", "1x", "1.s.", "1d", "--1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn sizes_as_go_units_ram_in_bytes() {
        assert_eq!(parse_ram_bytes("512m"), Ok(512 << 20));
        assert_eq!(parse_ram_bytes("1g"), Ok(1 << 30));
        assert_eq!(parse_ram_bytes("1GB"), Ok(1 << 30));
        assert_eq!(parse_ram_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_ram_bytes("1.5GB"), Ok(1_610_612_736));
        assert_eq!(parse_ram_bytes("64k"), Ok(65_536));
        assert_eq!(parse_ram_bytes("1024"), Ok(1024));
        assert_eq!(parse_ram_bytes("10b"), Ok(10));
        assert_eq!(parse_ram_bytes("2 m"), Ok(2 << 20));
        for bad in ["", "m", "1x", "1mbb", "1gib2", "-1m", "1bb"] {
            assert!(parse_ram_bytes(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
