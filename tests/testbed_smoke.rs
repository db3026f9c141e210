//! Smoke tests that pass only with the real parts of the test bed: a demo container started
//! through bollard, Consul's KV and catalog with a real health check, and the HAProxy image
//! routing loopback traffic to the demo.

mod common;

use std::{collections::HashMap, time::Duration};

use bollard::{
    models::{ContainerCreateBody, HostConfig, PortBinding},
    query_parameters::CreateContainerOptionsBuilder,
    Docker,
};
use common::{bed, docker_ok, http_get, published_port, unique, wait_until, Cleanup};

async fn engine() -> Docker {
    let host = &bed().docker_host;
    let docker = Docker::connect_with_unix(host, 30, bollard::API_DEFAULT_VERSION)
        .unwrap_or_else(|e| panic!("connect to {host}: {e}"));
    docker
        .negotiate_version()
        .await
        .expect("negotiate the API version")
}

/// Starts the demo image through bollard with 8080 published on a random 127.0.0.1 port.
async fn start_demo(docker: &Docker, cleanup: &mut Cleanup, env: &[&str]) -> (String, u16) {
    let name = unique("demo");
    cleanup.container(&bed().docker_host, &name);
    let bindings = HashMap::from([(
        "8080/tcp".to_string(),
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(String::new()),
        }]),
    )]);
    let body = ContainerCreateBody {
        image: Some(bed().demo_image.clone()),
        env: Some(env.iter().map(|s| s.to_string()).collect()),
        exposed_ports: Some(vec!["8080/tcp".into()]),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    docker
        .create_container(Some(options), body)
        .await
        .expect("create the demo container");
    docker
        .start_container(&name, None)
        .await
        .expect("start the demo container");
    let port = published_port(&bed().docker_host, &name, 8080);
    (name, port)
}

#[tokio::test]
async fn demo_container_started_through_bollard_answers_on_loopback() {
    let docker = engine().await;
    let mut cleanup = Cleanup::new();
    let (name, port) = start_demo(&docker, &mut cleanup, &["RELEASE=smoke", "COLOR=blue"]).await;
    let url = format!("http://127.0.0.1:{port}/demo/hello");
    let (status, body) = wait_until("the demo to answer", Duration::from_secs(30), || {
        http_get(&url)
    });
    assert_eq!((status, body.as_str()), (200, "hello, world!"));
    let (_, release) = http_get(&format!("http://127.0.0.1:{port}/demo/release")).unwrap();
    assert!(
        release.contains("\"color\":\"blue\"") && release.contains("\"release\":\"smoke\""),
        "{release}"
    );
    // The image's own HEALTHCHECK (the binary checking itself) turns the container healthy.
    wait_until(
        "the demo container to be healthy",
        Duration::from_secs(30),
        || {
            let h = docker_ok(&[
                "-H",
                &bed().docker_host,
                "inspect",
                "-f",
                "{{.State.Health.Status}}",
                &name,
            ]);
            (h == "healthy").then_some(())
        },
    );
}

#[tokio::test]
async fn demo_told_to_be_unhealthy_turns_unhealthy() {
    let docker = engine().await;
    let mut cleanup = Cleanup::new();
    let (name, port) = start_demo(&docker, &mut cleanup, &["UNHEALTHY=1"]).await;
    let url = format!("http://127.0.0.1:{port}/health");
    let (status, _) = wait_until("the demo to answer", Duration::from_secs(30), || {
        http_get(&url)
    });
    assert_eq!(status, 503);
    wait_until(
        "the container to be unhealthy",
        Duration::from_secs(60),
        || {
            let h = docker_ok(&[
                "-H",
                &bed().docker_host,
                "inspect",
                "-f",
                "{{.State.Health.Status}}",
                &name,
            ]);
            (h == "unhealthy").then_some(())
        },
    );
}

#[tokio::test]
async fn consul_kv_and_a_registered_service_with_a_passing_check() {
    let consul = &bed().consul;
    // reqwest is built without a default TLS provider (docker flow picks ring itself).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut cleanup = Cleanup::new();
    let prefix = unique("kv");
    cleanup.consul_prefix(&prefix);

    // KV round trip, with the status of every call checked.
    let key = format!("{consul}/v1/kv/{prefix}/color");
    let put = http.put(&key).body("green").send().await.unwrap();
    assert!(put.status().is_success(), "PUT {key}: {}", put.status());
    assert_eq!(put.text().await.unwrap().trim(), "true");
    let got = http.get(format!("{key}?raw")).send().await.unwrap();
    assert!(got.status().is_success());
    assert_eq!(got.text().await.unwrap(), "green");

    // A real service whose HTTP check hits the demo on its published loopback port.
    let docker = engine().await;
    let (_, port) = start_demo(&docker, &mut cleanup, &[]).await;
    let service = unique("svc");
    cleanup.consul_service(&service);
    let registration = serde_json::json!({
        "ID": service, "Name": service, "Address": "127.0.0.1", "Port": port,
        "Check": { "HTTP": format!("http://127.0.0.1:{port}/health"), "Interval": "1s", "Timeout": "1s" }
    });
    let reg = http
        .put(format!("{consul}/v1/agent/service/register"))
        .json(&registration)
        .send()
        .await
        .unwrap();
    assert!(reg.status().is_success(), "register: {}", reg.status());
    let health = format!("{consul}/v1/health/service/{service}?passing=true");
    let entries = common::wait_until_async(
        "the service to pass its check",
        Duration::from_secs(30),
        || {
            let http = http.clone();
            let health = health.clone();
            async move {
                let v: serde_json::Value =
                    http.get(&health).send().await.ok()?.json().await.ok()?;
                let list = v.as_array()?.clone();
                (!list.is_empty()).then_some(list)
            }
        },
    )
    .await;
    assert_eq!(entries[0]["Service"]["Port"], port);
}

#[tokio::test]
async fn haproxy_image_routes_loopback_traffic_to_the_demo() {
    let docker = engine().await;
    let host = &bed().docker_host;
    let mut cleanup = Cleanup::new();
    let (demo, _) = start_demo(&docker, &mut cleanup, &["COLOR=green"]).await;
    let demo_ip = docker_ok(&[
        "-H",
        host,
        "inspect",
        "-f",
        "{{.NetworkSettings.IPAddress}}",
        &demo,
    ]);

    let dir = tempfile::tempdir().unwrap();
    let cfg = format!(
        "global\n  stats socket /var/lib/haproxy/admin.sock mode 600 level admin\n\
         defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend main\n  bind *:8000\n  default_backend demo\n\
         backend demo\n  server demo1 {demo_ip}:8080 check\n"
    );
    std::fs::write(dir.path().join("haproxy.cfg"), cfg).unwrap();
    // The image runs as user haproxy, like the official one.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        dir.path().join("haproxy.cfg"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    let proxy = unique("haproxy");
    cleanup.container(host, &proxy);
    let mount = format!("{}:/usr/local/etc/haproxy:ro", dir.path().display());
    docker_ok(&[
        "-H",
        host,
        "run",
        "-d",
        "--name",
        &proxy,
        "-p",
        "127.0.0.1::8000",
        "-v",
        &mount,
        &bed().haproxy_image,
    ]);
    let port = published_port(host, &proxy, 8000);
    let url = format!("http://127.0.0.1:{port}/demo/hello");
    let (status, body) = wait_until(
        "HAProxy to route to the demo",
        Duration::from_secs(30),
        || http_get(&url).filter(|(s, _)| *s == 200),
    );
    assert_eq!((status, body.as_str()), (200, "hello, world!"));
    // The config check the flows use before replacing a live config works inside the image.
    let check = docker_ok(&[
        "-H",
        host,
        "exec",
        &proxy,
        "haproxy",
        "-c",
        "-f",
        "/usr/local/etc/haproxy/haproxy.cfg",
    ]);
    assert!(check.contains("valid"), "{check}");
    // Master-worker like the official image: PID 1 is the master, reloaded by SIGUSR2.
    let cmdline = docker_ok(&["-H", host, "exec", &proxy, "cat", "/proc/1/cmdline"]);
    assert!(
        cmdline.contains("-W") && cmdline.contains("-db"),
        "{cmdline:?}"
    );
    docker_ok(&["-H", host, "kill", "-s", "USR2", &proxy]);
    wait_until("the reload to finish", Duration::from_secs(10), || {
        let logs = common::docker(&["-H", host, "logs", &proxy]);
        String::from_utf8_lossy(&logs.stderr)
            .matches("Loading success")
            .nth(1)
            .map(|_| ())
    });
    assert_eq!(http_get(&url).map(|(s, _)| s), Some(200));
}

/// Engine c is a single-node Swarm manager with the images the Swarm tests run.
#[test]
fn engine_c_is_a_swarm_manager_with_the_images() {
    let c = &bed().engine_c_host;
    assert_eq!(
        docker_ok(&[
            "-H",
            c,
            "info",
            "--format",
            "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"
        ]),
        "active true"
    );
    for image in [&bed().demo_image, &bed().haproxy_image] {
        docker_ok(&["-H", c, "image", "inspect", "--format", "{{.Id}}", image]);
    }
}
