//! A network partition of one node heals and the minority catches up.
//!
//! The partition is made by TCP proxies in the test (firewall-free, no
//! root needed): every node's `[[peers]]` addresses point to a proxy per
//! directed link, and cutting a node closes every proxied connection that
//! touches it and refuses new ones until the partition heals.

use itc_node::harness::Cluster;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_itc-node");

/// Connections of one proxy, by the node pair they join.
type Open = Arc<Mutex<Vec<(usize, usize, TcpStream)>>>;

/// Proxies for every directed link; drop stops them all.
struct Proxies {
    stop: Arc<AtomicBool>,
    cut: Arc<Mutex<Vec<bool>>>,
    open: Open,
    reserved: Vec<u16>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Proxies {
    fn new(nodes: usize, reserved: Vec<u16>) -> Proxies {
        Proxies {
            reserved,
            stop: Arc::new(AtomicBool::new(false)),
            cut: Arc::new(Mutex::new(vec![false; nodes])),
            open: Arc::default(),
            threads: Vec::new(),
        }
    }

    /// A proxy from node `from` to node `to` (listening at `target`);
    /// returns its address.
    fn add(&mut self, from: usize, to: usize, target: SocketAddr) -> SocketAddr {
        // Not on a port the testnet reserved for a node (freed at init).
        let listener = loop {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            if !self.reserved.contains(&port) {
                break listener;
            }
        };
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, cut, open) = (self.stop.clone(), self.cut.clone(), self.open.clone());
        self.threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok((inbound, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let blocked = {
                    let cut = cut.lock().unwrap();
                    cut[from] || cut[to]
                };
                if blocked {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                }
                let _ = inbound.set_nonblocking(false);
                let Ok(outbound) = TcpStream::connect_timeout(&target, Duration::from_secs(2))
                else {
                    continue;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                if let (Ok(a), Ok(b)) = (inbound.try_clone(), outbound.try_clone()) {
                    let mut open = open.lock().unwrap();
                    open.push((from, to, a));
                    open.push((from, to, b));
                }
                pump(inbound.try_clone().unwrap(), outbound.try_clone().unwrap());
                pump(outbound, inbound);
            }
        }));
        address
    }

    /// Cut node `k` off: close its proxied connections, refuse new ones.
    fn cut(&self, k: usize) {
        self.cut.lock().unwrap()[k] = true;
        let mut open = self.open.lock().unwrap();
        open.retain(|(from, to, stream)| {
            if *from == k || *to == k {
                let _ = stream.shutdown(Shutdown::Both);
                false
            } else {
                true
            }
        });
    }

    fn heal(&self, k: usize) {
        self.cut.lock().unwrap()[k] = false;
    }
}

/// Copy `from` into `to` on a thread until either side closes.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
}

impl Drop for Proxies {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for (_, _, stream) in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn socket_of(multiaddr: &str) -> SocketAddr {
    // "/ip4/127.0.0.1/tcp/PORT"
    let parts: Vec<&str> = multiaddr.split('/').collect();
    format!("{}:{}", parts[2], parts[4]).parse().unwrap()
}

#[test]
fn a_partitioned_node_catches_up_when_the_partition_heals() {
    let started = Instant::now();
    let mut cluster = Cluster::init(BIN.as_ref(), "partition", 4, |_| {});
    let listen: Vec<SocketAddr> = (0..4).map(|i| socket_of(&cluster.p2p_address(i))).collect();
    let mut reserved: Vec<u16> = listen.iter().map(SocketAddr::port).collect();
    for i in 0..4 {
        let http: SocketAddr = cluster.config(i).http.listen.parse().unwrap();
        reserved.push(http.port());
    }
    let mut proxies = Proxies::new(4, reserved);
    let keys: Vec<String> = cluster
        .nodes
        .iter()
        .map(|n| itc_core::hex::encode(&n.key.0))
        .collect();
    for from in 0..4 {
        let mut routes = Vec::new();
        for to in (0..4).filter(|to| *to != from) {
            routes.push((keys[to].clone(), proxies.add(from, to, listen[to])));
        }
        cluster.edit_config(from, |config| {
            for peer in &mut config.peers {
                let (_, proxy) = routes.iter().find(|(k, _)| *k == peer.public_key).unwrap();
                peer.address = format!("/ip4/127.0.0.1/tcp/{}", proxy.port());
            }
        });
    }
    for i in 0..4 {
        cluster.spawn(i);
    }
    for i in 0..4 {
        cluster.wait_ready(i);
    }
    let victim = (cluster.primary(0) + 3) % 4;
    let majority: Vec<usize> = (0..4).filter(|i| *i != victim).collect();
    let load = cluster.start_load(&[0, 1, 2], &majority, Duration::from_millis(5));
    assert!(load.wait_more(200, Duration::from_secs(20)));
    cluster.wait_height(2, Duration::from_secs(20));

    proxies.cut(victim);
    std::thread::sleep(Duration::from_millis(300));
    let cut_at = cluster.client(victim).height().unwrap();
    let majority_at = cluster.max_height();
    // The majority goes on; the minority does not move.
    assert!(load.wait_more(400, Duration::from_secs(30)));
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

    proxies.heal(victim);
    let reached = match cluster
        .client(victim)
        .wait_height(majority_now, Duration::from_secs(40))
    {
        Ok(h) => h,
        Err(e) => {
            for i in 0..4 {
                eprintln!("node {i} status: {}", cluster.status(i));
            }
            panic!("node {victim} did not catch up after the heal: {e}");
        }
    };
    let logs = load.stop();
    let top = cluster.max_height();
    cluster.wait_node_height(victim, top, Duration::from_secs(30));
    cluster.assert_committed_once(&logs, Duration::from_secs(30));
    let height = cluster.min_height();
    cluster.assert_same_chain(height);
    eprintln!(
        "node {victim} cut at {cut_at} (majority {majority_at}), majority reached {majority_now}, \
         minority caught up to {reached}; chain {height}; {:?}",
        started.elapsed()
    );
    drop(cluster);
    drop(proxies);
}
