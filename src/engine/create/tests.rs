use super::*;
use crate::compose::{Network, Volume};
use std::path::PathBuf;

fn network(name: &str) -> Network {
    Network {
        name: name.into(),
        external: false,
        driver: None,
        driver_opts: IndexMap::new(),
        attachable: false,
        internal: false,
        enable_ipv6: false,
        labels: IndexMap::new(),
        ipam: None,
        ip_ranges: vec![],
    }
}

fn project() -> Project {
    Project {
        name: "shop".into(),
        working_dir: PathBuf::from("/srv/shop"),
        config_files: vec!["/srv/shop/compose.yaml".into()],
        env_files: vec![],
        services: IndexMap::new(),
        networks: IndexMap::from([
            ("default".to_string(), network("shop_default")),
            ("back".to_string(), network("shop_back")),
        ]),
        volumes: IndexMap::from([(
            "data".to_string(),
            Volume {
                name: "shop_data".into(),
                external: false,
                driver: None,
                driver_opts: IndexMap::new(),
                labels: IndexMap::new(),
            },
        )]),
        secrets: IndexMap::new(),
        configs: IndexMap::new(),
    }
}

fn service(spec: dct::Service) -> Service {
    Service {
        name: "web".into(),
        spec: dct::Service {
            image: Some("dockerflow/demo:latest".into()),
            ..spec
        },
        extras: ServiceExtras::default(),
        file: "/srv/shop/compose.yaml".into(),
    }
}

fn ctx(api: (usize, usize)) -> ContainerContext {
    ContainerContext {
        api_version: Some(api),
        image_id: Some("sha256:abc".into()),
        ..ContainerContext::new("shop-web-1", 1, "hash")
    }
}

fn nets(entries: &[(&str, Option<dct::AdvancedNetworkSettings>)]) -> dct::Networks {
    dct::Networks::Advanced(dct::AdvancedNetworks(
        entries
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    match v {
                        Some(s) => dct::MapOrEmpty::Map(s.clone()),
                        None => dct::MapOrEmpty::Empty,
                    },
                )
            })
            .collect(),
    ))
}

fn vol(t: &str, source: Option<&str>, target: &str) -> dct::AdvancedVolumes {
    dct::AdvancedVolumes {
        source: source.map(Into::into),
        target: target.into(),
        _type: t.into(),
        read_only: false,
        bind: None,
        volume: None,
        tmpfs: None,
    }
}

#[test]
fn basics_env_command_labels() {
    let s = service(dct::Service {
        environment: dct::Environment::KvPair(IndexMap::from([
            ("A".to_string(), Some(dct::SingleValue::String("1".into()))),
            ("B".to_string(), None),
        ])),
        command: Some(dct::Command::Args(vec!["/demo".into(), "--x".into()])),
        entrypoint: Some(dct::Entrypoint::List(vec!["/bin/sh".into(), "-c".into()])),
        user: Some("1000:1000".into()),
        working_dir: Some("/app".into()),
        tty: true,
        stdin_open: true,
        init: true,
        stop_signal: Some("SIGINT".into()),
        stop_grace_period: Some("1m30s".into()),
        ..Default::default()
    });
    let b = container_config(&project(), &s, &ctx((1, 41))).unwrap();
    assert_eq!(b.image.as_deref(), Some("dockerflow/demo:latest"));
    assert_eq!(b.env, Some(vec!["A=1".to_string(), "B".to_string()]));
    assert_eq!(b.cmd, Some(vec!["/demo".to_string(), "--x".to_string()]));
    assert_eq!(b.entrypoint.as_ref().unwrap()[0], "/bin/sh");
    assert_eq!(b.user.as_deref(), Some("1000:1000"));
    assert_eq!(b.working_dir.as_deref(), Some("/app"));
    assert_eq!((b.tty, b.open_stdin), (Some(true), Some(true)));
    assert_eq!(b.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(b.stop_timeout, Some(90));
    let labels = b.labels.unwrap();
    assert_eq!(labels["com.docker.compose.project"], "shop");
    assert_eq!(labels["com.docker.compose.config-hash"], "hash");
    assert_eq!(labels["com.docker.compose.image"], "sha256:abc");
    let hc = b.host_config.unwrap();
    assert_eq!(hc.init, Some(true));
}

#[test]
fn ports_and_expose() {
    let s = service(dct::Service {
        ports: dct::Ports::Long(vec![
            dct::Port {
                target: 8080,
                host_ip: Some("127.0.0.1".into()),
                published: Some(dct::PublishedPort::Single(18080)),
                protocol: Some("tcp".into()),
                mode: None,
            },
            dct::Port {
                target: 53,
                host_ip: None,
                published: None,
                protocol: Some("udp".into()),
                mode: Some("ingress".into()),
            },
        ]),
        expose: vec!["9000".into(), "9100-9101/udp".into()],
        ..Default::default()
    });
    let b = container_config(&project(), &s, &ctx((1, 41))).unwrap();
    let mut exposed = b.exposed_ports.unwrap();
    exposed.sort();
    assert_eq!(exposed, vec!["53/udp", "8080/tcp", "9000", "9100-9101/udp"]);
    let pb = b.host_config.unwrap().port_bindings.unwrap();
    let p = &pb["8080/tcp"].as_ref().unwrap()[0];
    assert_eq!(p.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(p.host_port.as_deref(), Some("18080"));
    assert_eq!(
        pb["53/udp"].as_ref().unwrap()[0].host_port.as_deref(),
        Some("")
    );
}

#[test]
fn volumes_binds_mounts_tmpfs() {
    let mut short_bind = vol("bind", Some("/srv/shop/conf"), "/etc/conf");
    short_bind.read_only = true;
    short_bind.bind = Some(dct::Bind {
        create_host_path: Some(true),
        ..Default::default()
    });
    let mut long_bind = vol("bind", Some("/srv/shop/logs"), "/var/log/app/");
    long_bind.bind = Some(dct::Bind {
        propagation: Some("rslave".into()),
        ..Default::default()
    });
    let mut named = vol("volume", Some("data"), "/data");
    named.volume = Some(dct::Volume {
        nocopy: Some(true),
        subpath: None,
    });
    let anon = vol("volume", None, "/cache");
    let mut tmp = vol("tmpfs", None, "/run/app");
    tmp.tmpfs = Some(dct::TmpfsSettings { size: 1 << 20 });
    let s = service(dct::Service {
        volumes: [short_bind, long_bind, named, anon, tmp]
            .into_iter()
            .map(dct::Volumes::Advanced)
            .collect(),
        tmpfs: Some(dct::Tmpfs::List(vec![
            "/tmp:size=64m".into(),
            "/run".into(),
        ])),
        ..Default::default()
    });
    let hc = container_config(&project(), &s, &ctx((1, 41)))
        .unwrap()
        .host_config
        .unwrap();
    assert_eq!(
        hc.binds,
        Some(vec!["/srv/shop/conf:/etc/conf:ro".to_string()])
    );
    let m = hc.mounts.unwrap();
    assert_eq!(m.len(), 4);
    assert_eq!(m[0].typ, Some(MountType::BIND));
    assert_eq!(m[0].target.as_deref(), Some("/var/log/app"));
    assert_eq!(
        m[0].bind_options.as_ref().unwrap().propagation,
        Some(MountBindOptionsPropagationEnum::RSLAVE)
    );
    assert_eq!(m[1].source.as_deref(), Some("shop_data"));
    assert_eq!(m[1].volume_options.as_ref().unwrap().no_copy, Some(true));
    assert_eq!(
        (m[2].typ, m[2].source.as_deref()),
        (Some(MountType::VOLUME), None)
    );
    assert_eq!(
        m[3].tmpfs_options.as_ref().unwrap().size_bytes,
        Some(1 << 20)
    );
    let t = hc.tmpfs.unwrap();
    assert_eq!(t["/tmp"], "size=64m");
    assert_eq!(t["/run"], "");
}

#[test]
fn inherited_anonymous_volume_replaces_a_fresh_one() {
    let s = service(dct::Service {
        volumes: vec![dct::Volumes::Advanced(vol("volume", None, "/cache"))],
        ..Default::default()
    });
    let mut c = ctx((1, 41));
    c.inherited_mounts = vec![
        Mount {
            typ: Some(MountType::VOLUME),
            source: Some("0123abcd".into()),
            target: Some("/cache".into()),
            ..Default::default()
        },
        Mount {
            typ: Some(MountType::VOLUME),
            source: Some("image-vol".into()),
            target: Some("/var/lib/x".into()),
            ..Default::default()
        },
    ];
    let m = container_config(&project(), &s, &c)
        .unwrap()
        .host_config
        .unwrap()
        .mounts
        .unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].source.as_deref(), Some("0123abcd"));
    assert_eq!(m[1].source.as_deref(), Some("image-vol"));
}

#[test]
fn networks_aliases_and_primary() {
    let s = service(dct::Service {
        networks: nets(&[
            ("default", None),
            (
                "back",
                Some(dct::AdvancedNetworkSettings {
                    ipv4_address: Some("192.0.2.10".into()),
                    ipv6_address: None,
                    aliases: vec!["api".into()],
                }),
            ),
        ]),
        ..Default::default()
    });
    let p = project();
    // API 1.41: the first network by name is primary, the other is connected afterwards.
    let b = container_config(&p, &s, &ctx((1, 41))).unwrap();
    assert_eq!(
        b.host_config.unwrap().network_mode.as_deref(),
        Some("shop_back")
    );
    let eps = b.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(eps.len(), 1);
    let back = &eps["shop_back"];
    assert_eq!(
        back.aliases,
        Some(vec!["shop-web-1".to_string(), "web".into(), "api".into()])
    );
    assert_eq!(
        back.ipam_config.as_ref().unwrap().ipv4_address.as_deref(),
        Some("192.0.2.10")
    );
    let extra = extra_network_endpoints(&p, &s, &ctx((1, 41))).unwrap();
    assert_eq!(extra.len(), 1);
    assert_eq!(extra[0].0, "shop_default");
    assert_eq!(
        extra[0].1.aliases,
        Some(vec!["shop-web-1".to_string(), "web".into()])
    );
    // API 1.44: all at once.
    let b = container_config(&p, &s, &ctx((1, 44))).unwrap();
    assert_eq!(
        b.networking_config.unwrap().endpoints_config.unwrap().len(),
        2
    );
    assert!(extra_network_endpoints(&p, &s, &ctx((1, 44)))
        .unwrap()
        .is_empty());
}

#[test]
fn network_mode_and_no_networks() {
    let s = service(dct::Service {
        network_mode: Some("host".into()),
        ..Default::default()
    });
    let b = container_config(&project(), &s, &ctx((1, 41))).unwrap();
    assert_eq!(b.host_config.unwrap().network_mode.as_deref(), Some("host"));
    assert!(b.networking_config.is_none());
    let mut p = project();
    p.networks.clear();
    let b = container_config(&p, &service(Default::default()), &ctx((1, 41))).unwrap();
    assert_eq!(b.host_config.unwrap().network_mode.as_deref(), Some("none"));
    let s = service(dct::Service {
        network_mode: Some("service:db".into()),
        ..Default::default()
    });
    let e = container_config(&project(), &s, &ctx((1, 41))).unwrap_err();
    assert!(e.to_string().contains("network_mode"), "{e}");
}

#[test]
fn healthcheck_durations_and_disable() {
    let s = service(dct::Service {
        healthcheck: Some(dct::Healthcheck {
            test: Some(dct::HealthcheckTest::Multiple(vec![
                "CMD".into(),
                "/demo".into(),
                "health".into(),
            ])),
            interval: Some("1m30s".into()),
            timeout: Some("500ms".into()),
            retries: 5,
            start_period: Some("10s".into()),
            start_interval: None,
            disable: false,
        }),
        ..Default::default()
    });
    let h = container_config(&project(), &s, &ctx((1, 41)))
        .unwrap()
        .healthcheck
        .unwrap();
    assert_eq!(h.interval, Some(90_000_000_000));
    assert_eq!(h.timeout, Some(500_000_000));
    assert_eq!(h.retries, Some(5));
    assert_eq!(h.start_period, Some(10_000_000_000));
    let s = service(dct::Service {
        healthcheck: Some(dct::Healthcheck {
            disable: true,
            ..Default::default()
        }),
        ..Default::default()
    });
    let h = container_config(&project(), &s, &ctx((1, 41)))
        .unwrap()
        .healthcheck
        .unwrap();
    assert_eq!(h.test, Some(vec!["NONE".to_string()]));
    let s = service(dct::Service {
        healthcheck: Some(dct::Healthcheck {
            start_interval: Some("1s".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let e = container_config(&project(), &s, &ctx((1, 41))).unwrap_err();
    assert!(
        e.to_string().contains("\"healthcheck.start_interval\""),
        "{e}"
    );
    assert!(container_config(&project(), &s, &ctx((1, 44))).is_ok());
}

#[test]
fn resources_and_limits() {
    let mut s = service(dct::Service {
        mem_limit: Some("512m".into()),
        mem_reservation: Some("128m".into()),
        mem_swappiness: Some(10),
        shm_size: Some("64m".into()),
        restart: Some("on-failure:3".into()),
        ulimits: dct::Ulimits(IndexMap::from([
            (
                "nofile".to_string(),
                dct::Ulimit::SoftHard {
                    soft: dct::StringOrUnsigned::Unsigned(1024),
                    hard: dct::StringOrUnsigned::Unsigned(2048),
                },
            ),
            (
                "nproc".to_string(),
                dct::Ulimit::Single(dct::StringOrUnsigned::Unsigned(512)),
            ),
        ])),
        devices: vec!["/dev/null:/dev/mynull:r".into()],
        ..Default::default()
    });
    s.extras.cpus = Some(0.5);
    s.extras.pids_limit = Some(100);
    s.extras.cpu_shares = Some(512);
    let hc = container_config(&project(), &s, &ctx((1, 41)))
        .unwrap()
        .host_config
        .unwrap();
    assert_eq!(hc.memory, Some(512 << 20));
    assert_eq!(hc.memory_reservation, Some(128 << 20));
    assert_eq!(hc.memory_swappiness, Some(10));
    assert_eq!(hc.shm_size, Some(64 << 20));
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    assert_eq!(hc.pids_limit, Some(100));
    assert_eq!(hc.cpu_shares, Some(512));
    let rp = hc.restart_policy.unwrap();
    assert_eq!(rp.name, Some(RestartPolicyNameEnum::ON_FAILURE));
    assert_eq!(rp.maximum_retry_count, Some(3));
    let u = hc.ulimits.unwrap();
    assert_eq!((u[0].soft, u[0].hard), (Some(1024), Some(2048)));
    assert_eq!((u[1].soft, u[1].hard), (Some(512), Some(512)));
    let d = &hc.devices.unwrap()[0];
    assert_eq!(d.path_in_container.as_deref(), Some("/dev/mynull"));
    assert_eq!(d.cgroup_permissions.as_deref(), Some("r"));

    // deploy.resources override the service-level values, as Compose does.
    s.spec.deploy = Some(dct::Deploy {
        resources: Some(dct::Resources {
            limits: Some(dct::Limits {
                cpus: Some("1.5".into()),
                memory: Some("1g".into()),
                devices: None,
            }),
            reservations: Some(dct::Limits {
                memory: Some("256m".into()),
                ..Default::default()
            }),
        }),
        restart_policy: Some(dct::RestartPolicy {
            condition: Some("any".into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let hc = container_config(&project(), &s, &ctx((1, 41)))
        .unwrap()
        .host_config
        .unwrap();
    assert_eq!(hc.memory, Some(1 << 30));
    assert_eq!(hc.nano_cpus, Some(1_500_000_000));
    assert_eq!(hc.memory_reservation, Some(256 << 20));
    assert_eq!(
        hc.restart_policy.unwrap().name,
        Some(RestartPolicyNameEnum::ALWAYS)
    );
}

#[test]
fn keys_that_cannot_be_honoured_are_named() {
    let cases: Vec<(dct::Service, &str)> = vec![
        (
            dct::Service {
                deploy: Some(dct::Deploy {
                    placement: Some(Default::default()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "deploy.placement",
        ),
        (
            dct::Service {
                deploy: Some(dct::Deploy {
                    mode: Some("global".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "deploy.mode",
        ),
        (
            dct::Service {
                deploy: Some(dct::Deploy {
                    resources: Some(dct::Resources {
                        limits: None,
                        reservations: Some(dct::Limits {
                            cpus: Some("0.5".into()),
                            ..Default::default()
                        }),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "deploy.resources.reservations.cpus",
        ),
        (
            dct::Service {
                secrets: Some(dct::Secrets::Simple(vec!["x".into()])),
                ..Default::default()
            },
            "secrets",
        ),
        (
            dct::Service {
                mem_limit: Some("lots".into()),
                ..Default::default()
            },
            "mem_limit",
        ),
        (
            dct::Service {
                restart: Some("sometimes".into()),
                ..Default::default()
            },
            "restart",
        ),
    ];
    for (spec, key) in cases {
        let e = container_config(&project(), &service(spec), &ctx((1, 41)))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(&format!("service \"web\": key \"{key}\"")),
            "{e}"
        );
    }
    let mut s = service(Default::default());
    s.extras.mac_address = Some("02:42:ac:11:00:02".into());
    let e = container_config(&project(), &s, &ctx((1, 41)))
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"mac_address\""), "{e}");
}

#[test]
fn clean_path_like_go() {
    assert_eq!(clean_path("/a/b/"), "/a/b");
    assert_eq!(clean_path("/a//b/./c/.."), "/a/b");
    assert_eq!(clean_path("/../a"), "/a");
    assert_eq!(clean_path("a/../.."), "..");
    assert_eq!(clean_path(""), ".");
}

#[test]
fn gpus_become_device_requests_as_compose_sends_them() {
    let all = gpu_requests(Some(&serde_json::json!("all")));
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].count, Some(-1));
    assert_eq!(all[0].capabilities, Some(vec![vec!["gpu".to_string()]]));
    let listed = gpu_requests(Some(&serde_json::json!([
        {"driver": "nvidia", "device_ids": ["0", "1"]}
    ])));
    assert_eq!(listed[0].driver.as_deref(), Some("nvidia"));
    assert_eq!(listed[0].count, None);
    assert_eq!(
        listed[0].device_ids,
        Some(vec!["0".to_string(), "1".to_string()])
    );
    assert!(gpu_requests(None).is_empty());
}
