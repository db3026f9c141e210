//! Project names: Compose's normalisation and the validity rule for imperatively given names.

use super::error::ComposeError;

/// Lowercases, keeps only `[a-z0-9_-]` and trims leading `_`/`-` (compose-go's
/// `NormalizeProjectName`).
pub fn normalize_project_name(s: &str) -> String {
    let kept: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// A name given with `-p` or `COMPOSE_PROJECT_NAME` must already be normal.
pub fn check_imperative_name(name: &str) -> Result<(), ComposeError> {
    if normalize_project_name(name) != name || name.is_empty() {
        return Err(ComposeError::InvalidProjectName {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalize_project_name("My App.v2"), "myappv2");
        assert_eq!(normalize_project_name("__-x_y-"), "x_y-");
        assert_eq!(normalize_project_name("Ünïcode"), "ncode");
        assert_eq!(normalize_project_name("..."), "");
    }

    #[test]
    fn imperative_names_must_be_normal() {
        assert!(check_imperative_name("ok-name_1").is_ok());
        let e = check_imperative_name("Bad").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid project name \"Bad\": must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
        );
        assert!(check_imperative_name("-x").is_err());
    }
}
