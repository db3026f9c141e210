//! The Consul layer against real Consul: the bed's dev agent (1.8.7), a second ACL-enabled
//! Consul in a container, and the embedded Consul on the bed's engine.

mod common;

use std::time::{Duration, Instant};

use bollard::Docker;
use common::{bed, curl, docker_ok, published_port, unique, wait_until_async, Cleanup};
use docker_flow::registry::{
    ensure_embedded, holder_text, Check, Consul, ConsulConfig, EmbeddedConsul, Registration,
    RegistryError, StateVersion, SESSION_TTL,
};
use docker_flow::release::{Color, PathType, Release, ReleaseState, Routes, Template};

fn consul() -> Consul {
    Consul::new(&ConsulConfig::new(bed().consul.clone())).expect("consul client")
}

/// A unique service name whose keys are removed afterwards.
fn service(cleanup: &mut Cleanup, what: &str) -> String {
    let svc = unique(what);
    cleanup.consul_prefix(&format!("docker-flow/{svc}/"));
    svc
}

fn kv_raw(key: &str) -> Result<String, String> {
    curl(&["-fsS", &format!("{}/v1/kv/{key}?raw", bed().consul)])
}

fn kv_put(key: &str, value: &str) {
    curl(&[
        "-fsS",
        "-X",
        "PUT",
        "--data-binary",
        value,
        &format!("{}/v1/kv/{key}", bed().consul),
    ])
    .unwrap_or_else(|e| panic!("put {key}: {e}"));
}

fn release(n: u64) -> Release {
    Release {
        color: if n % 2 == 0 {
            Color::Blue
        } else {
            Color::Green
        },
        image: format!("app:{n}"),
        image_id: format!("sha256:{n:064x}"),
        scale: 2,
        event: "deployed".into(),
        at: 1_700_000_000 + n,
    }
}

async fn engine() -> Docker {
    let host = bed().docker_host.strip_prefix("unix://").expect("unix bed");
    Docker::connect_with_unix(host, 30, bollard::API_DEFAULT_VERSION)
        .expect("docker client")
        .negotiate_version()
        .await
        .expect("negotiate")
}

#[tokio::test]
async fn state_round_trip_keeps_the_original_key_format() {
    let mut cleanup = Cleanup::new();
    let svc = service(&mut cleanup, "state");
    let c = consul();

    let (empty, version) = c.read_state(&svc).await.unwrap();
    assert_eq!(empty, ReleaseState::default());
    assert!(version.is_empty());

    let state = ReleaseState {
        live: Some(Color::Green),
        scale: Some(3),
        candidate: Some(Color::Blue),
        routes: Some(Routes {
            paths: vec!["/demo".into()],
            domains: vec!["example.com".into()],
            port: 8080,
            path_type: PathType::Prefix,
            proxy: None,
            networks: Vec::new(),
        }),
        history: (0..25).map(release).collect(),
        template: Some(Template::Pair {
            fe: "acl url_{{.ServiceName}} path_beg /demo".into(),
            be: "backend {{.ServiceName}}-be".into(),
        }),
    };
    let written = c.write_state(&svc, &state, &version).await.unwrap();
    assert!(!written.is_empty());

    // The original tool's keys, readable by hand and by consul-template.
    assert_eq!(
        kv_raw(&format!("docker-flow/{svc}/color")).unwrap(),
        "green"
    );
    assert_eq!(kv_raw(&format!("docker-flow/{svc}/scale")).unwrap(), "3");
    assert_eq!(
        kv_raw(&format!("docker-flow/{svc}/candidate")).unwrap(),
        "blue"
    );
    let routes = kv_raw(&format!("docker-flow/{svc}/routes")).unwrap();
    assert!(routes.contains("\"/demo\""), "{routes}");

    let (back, version) = c.read_state(&svc).await.unwrap();
    assert_eq!(back.live, state.live);
    assert_eq!(back.scale, state.scale);
    assert_eq!(back.candidate, state.candidate);
    assert_eq!(back.routes, state.routes);
    assert_eq!(
        back.history,
        state.history[5..].to_vec(),
        "the last 20 kept"
    );
    assert_eq!(
        written, version,
        "write_state returns the version a read gives"
    );

    // Clearing the candidate deletes its key; the returned version allows a next write.
    let next = ReleaseState {
        candidate: None,
        ..back.clone()
    };
    let v2 = c.write_state(&svc, &next, &version).await.unwrap();
    assert!(kv_raw(&format!("docker-flow/{svc}/candidate")).is_err());
    let again = ReleaseState {
        scale: Some(4),
        ..next.clone()
    };
    c.write_state(&svc, &again, &v2).await.unwrap();
    assert_eq!(c.read_state(&svc).await.unwrap().0, again);

    assert!(c.services().await.unwrap().contains(&svc));
}

#[tokio::test]
async fn hand_written_original_keys_are_read() {
    let mut cleanup = Cleanup::new();
    let svc = service(&mut cleanup, "orig");
    // What the original docker-flow (and docker-flow-proxy, with its own keys) left behind.
    kv_put(&format!("docker-flow/{svc}/color"), "blue");
    kv_put(&format!("docker-flow/{svc}/scale"), "2");
    kv_put(&format!("docker-flow/{svc}/path"), "/demo");
    let (state, version) = consul().read_state(&svc).await.unwrap();
    assert_eq!(state.live, Some(Color::Blue));
    assert_eq!(state.scale, Some(2));
    assert_eq!(state.candidate, None);
    assert!(!version.is_empty());
    // Writing keeps the foreign key.
    let next = ReleaseState {
        live: Some(Color::Green),
        ..state
    };
    consul().write_state(&svc, &next, &version).await.unwrap();
    assert_eq!(kv_raw(&format!("docker-flow/{svc}/path")).unwrap(), "/demo");
    assert_eq!(
        kv_raw(&format!("docker-flow/{svc}/color")).unwrap(),
        "green"
    );
}

#[tokio::test]
async fn garbage_values_are_errors_naming_the_key() {
    let mut cleanup = Cleanup::new();
    let c = consul();
    let cases = [
        ("color", "purple"),
        ("color", "Permission denied"),
        ("candidate", "red"),
        ("scale", "-3"),
        ("scale", "x"),
        ("scale", "0"),
        ("routes", "{not json"),
        ("releases", "[{\"color\":\"blue\"}]"),
        ("template", "just text"),
    ];
    for (name, value) in cases {
        let svc = service(&mut cleanup, "garbage");
        let key = format!("docker-flow/{svc}/{name}");
        kv_put(&key, value);
        let err = c.read_state(&svc).await.unwrap_err();
        assert!(
            matches!(err, RegistryError::InvalidValue { .. }),
            "{name}={value}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&key), "{text}");
        assert!(text.contains(&format!("{value:?}")), "{text}");
        assert!(text.contains(&format!("consul kv put {key}")), "{text}");
        assert!(text.contains(&format!("consul kv delete {key}")), "{text}");
        assert!(text.contains(&bed().consul), "{text}");
    }
}

#[tokio::test]
async fn concurrent_writers_conflict() {
    let mut cleanup = Cleanup::new();
    let svc = service(&mut cleanup, "cas");
    let c = consul();

    // Two first deploys: both saw no state.
    let first = ReleaseState {
        live: Some(Color::Blue),
        scale: Some(1),
        ..Default::default()
    };
    c.write_state(&svc, &first, &StateVersion::default())
        .await
        .unwrap();
    let err = c
        .write_state(&svc, &first, &StateVersion::default())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Conflict { .. }), "{err:?}");

    // Two writers with the same version: the second fails and writes nothing.
    let (state, version) = c.read_state(&svc).await.unwrap();
    let a = ReleaseState {
        live: Some(Color::Green),
        ..state.clone()
    };
    let b = ReleaseState {
        scale: Some(5),
        ..state.clone()
    };
    c.write_state(&svc, &a, &version).await.unwrap();
    let err = c.write_state(&svc, &b, &version).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("changed by someone else"), "{text}");
    assert!(text.contains(&svc), "{text}");
    assert_eq!(c.read_state(&svc).await.unwrap().0, a, "b wrote nothing");
}

#[tokio::test]
async fn lock_contention_names_the_holder() {
    let mut cleanup = Cleanup::new();
    let svc = service(&mut cleanup, "lock");
    let c = consul();
    let key = format!("docker-flow/{svc}/.lock");

    let holder = holder_text("deploy");
    assert!(
        holder.starts_with("deploy by ") && holder.contains(" pid "),
        "{holder}"
    );
    let first = c.lock(&svc, &holder, Duration::from_secs(1)).await.unwrap();
    assert_eq!(kv_raw(&key).unwrap(), holder);

    let start = Instant::now();
    let err = c
        .lock(&svc, "deploy by someone else", Duration::from_secs(1))
        .await
        .unwrap_err();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let text = err.to_string();
    assert!(matches!(err, RegistryError::Locked { .. }), "{err:?}");
    assert!(text.contains(&holder), "{text}");
    assert!(text.contains(&key), "{text}");

    // A waiter is woken by the release (blocking query), not by a poll after the deadline.
    let c2 = c.clone();
    let svc2 = svc.clone();
    let waiter = tokio::spawn(async move {
        let start = Instant::now();
        let lock = c2
            .lock(&svc2, "scale by waiter", Duration::from_secs(20))
            .await;
        (lock, start.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.release().await.unwrap();
    let (second, took) = waiter.await.unwrap();
    let second = second.unwrap();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(kv_raw(&key).unwrap(), "scale by waiter");
    second.release().await.unwrap();
    assert!(kv_raw(&key).is_err(), "released lock leaves no key");

    // A lock whose session is destroyed (as when its TTL expires) frees up at once.
    let third = c
        .lock(&svc, "deploy by a killed process", Duration::from_secs(1))
        .await
        .unwrap();
    curl(&[
        "-fsS",
        "-X",
        "PUT",
        &format!("{}/v1/session/destroy/{}", bed().consul, third.session()),
    ])
    .unwrap();
    let fourth = c
        .lock(&svc, "deploy by the next one", Duration::from_secs(2))
        .await
        .unwrap();
    wait_until_async(
        "the first holder to notice its lock is lost",
        Duration::from_secs(10),
        || {
            let lost = third.is_lost();
            async move { lost.then_some(()) }
        },
    )
    .await;
    fourth.release().await.unwrap();
    drop(third);

    // Dropping an unreleased lock frees it in the background.
    let dropped = c
        .lock(&svc, "deploy by a dropped lock", Duration::from_secs(1))
        .await
        .unwrap();
    drop(dropped);
    let again = c
        .lock(&svc, "deploy after drop", Duration::from_secs(5))
        .await
        .unwrap();
    again.release().await.unwrap();
}

/// A run waiting for a killed run's lock waits up to twice the session TTL: its own session
/// must stay valid meanwhile (it used to expire unrenewed, and the acquire then failed with
/// "invalid session").
#[tokio::test]
async fn a_lock_waited_for_longer_than_the_session_ttl_is_acquired() {
    let mut cleanup = Cleanup::new();
    let svc = service(&mut cleanup, "longwait");
    let c = consul();
    let first = c
        .lock(&svc, "deploy by a slow one", Duration::from_secs(1))
        .await
        .unwrap();
    let c2 = c.clone();
    let svc2 = svc.clone();
    let waiter = tokio::spawn(async move {
        c2.lock(&svc2, "deploy by the patient one", Duration::from_secs(90))
            .await
    });
    tokio::time::sleep(SESSION_TTL * 2 + Duration::from_secs(2)).await;
    first.release().await.unwrap();
    let second = waiter.await.unwrap().expect("the waiter gets the lock");
    second.release().await.unwrap();
}

#[tokio::test]
async fn http_check_against_a_demo_container() {
    let bed = bed();
    let mut cleanup = Cleanup::new();
    let container = unique("demo");
    cleanup.container(&bed.docker_host, &container);
    docker_ok(&[
        "-H",
        &bed.docker_host,
        "run",
        "-d",
        "--name",
        &container,
        "-p",
        "127.0.0.1::8080",
        &bed.demo_image,
    ]);
    let port = published_port(&bed.docker_host, &container, 8080);
    let name = format!("{}-blue", unique("svc"));
    cleanup.consul_service(&container);
    let c = consul();
    c.register(&Registration {
        id: container.clone(),
        name: name.clone(),
        address: "127.0.0.1".into(),
        port,
        tags: vec!["blue".into()],
        check: Check::Http {
            url: format!("http://127.0.0.1:{port}/health"),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        },
    })
    .await
    .unwrap();

    let passing = wait_until_async(
        "the instance to pass its check",
        Duration::from_secs(30),
        || {
            let c = c.clone();
            let name = name.clone();
            async move {
                let list = c.instances(&name, true).await.unwrap();
                (!list.is_empty()).then_some(list)
            }
        },
    )
    .await;
    assert_eq!(passing.len(), 1);
    assert_eq!(passing[0].id, container);
    assert_eq!(passing[0].address, "127.0.0.1");
    assert_eq!(passing[0].port, port);
    assert_eq!(passing[0].tags, vec!["blue".to_string()]);
    assert!(passing[0].passing);

    c.deregister(&container).await.unwrap();
    assert!(c.instances(&name, false).await.unwrap().is_empty());
    c.deregister(&container).await.unwrap(); // already gone is fine
    assert!(c
        .instances("dftest-no-such-service", false)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn tcp_check_follows_the_listener() {
    let mut cleanup = Cleanup::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let id = unique("tcp");
    let name = format!("{id}-green");
    cleanup.consul_service(&id);
    let c = consul();
    c.register(&Registration {
        id: id.clone(),
        name: name.clone(),
        address: "127.0.0.1".into(),
        port,
        tags: vec![],
        check: Check::Tcp {
            address: format!("127.0.0.1:{port}"),
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
        },
    })
    .await
    .unwrap();
    let instance = |want: bool| {
        let c = c.clone();
        let name = name.clone();
        async move {
            let all = c.instances(&name, false).await.unwrap();
            let passing = c.instances(&name, true).await.unwrap();
            (all.len() == 1 && all[0].passing == want && passing.len() == usize::from(want))
                .then_some(())
        }
    };
    wait_until_async("the TCP check to pass", Duration::from_secs(20), || {
        instance(true)
    })
    .await;
    drop(listener);
    wait_until_async("the TCP check to fail", Duration::from_secs(20), || {
        instance(false)
    })
    .await;
    c.deregister(&id).await.unwrap();
}

#[tokio::test]
async fn unreachable_consul_is_a_clear_error() {
    let c = Consul::new(&ConsulConfig::new("127.0.0.1:1")).unwrap();
    let text = c.read_state("app").await.unwrap_err().to_string();
    assert_eq!(
        text,
        "Consul at http://127.0.0.1:1 is unreachable (connection refused): start it, or set --consul-address / FLOW_CONSUL_ADDRESS / CONSUL_HTTP_ADDR"
    );
    let text = c.ping().await.unwrap_err().to_string();
    assert!(text.contains("connection refused"), "{text}");
    let text = c
        .lock("app", "x", Duration::from_secs(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("unreachable"), "{text}");
}

/// A second Consul with ACLs on (default deny), in a container on a random loopback port.
async fn acl_consul(cleanup: &mut Cleanup) -> String {
    let bed = bed();
    let name = unique("consul-acl");
    cleanup.container(&bed.docker_host, &name);
    docker_ok(&[
        "-H",
        &bed.docker_host,
        "run",
        "-d",
        "--name",
        &name,
        "-p",
        "127.0.0.1::8500",
        &bed.consul_image,
        "agent",
        "-server",
        "-bootstrap-expect=1",
        "-bind=127.0.0.1",
        "-client=0.0.0.0",
        "-data-dir=/consul/data",
        "-hcl",
        r#"acl { enabled = true default_policy = "deny" tokens { master = "root-token" } }"#,
    ]);
    let port = published_port(&bed.docker_host, &name, 8500);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn acl_denial_says_to_set_a_token() {
    let mut cleanup = Cleanup::new();
    let address = acl_consul(&mut cleanup).await;
    let anonymous = Consul::new(&ConsulConfig::new(address.clone())).unwrap();
    let root = Consul::new(&ConsulConfig {
        token: Some("root-token".into()),
        ..ConsulConfig::new(address.clone())
    })
    .unwrap();
    let bogus = Consul::new(&ConsulConfig {
        token: Some("bogus-secret-token".into()),
        ..ConsulConfig::new(address.clone())
    })
    .unwrap();

    // The master token works once ACLs are bootstrapped.
    wait_until_async(
        "the ACL Consul to accept the master token",
        Duration::from_secs(60),
        || {
            let root = root.clone();
            async move {
                root.ping().await.ok()?;
                root.read_state("app").await.ok()
            }
        },
    )
    .await;
    let state = ReleaseState {
        live: Some(Color::Blue),
        scale: Some(2),
        ..Default::default()
    };
    root.write_state("app", &state, &StateVersion::default())
        .await
        .unwrap();
    assert_eq!(root.read_state("app").await.unwrap().0, state);

    // Without a token: a recursive read that ACLs filter to nothing is still a denial.
    let err = anonymous.read_state("app").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("permission denied by Consul ACLs reading docker-flow/app/color at {address}: set a token with CONSUL_HTTP_TOKEN or FLOW_CONSUL_TOKEN")
    );
    let err = anonymous
        .write_state("app", &state, &StateVersion::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::PermissionDenied { .. }),
        "{err:?}"
    );
    let err = anonymous
        .lock("app", "deploy", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::PermissionDenied { .. }),
        "{err:?}"
    );
    let err = anonymous.services().await.unwrap_err();
    assert!(
        matches!(err, RegistryError::PermissionDenied { .. }),
        "{err:?}"
    );

    // An unknown token: said so, and never printed.
    let text = bogus.read_state("app").await.unwrap_err().to_string();
    assert!(text.contains("does not know the ACL token"), "{text}");
    assert!(!text.contains("bogus-secret-token"), "{text}");

    // The master token can lock and list too.
    let lock = root
        .lock("app", "deploy by test", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(root.services().await.unwrap(), vec!["app".to_string()]);
    lock.release().await.unwrap();
}

#[tokio::test]
async fn embedded_consul_is_created_restarted_and_keeps_its_data() {
    let bed = bed();
    let mut cleanup = Cleanup::new();
    let spec = EmbeddedConsul {
        name: unique("embedded-consul"),
        volume: unique("embedded-consul-data"),
        port: 0,
        image: bed.consul_image.clone(),
    };
    cleanup.container(&bed.docker_host, &spec.name);
    cleanup.volume(&bed.docker_host, &spec.volume);
    let docker = engine().await;
    let events = std::sync::Mutex::new(Vec::<String>::new());
    let on_event = |e: &str| events.lock().unwrap().push(e.to_string());

    let address = ensure_embedded(&docker, &spec, &on_event).await.unwrap();
    assert!(address.starts_with("http://127.0.0.1:"), "{address}");
    let bindings = docker_ok(&["-H", &bed.docker_host, "port", &spec.name, "8500/tcp"]);
    assert!(
        bindings.lines().all(|l| l.starts_with("127.0.0.1:")),
        "{bindings}"
    );
    let restart = docker_ok(&[
        "-H",
        &bed.docker_host,
        "inspect",
        "-f",
        "{{.HostConfig.RestartPolicy.Name}} {{range .Mounts}}{{.Name}}{{end}}",
        &spec.name,
    ]);
    assert_eq!(restart, format!("unless-stopped {}", spec.volume));
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.starts_with("creating Consul")),
        "{:?}",
        events.lock().unwrap()
    );

    let c = Consul::new(&ConsulConfig::new(address.clone())).unwrap();
    c.ping().await.unwrap();
    let state = ReleaseState {
        live: Some(Color::Green),
        scale: Some(2),
        ..Default::default()
    };
    c.write_state("app", &state, &StateVersion::default())
        .await
        .unwrap();

    // Running: same address, nothing to do.
    assert_eq!(
        ensure_embedded(&docker, &spec, &on_event).await.unwrap(),
        address
    );

    // Stopped: started again (the random port may change), data kept.
    docker_ok(&["-H", &bed.docker_host, "stop", &spec.name]);
    let address = ensure_embedded(&docker, &spec, &on_event).await.unwrap();
    let c = Consul::new(&ConsulConfig::new(address)).unwrap();
    assert_eq!(c.read_state("app").await.unwrap().0, state);

    // Removed: created again on the same volume, data kept.
    docker_ok(&["-H", &bed.docker_host, "rm", "-f", &spec.name]);
    let address = ensure_embedded(&docker, &spec, &on_event).await.unwrap();
    let c = Consul::new(&ConsulConfig::new(address)).unwrap();
    assert_eq!(c.read_state("app").await.unwrap().0, state);
}

#[tokio::test]
async fn https_consul_with_ca_and_client_certificate() {
    let bed = bed();
    let mut cleanup = Cleanup::new();
    let name = unique("consul-tls");
    cleanup.container(&bed.docker_host, &name);
    let mount = format!("{}:/tls:ro", bed.tls_dir.display());
    docker_ok(&[
        "-H",
        &bed.docker_host,
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        &mount,
        "-p",
        "127.0.0.1::8501",
        &bed.consul_image,
        "agent",
        "-dev",
        "-client=0.0.0.0",
        "-hcl",
        r#"ports { https = 8501 } cert_file = "/tls/server-cert.pem" key_file = "/tls/server-key.pem" ca_file = "/tls/ca.pem" verify_incoming_https = true"#,
    ]);
    let port = published_port(&bed.docker_host, &name, 8501);
    let tls = |cert: bool| ConsulConfig {
        // No scheme: a CA makes it https.
        address: format!("127.0.0.1:{port}"),
        token: None,
        cacert: Some(bed.tls_dir.join("ca.pem")),
        client_cert: cert.then(|| bed.tls_dir.join("cert.pem")),
        client_key: cert.then(|| bed.tls_dir.join("key.pem")),
    };
    let c = Consul::new(&tls(true)).unwrap();
    assert_eq!(c.address(), format!("https://127.0.0.1:{port}"));
    wait_until_async("the TLS Consul to answer", Duration::from_secs(30), || {
        let c = c.clone();
        async move { c.ping().await.ok() }
    })
    .await;
    assert_eq!(
        c.read_state("app").await.unwrap().0,
        ReleaseState::default()
    );

    // Without the client certificate the server refuses the handshake.
    let text = Consul::new(&tls(false))
        .unwrap()
        .ping()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with(&format!("TLS with Consul at https://127.0.0.1:{port} failed (received fatal alert: BadCertificate): check the CA")),
        "{text}"
    );

    // Without the CA (system roots only) the server's certificate is not trusted.
    let text = Consul::new(&ConsulConfig {
        address: format!("https://127.0.0.1:{port}"),
        cacert: None,
        ..tls(true)
    })
    .unwrap()
    .ping()
    .await
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("TLS") && text.contains("certificate"),
        "{text}"
    );
}

#[tokio::test]
async fn a_consul_that_never_answers_times_out() {
    // The kernel accepts the connection; nobody ever reads or answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let c = Consul::new(&ConsulConfig::new(address.clone())).unwrap();
    let start = Instant::now();
    let text = c.read_state("app").await.unwrap_err().to_string();
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(
        text.starts_with(&format!(
            "Consul at {address} did not answer reading docker-flow/app/ within 10 s"
        )),
        "{text}"
    );
    drop(listener);
}
