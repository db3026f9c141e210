//! One proxy shared by two services: more specific routes win whatever the deploy order, and
//! switches of both services at the same moment (two processes) both land — each flow reads the
//! proxy's picture from Consul, applies it and records its outcome under the proxy's lock, so
//! neither applies a picture that misses the other's switch.

mod common;

use std::thread;

use common::tour::{both, Tour};

#[test]
fn two_services_switching_at_once_on_one_proxy_both_land() {
    let a = Tour::new(true);
    let b = Tour::new(true);
    let port = a.port.to_string();
    let on_a = [
        ("FLOW_PROXY_NAME", a.proxy.as_str()),
        ("FLOW_PROXY_HTTP_PORT", port.as_str()),
        ("FLOW_SERVICE_DOMAIN", "two.test"),
    ];
    let with = |extra: (&'static str, &'static str)| {
        let mut v = on_a.to_vec();
        v.push(extra);
        v
    };
    // a: /demo on any host, deployed first; b: /demo on two.test, deployed second.
    a.ok(&[("RELEASE", "a0")], &["deploy", "--flow=proxy"]);
    b.ok(&with(("RELEASE", "b0")), &["deploy", "--flow=proxy"]);
    let release = |host: Option<&str>| {
        let header = host.map(|h| format!("Host: {h}"));
        let headers: Vec<&str> = header.iter().map(String::as_str).collect();
        a.get("/demo/hello", &headers)
            .filter(|(s, _, _)| *s == 200)
            .map(|(_, _, r)| r)
    };
    assert_eq!(release(None).as_deref(), Some("a0"));
    assert_eq!(release(Some("two.test")).as_deref(), Some("b0"));

    for round in 1..=3 {
        let (ra, rb) = (format!("a{round}"), format!("b{round}"));
        a.ok(&[("RELEASE", ra.as_str())], &["deploy"]);
        let mut env_b = on_a.to_vec();
        env_b.push(("RELEASE", rb.as_str()));
        b.ok(&env_b, &["deploy"]);
        // Both switches at once.
        let (out_a, out_b) = thread::scope(|s| {
            let ta = s.spawn(|| a.flow(&[], &["proxy"]));
            let tb = s.spawn(|| b.flow(&on_a, &["proxy"]));
            (ta.join().unwrap(), tb.join().unwrap())
        });
        assert!(out_a.status.success(), "a: {}", both(&out_a));
        assert!(out_b.status.success(), "b: {}", both(&out_b));
        assert_eq!(release(None), Some(ra.clone()), "round {round}");
        assert_eq!(release(Some("two.test")), Some(rb.clone()), "round {round}");
        a.ok(&[], &["stop-old"]);
        b.ok(&on_a, &["stop-old"]);
    }
}
