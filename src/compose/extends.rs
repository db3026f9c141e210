//! `extends`: a service starts from another service (of the same file, or of `file:` relative
//! to the extending file), recursively, the extending service's keys merged over the base with
//! the usual override rules. Bases from other files are loaded once and keep their relative
//! paths resolved against their own directory (done by `normalize` when loading them).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::error::ComposeError;
use super::files::absolute;
use super::merge::merge_service;
use super::value::{s, scalar};

/// Loads another file's canonical `services` mapping (interpolated, not yet extended).
pub(crate) type LoadServices<'a> = dyn FnMut(&Path) -> Result<Mapping, ComposeError> + 'a;

struct FileServices {
    services: Mapping,
    done: HashSet<String>,
}

/// Resolves `extends` across files for one load.
pub(crate) struct Extender<'a> {
    files: HashMap<PathBuf, FileServices>,
    load: &'a mut LoadServices<'a>,
}

impl<'a> Extender<'a> {
    pub(crate) fn new(load: &'a mut LoadServices<'a>) -> Self {
        Extender {
            files: HashMap::new(),
            load,
        }
    }

    /// Resolves every service of `services` (the services of `file`) in place.
    pub(crate) fn apply(
        &mut self,
        file: &Path,
        services: &mut Mapping,
    ) -> Result<(), ComposeError> {
        if !services
            .values()
            .any(|s| s.as_mapping().is_some_and(|m| m.contains_key("extends")))
        {
            return Ok(());
        }
        self.files.insert(
            file.to_path_buf(),
            FileServices {
                services: std::mem::take(services),
                done: HashSet::new(),
            },
        );
        let names: Vec<String> = self.files[file]
            .services
            .keys()
            .filter_map(scalar)
            .collect();
        let mut stack = Vec::new();
        let result = names
            .iter()
            .try_for_each(|n| self.resolve(file, n, &mut stack).map(|_| ()));
        let entry = self.files.remove(file).expect("inserted above");
        *services = entry.services;
        result
    }

    /// Resolves service `name` of `file` and returns its resolved definition.
    fn resolve(
        &mut self,
        file: &Path,
        name: &str,
        stack: &mut Vec<(PathBuf, String)>,
    ) -> Result<Mapping, ComposeError> {
        if !self.files.contains_key(file) {
            let services = (self.load)(file)?;
            self.files.insert(
                file.to_path_buf(),
                FileServices {
                    services,
                    done: HashSet::new(),
                },
            );
        }
        let entry = self.files.get(file).expect("loaded above");
        let svc = match entry.services.get(name) {
            Some(Value::Mapping(m)) => m.clone(),
            Some(_) => Mapping::new(),
            None => unreachable!("caller checked the service exists"),
        };
        if entry.done.contains(name) {
            return Ok(svc);
        }
        let Some(ext) = svc.get("extends").cloned() else {
            self.mark_done(file, name, None);
            return Ok(svc);
        };
        let (base_name, base_file) = match &ext {
            Value::String(n) => (n.clone(), None),
            Value::Mapping(m) => (
                m.get("service").and_then(scalar).ok_or_else(|| {
                    ComposeError::value(file, name, "extends", "extends.service is required")
                })?,
                m.get("file").and_then(scalar),
            ),
            _ => {
                return Err(ComposeError::value(
                    file,
                    name,
                    "extends",
                    "must be a string or mapping",
                ))
            }
        };
        let key = (file.to_path_buf(), name.to_string());
        if let Some(pos) = stack.iter().position(|k| *k == key) {
            let mut chain: Vec<String> = stack[pos..].iter().map(|(_, n)| n.clone()).collect();
            chain.push(name.to_string());
            return Err(ComposeError::ExtendsCycle {
                file: file.to_path_buf(),
                chain,
            });
        }
        let base_path = match &base_file {
            Some(f) => {
                let dir = file.parent().unwrap_or(Path::new("/"));
                absolute(dir, Path::new(f))
            }
            None => file.to_path_buf(),
        };
        if base_file.is_some() && !self.files.contains_key(&base_path) {
            let services = (self.load)(&base_path)?;
            self.files.insert(
                base_path.clone(),
                FileServices {
                    services,
                    done: HashSet::new(),
                },
            );
        }
        if !self.files[&base_path]
            .services
            .contains_key(base_name.as_str())
        {
            return Err(ComposeError::in_file(
                file,
                match &base_file {
                    None => {
                        format!("cannot extend service {name:?}: service {base_name:?} not found")
                    }
                    Some(f) => format!(
                        "cannot extend service {name:?}: service {base_name:?} not found in {f}"
                    ),
                },
            ));
        }
        stack.push(key);
        let base = self.resolve(&base_path, &base_name, stack);
        stack.pop();
        let mut merged = base?;
        let mut over = svc;
        over.shift_remove("extends");
        merged.shift_remove("extends");
        merge_service(&mut merged, over);
        self.mark_done(file, name, Some(merged.clone()));
        Ok(merged)
    }

    fn mark_done(&mut self, file: &Path, name: &str, resolved: Option<Mapping>) {
        if let Some(entry) = self.files.get_mut(file) {
            if let Some(m) = resolved {
                entry.services.insert(s(name), Value::Mapping(m));
            }
            entry.done.insert(name.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(y: &str) -> Mapping {
        serde_yaml::from_str(y).unwrap()
    }

    #[test]
    fn same_file_recursive() {
        let mut s = services(
            "web: {extends: mid, command: [c]}\nmid: {extends: {service: base}, user: u}\nbase: {image: i, command: [b]}",
        );
        let mut load = |_: &Path| -> Result<Mapping, ComposeError> { unreachable!() };
        Extender::new(&mut load)
            .apply(Path::new("/p/c.yaml"), &mut s)
            .unwrap();
        let want = services(
            "web: {image: i, command: [c], user: u}\nmid: {image: i, command: [b], user: u}\nbase: {image: i, command: [b]}",
        );
        assert_eq!(s, want);
    }

    #[test]
    fn cycles_are_errors() {
        let mut s = services("a: {extends: b}\nb: {extends: c}\nc: {extends: a}");
        let mut load = |_: &Path| -> Result<Mapping, ComposeError> { unreachable!() };
        let e = Extender::new(&mut load)
            .apply(Path::new("/p/c.yaml"), &mut s)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "/p/c.yaml: circular reference with extends: a -> b -> c -> a"
        );
    }

    #[test]
    fn other_file_and_missing_base() {
        let mut s = services("web: {extends: {file: base.yaml, service: common}, user: u}");
        let mut calls = 0;
        let mut load = |p: &Path| -> Result<Mapping, ComposeError> {
            calls += 1;
            assert_eq!(p, Path::new("/p/base.yaml"));
            Ok(services("common: {image: i, user: root}"))
        };
        Extender::new(&mut load)
            .apply(Path::new("/p/c.yaml"), &mut s)
            .unwrap();
        assert_eq!(s, services("web: {image: i, user: u}"));
        assert_eq!(calls, 1);

        let mut s = services("web: {extends: nope}");
        let mut load = |_: &Path| -> Result<Mapping, ComposeError> { unreachable!() };
        let e = Extender::new(&mut load)
            .apply(Path::new("/p/c.yaml"), &mut s)
            .unwrap_err();
        assert!(e.to_string().contains("service \"nope\" not found"), "{e}");
    }
}
