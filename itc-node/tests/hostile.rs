//! Hostile peers against a running 4-node cluster: garbage bytes on the
//! p2p port before and after Noise, a libp2p client whose key is neither a
//! validator nor a configured peer (refused by the allow list), an allowed
//! observer whose consensus requests are dropped and counted, oversized
//! frames (refused before anything is read), garbage frames under a
//! validator's key, and hundreds of stalled streams. Throughout, clients
//! keep submitting to every node: the attacked node stays live, commits
//! every acknowledged transaction with the others, and its resident memory
//! stays within [`RSS_GROWTH_MAX`] of what it was before the attack.

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use itc_core::keys::Keypair;
use itc_node::harness::Cluster;
use libp2p::core::upgrade::OutboundConnectionUpgrade;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_itc-node");
/// The bound on the attacked node's RSS growth during the attack.
const RSS_GROWTH_MAX: u64 = 64 * 1024 * 1024;
/// The attacked node.
const TARGET: usize = 0;

/// What the hostile client writes on a stream.
#[derive(Debug, Clone)]
enum Request {
    /// These bytes as they are (the test frames them itself), then close.
    Raw(Vec<u8>),
    /// These bytes, then hold the stream open for a while.
    Stall(Vec<u8>, Duration),
}

#[derive(Debug, Clone, Copy)]
struct HostileCodec;

impl request_response::Codec for HostileCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> std::io::Result<Request>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        Err(std::io::Error::other("outbound only"))
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> std::io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        let mut out = Vec::new();
        io.take(64).read_to_end(&mut out).await?;
        if out.is_empty() {
            return Err(std::io::Error::other("no response"));
        }
        Ok(out)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Request,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        match request {
            Request::Raw(bytes) => io.write_all(&bytes).await?,
            Request::Stall(bytes, hold) => {
                io.write_all(&bytes).await?;
                io.flush().await?;
                tokio::time::sleep(hold).await;
            }
        }
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        _: &mut T,
        _: Vec<u8>,
    ) -> std::io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        Ok(())
    }
}

type Behaviour = request_response::Behaviour<HostileCodec>;
type Event = request_response::Event<Request, Vec<u8>>;

fn hostile_swarm(key: &Keypair, listen: Option<&str>) -> Swarm<Behaviour> {
    let mut swarm =
        libp2p::SwarmBuilder::with_existing_identity(itc_node::keys::libp2p_identity(key))
            .with_tokio()
            .with_tcp(
                tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )
            .unwrap()
            .with_behaviour(|_| {
                request_response::Behaviour::with_codec(
                    HostileCodec,
                    [(
                        StreamProtocol::new(itc_node::net::CONSENSUS_PROTOCOL),
                        ProtocolSupport::Outbound,
                    )],
                    request_response::Config::default()
                        .with_request_timeout(Duration::from_secs(20))
                        .with_max_concurrent_streams(1_000),
                )
            })
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
            .build();
    if let Some(listen) = listen {
        swarm.listen_on(listen.parse().unwrap()).unwrap();
    }
    swarm
}

/// A frame as the node's codec reads it: 4-byte big-endian length, bytes.
fn frame(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// Deterministic junk (xorshift), `len` bytes.
fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// How the requests of one phase ended.
#[derive(Debug, Default)]
struct Outcomes {
    responses: usize,
    failures: usize,
    connection_errors: usize,
    closed: usize,
}

/// Send `requests` to `peer` and drive the swarm until every one has an
/// outcome or `timeout` passes; `sample` runs every 100 ms.
async fn exchange(
    swarm: &mut Swarm<Behaviour>,
    peer: PeerId,
    requests: Vec<Request>,
    timeout: Duration,
    sample: &mut impl FnMut(),
) -> Outcomes {
    let mut pending: HashSet<OutboundRequestId> = HashSet::new();
    for request in requests {
        pending.insert(swarm.behaviour_mut().send_request(&peer, request));
    }
    let mut outcomes = Outcomes::default();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !pending.is_empty() {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tick.tick() => sample(),
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(Event::Message {
                    message: request_response::Message::Response { request_id, .. },
                    ..
                }) if pending.remove(&request_id) => outcomes.responses += 1,
                SwarmEvent::Behaviour(Event::OutboundFailure { request_id, .. })
                    if pending.remove(&request_id) => outcomes.failures += 1,
                SwarmEvent::OutgoingConnectionError { .. } => outcomes.connection_errors += 1,
                SwarmEvent::ConnectionClosed { .. } => outcomes.closed += 1,
                _ => {}
            },
        }
    }
    outcomes
}

/// Read from a raw TCP stream until the node closes it; `true` if it did
/// within `timeout`.
fn closed_by_node(stream: &mut std::net::TcpStream, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// multistream-select 1.0 message: varint length, text, newline.
fn multistream(text: &str) -> Vec<u8> {
    let mut out = vec![(text.len() + 1) as u8];
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    out
}

/// Complete a Noise handshake with the node (as a stranger), then send
/// garbage where it expects the muxer negotiation; `true` if the node
/// closed the connection.
async fn garbage_after_noise(
    address: std::net::SocketAddr,
    node: PeerId,
    stranger: &Keypair,
) -> bool {
    let socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut socket = tcp::tokio::TcpStream(socket);
    let hello = [multistream("/multistream/1.0.0"), multistream("/noise")].concat();
    socket.write_all(&hello).await.unwrap();
    let mut echo = vec![0u8; hello.len()];
    socket.read_exact(&mut echo).await.unwrap();
    assert_eq!(echo, hello, "the node speaks multistream-select and Noise");
    let identity = itc_node::keys::libp2p_identity(stranger);
    let (peer, mut secure) = noise::Config::new(&identity)
        .unwrap()
        .upgrade_outbound(socket, "/noise")
        .await
        .expect("noise handshake");
    assert_eq!(peer, node, "Noise authenticates the node's key");
    for k in 0..64u64 {
        if secure.write_all(&junk(k + 100, 1024)).await.is_err() {
            return true;
        }
        let _ = secure.flush().await;
    }
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match secure.read(&mut buffer).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    })
    .await;
    read.unwrap_or(false)
}

fn socket_of(multiaddr: &str) -> std::net::SocketAddr {
    let parts: Vec<&str> = multiaddr.split('/').collect();
    format!("{}:{}", parts[2], parts[4]).parse().unwrap()
}

#[test]
fn hostile_peers_leave_the_node_live_and_within_its_memory_bound() {
    let started = Instant::now();
    let observer = Keypair::from_seed([0x5a; 32]);
    let stranger = Keypair::from_seed([0x66; 32]);
    let observer_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let observer_address = format!("/ip4/127.0.0.1/tcp/{observer_port}");
    let observer_entry = itc_node::config::PeerEntry {
        public_key: itc_core::hex::encode(&observer.public().0),
        address: observer_address.clone(),
    };
    let mut cluster = Cluster::init(BIN.as_ref(), "hostile", 4, |config| {
        config.peers.push(observer_entry.clone());
    });
    for i in 0..4 {
        cluster.spawn(i);
    }
    for i in 0..4 {
        cluster.wait_ready(i);
    }
    let cap = cluster.config(TARGET).p2p.request_bytes_max;
    let target_address: Multiaddr = cluster.p2p_address(TARGET).parse().unwrap();
    let target_socket = socket_of(&cluster.p2p_address(TARGET));
    let target_peer = itc_node::keys::peer_id_of(&cluster.nodes[TARGET].key);
    let validator_key =
        itc_node::keys::read_key_file(&cluster.nodes[3].dir.join("node.key")).unwrap();
    let pid = cluster.pid(TARGET).unwrap();
    let rss_before = cluster.rss_bytes(TARGET).unwrap();
    let dropped_before = cluster.metric(TARGET, "itc_dropped_non_validator_total");
    let refused_before = cluster.metric(TARGET, "itc_refused_frames_total");
    let load = cluster.start_load(&[0, 1, 2, 3], &[0, 1, 2, 3], Duration::from_millis(10));
    assert!(load.wait_more(50, Duration::from_secs(20)));
    cluster.wait_height(1, Duration::from_secs(30));
    let height_before = cluster.min_height();

    let mut rss_peak = rss_before;
    let mut sample = || {
        if let Some(rss) = itc_node::harness::rss_of(pid) {
            rss_peak = rss_peak.max(rss);
        }
    };
    // 1. Garbage before Noise: the node closes the connection.
    for k in 0..20u64 {
        let mut socket = std::net::TcpStream::connect(target_socket).unwrap();
        let _ = socket.write_all(&junk(k + 1, 4096));
        assert!(
            closed_by_node(&mut socket, Duration::from_secs(10)),
            "garbage before Noise: connection {k} left open"
        );
    }
    sample();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // 2. Garbage after a completed Noise handshake.
        for _ in 0..5 {
            assert!(
                garbage_after_noise(target_socket, target_peer, &stranger).await,
                "garbage after Noise: connection left open"
            );
        }
        sample();

        // 3. A stranger's libp2p client: refused by the allow list.
        let mut swarm = hostile_swarm(&stranger, None);
        swarm.add_peer_address(target_peer, target_address.clone());
        let requests = (0..10)
            .map(|k| Request::Raw(frame(&junk(k, 200))))
            .collect();
        let outcome = exchange(
            &mut swarm,
            target_peer,
            requests,
            Duration::from_secs(15),
            &mut sample,
        )
        .await;
        assert_eq!(outcome.responses, 0, "a stranger got answers: {outcome:?}");
        assert_eq!(outcome.failures, 10, "{outcome:?}");
        assert!(
            outcome.closed + outcome.connection_errors > 0,
            "the stranger's connection was not refused: {outcome:?}"
        );
        drop(swarm);
    });
    assert_eq!(
        cluster.metric(TARGET, "itc_dropped_non_validator_total"),
        dropped_before,
        "a stranger's requests must not reach the consensus gate"
    );

    // 4. The allowed observer: its consensus requests are answered at the
    // transport level, dropped before decoding and counted.
    let (observer_requests, oversized, validator_junk, stalled) =
        (50usize, 100usize, 200usize, 400usize);
    let observer_swarm = runtime.block_on(async {
        let mut swarm = hostile_swarm(&observer, Some(&observer_address));
        swarm.add_peer_address(target_peer, target_address.clone());
        let requests = (0..observer_requests as u64)
            .map(|k| Request::Raw(frame(&junk(k + 7, 300))))
            .collect();
        let outcome = exchange(
            &mut swarm,
            target_peer,
            requests,
            Duration::from_secs(20),
            &mut sample,
        )
        .await;
        assert_eq!(outcome.responses, observer_requests, "{outcome:?}");
        swarm
    });
    assert_eq!(
        cluster.metric(TARGET, "itc_dropped_non_validator_total"),
        dropped_before + observer_requests as f64,
        "every observer request dropped and counted"
    );

    let mut observer_swarm = observer_swarm;
    runtime.block_on(async {
        // 5. Oversized frames: a length above the cap resets the stream
        // before anything is read.
        // In waves of 25, under the node's 64 streams per connection, so
        // that every frame is read (and refused) rather than dropped.
        for wave in 0..oversized / 25 {
            let requests = (0..25)
                .map(|k| {
                    let length = if k % 2 == 0 { cap as u32 + 1 } else { u32::MAX };
                    let mut bytes = length.to_be_bytes().to_vec();
                    bytes.extend_from_slice(&junk((wave * 25 + k) as u64, 64));
                    Request::Raw(bytes)
                })
                .collect();
            let outcome = exchange(
                &mut observer_swarm,
                target_peer,
                requests,
                Duration::from_secs(20),
                &mut sample,
            )
            .await;
            assert_eq!(
                outcome.responses, 0,
                "an oversized frame was answered: {outcome:?}"
            );
            assert_eq!(outcome.failures, 25, "{outcome:?}");
        }
    });
    let refused = cluster.metric(TARGET, "itc_refused_frames_total") - refused_before;
    assert!(
        refused >= oversized as f64,
        "refused frames counted: {refused}, sent {oversized}"
    );

    runtime.block_on(async {
        // 6. Garbage frames under a running validator's key (a Byzantine
        // validator). Whether the connection gets in depends on the per-peer
        // connection limit (the validator's own links may fill it): either
        // it is refused, or its frames are acknowledged by the transport and
        // refused by the decoder. Waves of 25 stay under the stream cap.
        let mut swarm = hostile_swarm(&validator_key, None);
        swarm.add_peer_address(target_peer, target_address.clone());
        let (mut answered, mut refused_connection) = (0, false);
        for wave in 0..(validator_junk / 25) as u64 {
            let requests = (wave * 25..wave * 25 + 25)
                .map(|k| Request::Raw(frame(&junk(k + 1000, 1 + (k as usize * 37) % 4000))))
                .collect();
            let outcome = exchange(
                &mut swarm,
                target_peer,
                requests,
                Duration::from_secs(20),
                &mut sample,
            )
            .await;
            assert_eq!(outcome.responses + outcome.failures, 25, "{outcome:?}");
            answered += outcome.responses;
            refused_connection |= outcome.closed + outcome.connection_errors > 0;
        }
        assert!(
            answered == validator_junk || refused_connection,
            "garbage frames under a validator key: {answered} answered of {validator_junk}"
        );
        eprintln!(
            "validator-key garbage: {answered} answered, connection refused: {refused_connection}"
        );
        drop(swarm);

        // 7. Hundreds of streams at once, each announcing a frame just
        // under the cap and then stalling.
        let requests = (0..stalled)
            .map(|k| {
                let mut bytes = ((cap - 1) as u32).to_be_bytes().to_vec();
                bytes.extend_from_slice(&junk(k as u64, 100));
                Request::Stall(bytes, Duration::from_secs(6))
            })
            .collect();
        let outcome = exchange(
            &mut observer_swarm,
            target_peer,
            requests,
            Duration::from_secs(25),
            &mut sample,
        )
        .await;
        assert_eq!(
            outcome.responses, 0,
            "a truncated frame was answered: {outcome:?}"
        );
        eprintln!("stalled streams: {outcome:?}");
    });
    drop(observer_swarm);
    drop(runtime);

    // The attacked node is alive, answers, and commits with the others.
    assert!(
        cluster.is_alive(TARGET),
        "node {TARGET} died\n{}",
        cluster.log_tail(TARGET)
    );
    assert!(
        load.wait_more(100, Duration::from_secs(20)),
        "the cluster stopped taking transactions"
    );
    let logs = load.stop();
    cluster.assert_committed_once(&logs, Duration::from_secs(30));
    let height = cluster.min_height();
    assert!(height > height_before, "no block during the attack");
    cluster.assert_same_chain(height);
    let rss_after = cluster.rss_bytes(TARGET).unwrap();
    rss_peak = rss_peak.max(rss_after);
    assert!(
        rss_peak <= rss_before + RSS_GROWTH_MAX,
        "RSS grew from {rss_before} to {rss_peak} bytes"
    );
    let acknowledged: usize = logs.iter().map(|l| l.acknowledged.len()).sum();
    eprintln!(
        "node {TARGET}: RSS {} MiB before, peak {} MiB, after {} MiB; refused frames +{refused}; \
         dropped non-validator +{observer_requests}; {acknowledged} transactions acknowledged during \
         the attack; heights {height_before}..{height}; {:?}",
        rss_before >> 20,
        rss_peak >> 20,
        rss_after >> 20,
        started.elapsed()
    );
}
