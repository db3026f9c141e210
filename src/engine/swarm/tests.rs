use super::*;
use crate::compose::{self, LoadOptions};

/// `yaml` loaded as project "shop" the way the flows load it.
fn load(yaml: &str) -> Project {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
    compose::load(&LoadOptions {
        project_name: Some("shop".into()),
        cwd: dir.path().to_path_buf(),
        ..Default::default()
    })
    .unwrap()
}

fn spec_of(yaml: &str) -> Result<ServiceSpec, EngineError> {
    let p = load(yaml);
    let s = p.services["web"].clone();
    let labels = IndexMap::from([("com.docker.flow.color".to_string(), "blue".to_string())]);
    service_spec(&p, &s, "shop_web-blue", &labels, 3)
}

#[test]
fn maps_the_container_and_deploy_keys() {
    let spec = spec_of(
        r#"
services:
  web:
    image: dockerflow/demo:0.1.0
    command: ["serve", "--port", "8080"]
    entrypoint: ["/demo"]
    environment: { RELEASE: v2 }
    user: "1000"
    working_dir: /srv
    expose: ["8080"]
    extra_hosts: ["db.local:192.0.2.7"]
    healthcheck: { test: ["CMD", "/demo", "health"], interval: 1s, retries: 2 }
    stop_grace_period: 5s
    deploy:
      labels: [tier=web]
      resources:
        limits: { cpus: "0.5", memory: 64M }
        reservations: { memory: 32M }
      placement: { constraints: ["node.role == manager"], preferences: [{ spread: node.id }] }
      restart_policy: { condition: on-failure, delay: 2s, max_attempts: 3 }
      update_config: { parallelism: 1, failure_action: rollback }
"#,
    )
    .unwrap();
    assert_eq!(spec.name.as_deref(), Some("shop_web-blue"));
    let labels = spec.labels.as_ref().unwrap();
    assert_eq!(labels["tier"], "web");
    assert_eq!(labels["com.docker.flow.color"], "blue");
    assert_eq!(labels[STACK_NAMESPACE], "shop");
    assert_eq!(
        spec.mode
            .as_ref()
            .unwrap()
            .replicated
            .as_ref()
            .unwrap()
            .replicas,
        Some(3)
    );
    assert_eq!(
        spec.endpoint_spec.as_ref().unwrap().mode,
        Some(EndpointSpecModeEnum::DNSRR)
    );
    let task = spec.task_template.as_ref().unwrap();
    let c = task.container_spec.as_ref().unwrap();
    assert_eq!(c.image.as_deref(), Some("dockerflow/demo:0.1.0"));
    assert_eq!(c.command, Some(vec!["/demo".to_string()]));
    assert_eq!(
        c.args,
        Some(vec!["serve".into(), "--port".into(), "8080".into()])
    );
    assert!(c.env.as_ref().unwrap().contains(&"RELEASE=v2".to_string()));
    assert_eq!(c.user.as_deref(), Some("1000"));
    assert_eq!(c.dir.as_deref(), Some("/srv"));
    assert_eq!(c.hosts, Some(vec!["192.0.2.7 db.local".to_string()]));
    assert_eq!(c.stop_grace_period, Some(5_000_000_000));
    let hc = c.health_check.as_ref().unwrap();
    assert_eq!(hc.test.as_ref().unwrap()[0], "CMD");
    assert_eq!(hc.interval, Some(1_000_000_000));
    // Unset start period: the smallest Swarm takes as set, not its 30 s default.
    assert_eq!(hc.start_period, Some(START_PERIOD_FLOOR));
    assert_eq!(c.labels.as_ref().unwrap()["com.docker.flow.color"], "blue");
    let r = task.resources.as_ref().unwrap();
    assert_eq!(r.limits.as_ref().unwrap().nano_cpus, Some(500_000_000));
    assert_eq!(r.limits.as_ref().unwrap().memory_bytes, Some(64 << 20));
    assert_eq!(
        r.reservations.as_ref().unwrap().memory_bytes,
        Some(32 << 20)
    );
    let p = task.placement.as_ref().unwrap();
    assert_eq!(
        p.constraints,
        Some(vec!["node.role == manager".to_string()])
    );
    let rp = task.restart_policy.as_ref().unwrap();
    assert_eq!(
        rp.condition,
        Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE)
    );
    assert_eq!(rp.delay, Some(2_000_000_000));
    assert_eq!(rp.max_attempts, Some(3));
    let u = spec.update_config.as_ref().unwrap();
    assert_eq!(
        u.failure_action,
        Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
    );
    // The implicit default network, as an overlay attachment aliased by the service name.
    let nets = task.networks.as_ref().unwrap();
    assert_eq!(nets[0].target.as_deref(), Some("shop_default"));
    assert_eq!(nets[0].aliases, Some(vec!["web".to_string()]));
}

#[test]
fn keys_a_service_spec_cannot_carry_are_named() {
    for (yaml, key) in [
        ("privileged: true", "privileged"),
        ("container_name: one", "container_name"),
        ("ports: [\"8080:8080\"]", "ports"),
        (
            "ports: [{ target: 8080, mode: host, host_ip: 127.0.0.1 }]",
            "ports",
        ),
        ("network_mode: host", "network_mode"),
        ("pid: host", "pid"),
        ("deploy: { mode: global }", "deploy.mode"),
        ("shm_size: 64m", "shm_size"),
    ] {
        let err = spec_of(&format!(
            "services:\n  web:\n    image: dockerflow/demo:0.1.0\n    {yaml}\n"
        ))
        .unwrap_err();
        match err {
            EngineError::UnsupportedKey {
                service, key: k, ..
            } => {
                assert_eq!((service.as_str(), k.as_str()), ("web", key), "{yaml}")
            }
            other => panic!("{yaml}: {other}"),
        }
    }
}

#[test]
fn host_mode_ports_are_published_on_each_node() {
    let spec = spec_of(
        "services:\n  web:\n    image: dockerflow/demo:0.1.0\n    ports:\n      - { target: 8080, mode: host }\n      - { target: 9090, published: 19090, mode: host, protocol: udp }\n      - { target: 7070 }\n",
    )
    .unwrap();
    let ep = spec.endpoint_spec.unwrap();
    assert_eq!(ep.mode, Some(EndpointSpecModeEnum::DNSRR));
    let ports = ep.ports.unwrap();
    assert_eq!(
        ports.len(),
        2,
        "a port without a host side is not published"
    );
    assert_eq!(
        (
            ports[0].target_port,
            ports[0].published_port,
            ports[0].publish_mode
        ),
        (
            Some(8080),
            None,
            Some(EndpointPortConfigPublishModeEnum::HOST)
        )
    );
    assert_eq!(ports[0].protocol, Some(EndpointPortConfigProtocolEnum::TCP));
    assert_eq!(
        (ports[1].target_port, ports[1].published_port),
        (Some(9090), Some(19090))
    );
    assert_eq!(ports[1].protocol, Some(EndpointPortConfigProtocolEnum::UDP));
}

#[test]
fn a_plain_service_gets_defaults_only() {
    let spec = spec_of("services:\n  web:\n    image: dockerflow/demo:0.1.0\n").unwrap();
    let task = spec.task_template.unwrap();
    assert!(task.restart_policy.is_none());
    assert!(task.placement.is_none());
    assert!(spec.update_config.is_none());
}

#[test]
fn the_healthcheck_survives_an_inspected_spec() {
    let mut spec = spec_of(
        "services:\n  web:\n    image: dockerflow/demo:0.1.0\n    healthcheck: { test: [\"CMD\", \"/demo\", \"health\"], interval: 1s }\n",
    )
    .unwrap();
    let hc = spec
        .task_template
        .as_ref()
        .unwrap()
        .container_spec
        .as_ref()
        .unwrap()
        .health_check
        .clone();
    // What bollard reads back from the engine: no healthcheck, the label still there.
    spec.task_template
        .as_mut()
        .unwrap()
        .container_spec
        .as_mut()
        .unwrap()
        .health_check = None;
    restore_healthcheck(&mut spec);
    let back = spec
        .task_template
        .unwrap()
        .container_spec
        .unwrap()
        .health_check;
    assert!(back.is_some());
    assert_eq!(back, hc);
}
