//! Scaling replicates the release that runs: with the compose environment changed since the
//! deploy (here RELEASE), `scale +2` adds instances of the deployed release and leaves the
//! running one alone, and `scale -1` removes one without recreating the others — under load,
//! nothing lost.

mod common;

use common::docker_ok;
use common::tour::{Load, Tour};

fn ids(tour: &Tour) -> Vec<String> {
    let out = docker_ok(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=com.docker.flow.service={}", tour.service()),
        "--filter",
        "label=com.docker.flow.color=blue",
    ]);
    let mut v: Vec<String> = out.split_whitespace().map(String::from).collect();
    v.sort();
    v
}

#[test]
fn scale_replicates_the_deployed_release_whatever_the_compose_file_says_now() {
    let tour = Tour::new(true);
    tour.ok(&[("RELEASE", "v1")], &["deploy", "--flow=proxy"]);
    let first = ids(&tour);
    assert_eq!(first.len(), 1);

    let load = Load::start(tour.url("/demo/hello"));
    tour.ok(&[("RELEASE", "v9")], &["scale", "+2"]);
    let three = ids(&tour);
    assert_eq!(three.len(), 3);
    assert!(
        three.contains(&first[0]),
        "the running instance was recreated"
    );
    // Every instance answers as the deployed release.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..30 {
        seen.insert(tour.release().unwrap_or_default());
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["v1"]);

    tour.ok(&[("RELEASE", "v9")], &["scale", "-1"]);
    let two = ids(&tour);
    assert_eq!(two.len(), 2);
    assert!(
        two.iter().all(|id| three.contains(id)),
        "scale -1 recreated instances"
    );
    let (ok, failed, errors) = load.finish();
    assert_eq!(failed, 0, "{errors:?}");
    assert!(ok > 0);
    assert_eq!(tour.release().as_deref(), Some("v1"));
}
