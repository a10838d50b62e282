//! A network partition of one node, made in the kernel: every node runs in
//! its own Linux network namespace, and cutting a node unplugs its virtual
//! cable from the switch. The partition heals and the minority catches up.
//!
//! Needs root and iproute2 (`ip`), as CI has; otherwise the test says why
//! and passes (tests/partition.rs makes the same partition with TCP proxies
//! and runs everywhere).
//!
//! Topology, per run (names and addresses derived from the process id):
//!
//! ```text
//!   node ns itcPn0 ── dP0 ═ sP0 ─┐
//!   node ns itcPn1 ── dP1 ═ sP1 ─┤ bridge in hub ns itcPh   (p2p, 10.A.B.0/24)
//!   ...                           ┘
//!   node ns itcPnK ── ePK ═ mPK (root ns)                    (HTTP, 10.A.B+1.4K/30)
//! ```
//!
//! Each node has a data link (its p2p address, on a bridge in a dedicated
//! "hub" namespace) and a management link to the root namespace (its HTTP
//! address, a point-to-point /30). The cut takes the node's port on the
//! bridge down: consensus traffic to and from it is silently dropped (open
//! TCP connections stall, nothing is reset), while the test still reads the
//! node's height over the management link. The node has no route from one
//! link to the other, and the root namespace does not forward.

use itc_node::harness::Cluster;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_itc-node");

/// Nodes in the test network.
const NODES: usize = 4;

/// Run `ip ARGS`; `Err` carries the command and its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {} {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Why the namespace test cannot run here, if it cannot.
fn unsupported() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("network namespaces are Linux-only".into());
    }
    // Effective uid and capabilities, as `id -u` and `capsh` would see them.
    let status = match std::fs::read_to_string("/proc/self/status") {
        Ok(text) => text,
        Err(e) => return Some(format!("cannot read /proc/self/status: {e}")),
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let uid = field("Uid:");
    if uid.get(1) != Some(&"0") {
        return Some(format!(
            "not root (effective uid {})",
            uid.get(1).unwrap_or(&"?")
        ));
    }
    // `ip netns` needs CAP_SYS_ADMIN (21, mounts) and CAP_NET_ADMIN (12).
    let caps = field("CapEff:")
        .first()
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0);
    if caps & (1 << 12) == 0 || caps & (1 << 21) == 0 {
        return Some(format!(
            "root without CAP_NET_ADMIN or CAP_SYS_ADMIN (CapEff {caps:#x})"
        ));
    }
    match Command::new("ip").arg("-V").stdout(Stdio::null()).status() {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("`ip -V` exited with {status}")),
        Err(e) => Some(format!("no iproute2 `ip` command: {e}")),
    }
}

/// The namespaces, veth pairs and bridge of one run; dropping it deletes
/// them all, also when the test panics. Drop the cluster (its processes)
/// first: a namespace lives on while a process runs in it.
struct Netns {
    /// Name prefix of everything this run creates (`itc` + a number).
    tag: String,
    /// The hub namespace (holds the bridge).
    hub: String,
    /// One namespace per node.
    nodes: Vec<String>,
    /// Management veth ends in the root namespace.
    root_links: Vec<String>,
    /// `(a, b)` of the data subnet `10.a.b.0/24` (inside the namespaces
    /// only); the management links use /30s of `10.a.(b+1).0/24`, whose
    /// root-namespace routes show a concurrent run that the subnet is taken.
    net: (u8, u8),
}

impl Netns {
    /// Create the topology for `count` nodes, with names and subnets that
    /// do not collide with another run or an existing address.
    fn create(count: usize) -> Result<Netns, String> {
        let pid = std::process::id();
        let used = Command::new("ip")
            .args(["-4", "-o", "route", "show", "table", "all"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        let mut last = String::new();
        for attempt in 0..8u32 {
            let n = (pid + attempt * 1237) % 10_000;
            let net = (200 + (n % 50) as u8, ((n / 50) % 127 * 2) as u8);
            let taken = [net.1, net.1 + 1]
                .iter()
                .any(|b| used.contains(&format!("10.{}.{b}.", net.0)));
            if taken {
                continue;
            }
            let tag = format!("itc{n}");
            let hub = format!("{tag}h");
            // The hub namespace's name is the run's lock: `ip netns add`
            // fails if another run holds it.
            if let Err(e) = ip(&["netns", "add", &hub]) {
                last = e;
                continue;
            }
            let mut netns = Netns {
                hub,
                nodes: Vec::new(),
                root_links: Vec::new(),
                net,
                tag,
            };
            // On an error, dropping `netns` removes what was made.
            netns.build(count)?;
            return Ok(netns);
        }
        Err(format!("no free namespace name or subnet: {last}"))
    }

    fn build(&mut self, count: usize) -> Result<(), String> {
        let (tag, hub) = (self.tag.clone(), self.hub.clone());
        let bridge = format!("{tag}br");
        ip(&["-n", &hub, "link", "set", "lo", "up"])?;
        ip(&["-n", &hub, "link", "add", &bridge, "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", &bridge, "up"])?;
        for i in 0..count {
            let ns = format!("{tag}n{i}");
            ip(&["netns", "add", &ns])?;
            self.nodes.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            // Data link: node ns ⇄ hub bridge.
            let (node_end, hub_end) = (format!("{tag}d{i}"), format!("{tag}s{i}"));
            ip(&[
                "link", "add", &node_end, "netns", &ns, "type", "veth", "peer", "name", &hub_end,
                "netns", &hub,
            ])?;
            ip(&["-n", &hub, "link", "set", &hub_end, "master", &bridge])?;
            ip(&["-n", &hub, "link", "set", &hub_end, "up"])?;
            let data = format!("{}/24", self.p2p_ip(i));
            ip(&["-n", &ns, "addr", "add", &data, "dev", &node_end])?;
            ip(&["-n", &ns, "link", "set", &node_end, "up"])?;
            // Management link: root ns ⇄ node ns, a /30 of its own.
            let (root_end, mgmt_end) = (format!("{tag}m{i}"), format!("{tag}e{i}"));
            ip(&[
                "link", "add", &root_end, "type", "veth", "peer", "name", &mgmt_end, "netns", &ns,
            ])?;
            self.root_links.push(root_end.clone());
            let (a, b) = self.net;
            let root_addr = format!("10.{a}.{}.{}/30", b + 1, 4 * i + 1);
            ip(&["addr", "add", &root_addr, "dev", &root_end])?;
            ip(&["link", "set", &root_end, "up"])?;
            let mgmt = format!("{}/30", self.http_ip(i));
            ip(&["-n", &ns, "addr", "add", &mgmt, "dev", &mgmt_end])?;
            ip(&["-n", &ns, "link", "set", &mgmt_end, "up"])?;
        }
        Ok(())
    }

    /// Node `i`'s p2p address (on the bridge).
    fn p2p_ip(&self, i: usize) -> String {
        format!("10.{}.{}.{}", self.net.0, self.net.1, i + 1)
    }

    /// Node `i`'s HTTP address (on its management link).
    fn http_ip(&self, i: usize) -> String {
        format!("10.{}.{}.{}", self.net.0, self.net.1 + 1, 4 * i + 2)
    }

    /// Every namespace and root-namespace link this run made.
    fn all_names(&self) -> Vec<String> {
        let mut names = self.nodes.clone();
        names.push(self.hub.clone());
        names.extend(self.root_links.iter().cloned());
        names
    }

    /// The command prefix that runs a program in node `i`'s namespace.
    fn launcher(&self, i: usize) -> Vec<String> {
        ["ip", "netns", "exec", &self.nodes[i]]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// Unplug (`up == false`) or plug back node `i`'s port on the bridge.
    fn set_link(&self, i: usize, up: bool) {
        let port = format!("{}s{i}", self.tag);
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.hub, "link", "set", &port, state]).unwrap();
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace destroys the veth ends in it, and with them
        // their peers; the explicit deletes cover a half-built topology.
        for link in &self.root_links {
            let _ = ip(&["link", "del", link]);
        }
        for ns in self.nodes.iter().chain(std::iter::once(&self.hub)) {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// Replace the host of a `/ip4/HOST/tcp/PORT` multiaddress.
fn with_host(multiaddr: &str, host: &str) -> String {
    let port = multiaddr.rsplit('/').next().unwrap();
    format!("/ip4/{host}/tcp/{port}")
}

#[test]
fn a_node_cut_off_by_its_network_namespace_catches_up_when_the_link_comes_back() {
    if let Some(reason) = unsupported() {
        eprintln!("skipped: {reason}; tests/partition.rs covers partitions with TCP proxies");
        return;
    }
    let started = Instant::now();
    // Declared before the cluster so it is dropped after the processes.
    let net = Netns::create(NODES).unwrap_or_else(|e| panic!("network setup: {e}"));
    let mut cluster = Cluster::init(BIN.as_ref(), "partition-netns", NODES, |_| {});
    let keys: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| itc_core::hex::encode(&n.key.0))
        .collect();
    let p2p: Vec<String> = (0..NODES)
        .map(|i| with_host(&cluster.p2p_address(i), &net.p2p_ip(i)))
        .collect();
    for i in 0..NODES {
        let http_port = cluster
            .config(i)
            .http
            .listen
            .rsplit(':')
            .next()
            .unwrap()
            .to_string();
        cluster.edit_config(i, |config| {
            config.p2p.listen = p2p[i].clone();
            config.http.listen = format!("{}:{http_port}", net.http_ip(i));
            for peer in &mut config.peers {
                let k = keys.iter().position(|k| *k == peer.public_key).unwrap();
                peer.address = p2p[k].clone();
            }
        });
        cluster.set_launcher(i, net.launcher(i));
    }
    for i in 0..NODES {
        cluster.spawn(i);
    }
    for i in 0..NODES {
        cluster.wait_ready(i);
    }
    let setup = started.elapsed();
    // `ip netns exec` execs the node: the pid the cluster kills is the
    // node's, not a wrapper's that would leave the node running.
    let binary = std::fs::canonicalize(BIN).unwrap();
    for i in 0..NODES {
        let pid = cluster.pid(i).unwrap();
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
        assert_eq!(exe, binary, "node {i}'s process {pid} is not the node");
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
        let own = std::fs::read_link("/proc/self/ns/net").unwrap();
        assert_ne!(ns, own, "node {i} runs in the test's network namespace");
    }
    let victim = (cluster.primary(0) + 3) % NODES;
    let majority: Vec<usize> = (0..NODES).filter(|i| *i != victim).collect();
    let load = cluster.start_load(&[0, 1, 2], &majority, Duration::from_millis(5));
    assert!(load.wait_more(200, Duration::from_secs(20)));
    cluster.wait_height(2, Duration::from_secs(20));

    net.set_link(victim, false);
    std::thread::sleep(Duration::from_millis(300));
    let cut_at = cluster.client(victim).height().unwrap();
    let majority_at = cluster.max_height();
    // The majority goes on; the minority does not move.
    assert!(
        load.wait_more(400, Duration::from_secs(30)),
        "the majority stopped admitting transactions"
    );
    for &i in &majority {
        cluster.wait_node_height(i, majority_at + 5, Duration::from_secs(30));
    }
    let minority_now = cluster.client(victim).height().unwrap();
    let majority_now = majority
        .iter()
        .map(|&i| cluster.client(i).height().unwrap())
        .min()
        .unwrap();
    assert!(
        minority_now <= cut_at + 1,
        "the cut node advanced from {cut_at} to {minority_now}: the partition leaks"
    );
    assert!(majority_now >= majority_at + 5);

    net.set_link(victim, true);
    let healed = Instant::now();
    let reached = match cluster
        .client(victim)
        .wait_height(majority_now, Duration::from_secs(40))
    {
        Ok(h) => h,
        Err(e) => {
            for i in 0..NODES {
                eprintln!("node {i} status: {}", cluster.status(i));
            }
            panic!(
                "node {victim} did not catch up after the heal: {e}\n{}",
                cluster.log_tail(victim)
            );
        }
    };
    let caught_up = healed.elapsed();
    let logs = load.stop();
    let top = cluster.max_height();
    cluster.wait_node_height(victim, top, Duration::from_secs(30));
    cluster.assert_committed_once(&logs, Duration::from_secs(30));
    let height = cluster.min_height();
    cluster.assert_same_chain(height);
    eprintln!(
        "netns {}: node {victim} cut at {cut_at} (majority {majority_at}), majority reached \
         {majority_now}, minority caught up to {reached} in {caught_up:?}; chain {height}; \
         setup {setup:?}, total {:?}",
        net.tag,
        started.elapsed()
    );
    drop(cluster);
    let (tag, names) = (net.tag.clone(), net.all_names());
    drop(net);
    // Nothing of the run is left behind.
    let namespaces = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
    let left = format!(
        "{}{}",
        String::from_utf8_lossy(&namespaces.stdout),
        String::from_utf8_lossy(&links.stdout)
    );
    for name in names {
        assert!(
            !left
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == name),
            "{name} of run {tag} left behind:\n{left}"
        );
    }
}
