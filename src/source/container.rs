//! Which container (or systemd service) a process runs in, from its cgroup path
//! (`/proc/PID/cgroup`, cgroups(7)), and the name the container runtime keeps
//! for it on disk.
//!
//! The path shapes, per runtime and cgroup driver:
//! - Docker: `/system.slice/docker-<id>.scope` (systemd driver), `/docker/<id>`
//!   (cgroupfs driver);
//! - containerd (Kubernetes CRI): `…/cri-containerd-<id>.scope`;
//! - CRI-O: `…/crio-<id>.scope` (its `crio-conmon-<id>` is the monitor, not the
//!   container);
//! - Podman: `…/libpod-<id>.scope` (`libpod-conmon-<id>` likewise);
//! - Kubernetes pods: `kubepods-<qos>-pod<uid>.slice` (systemd driver, the uid's
//!   dashes written as `_`) or `/kubepods/<qos>/pod<uid>/<id>` (cgroupfs).
//!
//! Names: Docker's `/var/lib/docker/containers/<id>/config.v2.json` has `Name`
//! (`/web`); a pod's logs are under `/var/log/pods/<namespace>_<name>_<uid>`.

use crate::model::Container;
use std::path::{Path, PathBuf};

/// Where the runtimes keep what names their containers (tests point them at a
/// temporary directory).
#[derive(Clone, Debug)]
pub struct Roots {
    pub docker: PathBuf,
    pub pods: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Roots {
            docker: PathBuf::from("/var/lib/docker/containers"),
            pods: PathBuf::from("/var/log/pods"),
        }
    }
}

/// What a cgroup file says: the container and the systemd service, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub container: Option<Container>,
    pub unit: Option<String>,
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A container id in one path component, with its runtime.
fn component_id(c: &str) -> Option<(&str, &'static str)> {
    let c = c.strip_suffix(".scope").unwrap_or(c);
    for (prefix, runtime) in [
        ("docker-", "docker"),
        ("cri-containerd-", "containerd"),
        ("crio-", "cri-o"),
        ("libpod-", "podman"),
    ] {
        if let Some(id) = c.strip_prefix(prefix).filter(|id| is_id(id)) {
            return Some((id, runtime));
        }
    }
    None
}

/// The pod uid of a `kubepods…pod<uid>[.slice]` or `pod<uid>` component.
fn pod_uid(c: &str) -> Option<String> {
    let c = c.strip_suffix(".slice").unwrap_or(c);
    let at = c.rfind("pod")?;
    let uid = c[at + 3..].replace('_', "-");
    let ok = uid.len() == 36 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then_some(uid)
}

/// Parses the text of `/proc/PID/cgroup` (no I/O, no names).
pub fn parse(text: &str) -> Placement {
    let mut out = Placement::default();
    let mut pod: Option<String> = None;
    for line in text.lines() {
        // hierarchy-ID:controller-list:cgroup-path (the path may hold ':')
        let Some(path) = line.splitn(3, ':').nth(2) else {
            continue;
        };
        let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
        for (i, c) in parts.iter().enumerate() {
            if out.container.is_none() {
                let found = component_id(c).or_else(|| {
                    // cgroupfs drivers: /docker/<id>, /kubepods/<qos>/pod<uid>/<id>
                    let prev = i.checked_sub(1).map(|j| parts[j]);
                    (is_id(c)
                        && (prev == Some("docker") || prev.is_some_and(|p| p.starts_with("pod"))))
                    .then_some((
                        *c,
                        if prev == Some("docker") {
                            "docker"
                        } else {
                            "kubernetes"
                        },
                    ))
                });
                if let Some((id, runtime)) = found {
                    out.container = Some(Container {
                        id: id.to_string(),
                        name: None,
                        runtime: runtime.to_string(),
                    });
                }
            }
            if pod.is_none() && (c.starts_with("kubepods") || c.starts_with("pod")) {
                pod = pod_uid(c);
            }
            if out.unit.is_none() && c.ends_with(".service") {
                out.unit = Some(c.to_string());
            }
        }
    }
    if out.container.is_none() {
        out.container = pod.map(|uid| Container {
            id: uid,
            name: None,
            runtime: "kubernetes".into(),
        });
    } else if let (Some(c), Some(uid)) = (out.container.as_mut(), pod) {
        // A container of a pod: named after its pod (`namespace/name`) below.
        c.runtime = format!("kubernetes pod {uid}");
    }
    out
}

/// The name the runtime keeps for `c` on disk, if any.
pub fn name(c: &Container, roots: &Roots) -> Option<String> {
    if c.runtime == "docker" {
        let p = roots.docker.join(&c.id).join("config.v2.json");
        let bytes = read_capped(&p)?;
        #[derive(serde::Deserialize)]
        struct Config {
            #[serde(rename = "Name")]
            name: String,
        }
        let cfg: Config = serde_json::from_slice(&bytes).ok()?;
        let n = cfg.name.trim_start_matches('/');
        return (!n.is_empty()).then(|| n.to_string());
    }
    let uid = match c.runtime.strip_prefix("kubernetes pod ") {
        Some(uid) => uid,
        None if c.runtime == "kubernetes" => c.id.as_str(),
        None => return None,
    };
    // <namespace>_<name>_<uid>
    let suffix = format!("_{uid}");
    std::fs::read_dir(&roots.pods).ok()?.find_map(|e| {
        let f = e.ok()?.file_name().into_string().ok()?;
        let rest = f.strip_suffix(&suffix)?;
        let (ns, pod) = rest.split_once('_')?;
        Some(format!("{ns}/{pod}"))
    })
}

/// A file of at most 1 MiB (a config.v2.json is a few KiB), or None.
fn read_capped(p: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut v = Vec::new();
    std::fs::File::open(p)
        .ok()?
        .take(1 << 20)
        .read_to_end(&mut v)
        .ok()?;
    Some(v)
}

/// Where process `pid` runs (read from `/proc`, named from `roots`).
pub fn of_pid(pid: u32, roots: &Roots) -> Placement {
    let Ok(text) = crate::range::read_sysfile(Path::new(&format!("/proc/{pid}/cgroup"))) else {
        return Placement::default();
    };
    let mut p = parse(&String::from_utf8_lossy(&text));
    if let Some(c) = p.container.as_mut() {
        c.name = name(c, roots);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4c01db0b339c7ba8c3e0e0c4a2f6c8e8d1a9e4b6f3c2d1e0f9a8b7c6d5e4f3a2";

    #[test]
    fn every_runtime_path_shape_gives_its_container_id() {
        for (text, runtime) in [
            (format!("0::/system.slice/docker-{ID}.scope\n"), "docker"),
            (format!("12:name=systemd:/docker/{ID}\n0::/\n"), "docker"),
            (format!("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1b2c3d4e_0000_4000_8000_123456789abc.slice/cri-containerd-{ID}.scope\n"), "kubernetes pod 1b2c3d4e-0000-4000-8000-123456789abc"),
            (format!("0::/system.slice/cri-containerd-{ID}.scope\n"), "containerd"),
            (format!("0::/machine.slice/libpod-{ID}.scope/container\n"), "podman"),
            (format!("0::/kubepods/burstable/pod1b2c3d4e-0000-4000-8000-123456789abc/{ID}\n"), "kubernetes pod 1b2c3d4e-0000-4000-8000-123456789abc"),
            (format!("0::/crio-{ID}.scope\n"), "cri-o"),
        ] {
            let p = parse(&text);
            let c = p.container.unwrap_or_else(|| panic!("{text}"));
            assert_eq!((c.id.as_str(), c.runtime.as_str()), (ID, runtime), "{text}");
        }
    }

    #[test]
    fn monitors_short_ids_and_plain_services_are_no_container() {
        for text in [
            format!("0::/machine.slice/libpod-conmon-{ID}.scope\n"),
            "4:memory:/process_api/4f7ffa53c2ddf3551e3b3c30f2ebff2b\n0::/\n".to_string(),
            "0::/system.slice/nginx.service\n".to_string(),
            "garbage\n::\n0::\n".to_string(),
        ] {
            assert_eq!(parse(&text).container, None, "{text}");
        }
        assert_eq!(
            parse("0::/system.slice/nginx.service\n").unit.as_deref(),
            Some("nginx.service")
        );
    }

    #[test]
    fn a_pod_seen_only_by_its_slice_is_the_pod() {
        let p = parse("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1b2c3d4e_0000_4000_8000_123456789abc.slice\n");
        let c = p.container.unwrap();
        assert_eq!(
            (c.id.as_str(), c.runtime.as_str()),
            ("1b2c3d4e-0000-4000-8000-123456789abc", "kubernetes")
        );
    }

    #[test]
    fn names_come_from_dockers_config_and_the_pod_log_directory() {
        let d = tempfile::tempdir().unwrap();
        let roots = Roots {
            docker: d.path().join("containers"),
            pods: d.path().join("pods"),
        };
        std::fs::create_dir_all(roots.docker.join(ID)).unwrap();
        std::fs::write(
            roots.docker.join(ID).join("config.v2.json"),
            r#"{"ID":"x","Name":"/web-1","Config":{}}"#,
        )
        .unwrap();
        let uid = "1b2c3d4e-0000-4000-8000-123456789abc";
        std::fs::create_dir_all(roots.pods.join(format!("shop_cart-7d9f_{uid}"))).unwrap();
        let docker = parse(&format!("0::/docker/{ID}\n")).container.unwrap();
        assert_eq!(name(&docker, &roots).as_deref(), Some("web-1"));
        let pod = parse(&format!("0::/kubepods/besteffort/pod{uid}/{ID}\n"))
            .container
            .unwrap();
        assert_eq!(name(&pod, &roots).as_deref(), Some("shop/cart-7d9f"));
        // a broken config names nothing (and does not fail)
        std::fs::write(roots.docker.join(ID).join("config.v2.json"), "{").unwrap();
        assert_eq!(name(&docker, &roots), None);
    }
}
