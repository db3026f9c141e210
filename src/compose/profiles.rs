//! Profiles: a service with `profiles:` is active only when one of them is enabled (`*` enables
//! all); a service without profiles is always active.

/// The enabled profiles from `--profile` or, when none is given, `COMPOSE_PROFILES`
/// (comma-separated, blanks ignored).
pub fn enabled_profiles(cli: &[String], compose_profiles: Option<&str>) -> Vec<String> {
    let from_env;
    let list: &[String] = if cli.is_empty() {
        from_env = compose_profiles
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>();
        &from_env
    } else {
        cli
    };
    list.iter().filter(|p| !p.is_empty()).cloned().collect()
}

/// Whether a service with `profiles` is active under `enabled`.
pub fn is_active(profiles: &[String], enabled: &[String]) -> bool {
    profiles.is_empty()
        || enabled.iter().any(|e| e == "*")
        || profiles.iter().any(|p| enabled.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn activity() {
        assert!(is_active(&[], &[]));
        assert!(!is_active(&v(&["debug"]), &[]));
        assert!(is_active(&v(&["debug", "x"]), &v(&["x"])));
        assert!(is_active(&v(&["debug"]), &v(&["*"])));
        assert!(!is_active(&v(&["debug"]), &v(&["other"])));
    }

    #[test]
    fn cli_wins_over_env() {
        assert_eq!(enabled_profiles(&v(&["a"]), Some("b,c")), v(&["a"]));
        assert_eq!(enabled_profiles(&[], Some(" b, ,c ")), v(&["b", "c"]));
        assert!(enabled_profiles(&[], None).is_empty());
    }
}
