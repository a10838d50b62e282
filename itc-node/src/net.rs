//! Peer-to-peer networking on rust-libp2p: TCP + Noise + Yamux, with
//! request-response for consensus messages (and the state transfer they
//! carry), gossipsub for client and DAG transactions, identify and ping.
//!
//! Bounds, so that a flood from one peer never grows memory without bound
//! or starves the others:
//! - Only the current validators and the configured peers may connect at
//!   all (an allow list, refreshed when the validator set changes); a
//!   consensus message from a connected peer that is not a validator is
//!   dropped before it is decoded and counted
//!   (`itc_dropped_non_validator`).
//! - Frames carry a 4-byte length that is checked against
//!   [`crate::config::P2pSection::request_bytes_max`] before anything is
//!   read; bodies are read as they arrive, never pre-allocated.
//! - Streams per connection, connections in total and per peer, and
//!   gossip message sizes are capped ([`crate::config::P2pSection`]).
//! - Inbound consensus messages wait in one bounded queue **per peer** and
//!   reach the replica round-robin, so a flooding validator fills only its
//!   own queue. Outbound requests per peer are capped too (libp2p's own
//!   send queue is unbounded); over the cap a message is dropped, and the
//!   protocol retransmits.
//! - Lost connections to configured peers are redialled with exponential
//!   backoff.

use crate::config::P2pSection;
use crate::consensus::{Control, Outbound, Shared};
use crate::keys::{itc_key_of, peer_id_of};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use itc_core::keys::{Keypair, PublicKey};
use itc_pbft::Recipient;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, gossipsub, identify, noise, ping, request_response, tcp,
    yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The consensus protocol's name.
pub const CONSENSUS_PROTOCOL: &str = "/itc/consensus/1";
/// Largest response frame (responses are empty acknowledgements).
pub const RESPONSE_BYTES_MAX: usize = 64;
const READ_CHUNK: usize = 64 * 1024;
/// Gossip messages kept while no peer subscribes to their topic.
pub const UNPUBLISHED_MAX: usize = 4_096;
/// How long such a message is retried before it is dropped.
pub const UNPUBLISHED_AGE_MAX: Duration = Duration::from_secs(60);
type Unpublished = (Instant, gossipsub::IdentTopic, Vec<u8>);

/// On shutdown, how long the network keeps running at least (gossip of the
/// last admitted transactions) and at most (answers to the last requests).
const DRAIN_MIN: Duration = Duration::from_millis(200);
const DRAIN_MAX: Duration = Duration::from_secs(2);

/// Length-prefixed frames (4-byte big-endian length, then the bytes),
/// capped before anything is read.
#[derive(Clone, Debug, Default)]
pub struct FrameCodec {
    /// Largest request accepted.
    pub request_bytes_max: usize,
    /// Counts inbound frames refused while reading (oversized, truncated):
    /// libp2p's request-response reports no event when `read_request`
    /// fails, so the codec counts them itself.
    pub refused: prometheus_client::metrics::counter::Counter,
}

async fn read_frame<T: futures::AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    io.read_exact(&mut length).await?;
    let length = u32::from_be_bytes(length) as usize;
    if length > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {length} bytes exceeds the cap of {max}"),
        ));
    }
    // Grow with what arrives: a peer that announces a large frame and sends
    // nothing costs one chunk, not the announced size.
    let mut out = Vec::with_capacity(length.min(READ_CHUNK));
    let mut chunk = vec![0u8; length.min(READ_CHUNK)];
    while out.len() < length {
        let want = (length - out.len()).min(READ_CHUNK);
        io.read_exact(&mut chunk[..want]).await?;
        out.extend_from_slice(&chunk[..want]);
    }
    Ok(out)
}

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(
    io: &mut T,
    bytes: &[u8],
) -> io::Result<()> {
    let length = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    io.write_all(&length.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io, self.request_bytes_max).await;
        if frame.is_err() {
            self.refused.inc();
        }
        frame
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: futures::AsyncRead + Unpin + Send,
    {
        read_frame(io, RESPONSE_BYTES_MAX).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()>
    where
        T: futures::AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response).await
    }
}

mod behaviour {
    // The derive generates `BehaviourEvent` without documentation.
    #![allow(missing_docs)]
    use super::*;

    /// The node's libp2p behaviour.
    #[derive(NetworkBehaviour)]
    pub struct Behaviour {
        pub(super) allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
        pub(super) limits: connection_limits::Behaviour,
        pub(super) ping: ping::Behaviour,
        pub(super) identify: identify::Behaviour,
        pub(super) gossipsub: gossipsub::Behaviour,
        pub(super) consensus: request_response::Behaviour<FrameCodec>,
    }
}
pub use behaviour::{Behaviour, BehaviourEvent};

/// Round-robin queues of inbound consensus messages, one per peer, each
/// bounded in messages and bytes.
#[derive(Debug, Default)]
pub struct FairQueue {
    queues: BTreeMap<PublicKey, (VecDeque<Vec<u8>>, usize)>,
    last: Option<PublicKey>,
    messages_max: usize,
    bytes_max: usize,
}

impl FairQueue {
    /// Queues of at most `messages_max` messages and `bytes_max` bytes per
    /// peer.
    pub fn new(messages_max: usize, bytes_max: usize) -> Self {
        FairQueue {
            queues: BTreeMap::new(),
            last: None,
            messages_max,
            bytes_max,
        }
    }

    /// Queue `bytes` from `peer`; `false` (and dropped) if its queue is full.
    pub fn push(&mut self, peer: PublicKey, bytes: Vec<u8>) -> bool {
        let (queue, size) = self.queues.entry(peer).or_default();
        if queue.len() >= self.messages_max || *size + bytes.len() > self.bytes_max {
            return false;
        }
        *size += bytes.len();
        queue.push_back(bytes);
        true
    }

    /// Whether any message waits.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// The next message, taking peers in turn.
    pub fn pop(&mut self) -> Option<(PublicKey, Vec<u8>)> {
        let next = match self.last {
            Some(last) => self
                .queues
                .range((std::ops::Bound::Excluded(last), std::ops::Bound::Unbounded))
                .next()
                .or_else(|| self.queues.iter().next())
                .map(|(k, _)| *k),
            None => self.queues.keys().next().copied(),
        }?;
        let (queue, size) = self.queues.get_mut(&next)?;
        let bytes = queue.pop_front()?;
        *size -= bytes.len();
        if queue.is_empty() {
            self.queues.remove(&next);
        }
        self.last = Some(next);
        Some((next, bytes))
    }
}

/// Inbound consensus messages in two fair queues: client transactions
/// (`Request`s, which backups forward to the primary in bulk when a block
/// is slow) wait behind the protocol's own messages, so a burst of them
/// cannot delay the pre-prepares and votes that would end it.
#[derive(Debug)]
struct Inbound {
    protocol: FairQueue,
    requests: FairQueue,
}

/// The first byte of an encoded `itc_pbft::Message::Request`.
const REQUEST_TAG: u8 = 0;

impl Inbound {
    fn new(messages_max: usize, bytes_max: usize) -> Self {
        Inbound {
            protocol: FairQueue::new(messages_max, bytes_max),
            requests: FairQueue::new(messages_max, bytes_max),
        }
    }

    fn push(&mut self, peer: PublicKey, bytes: Vec<u8>) -> bool {
        if bytes.first() == Some(&REQUEST_TAG) {
            self.requests.push(peer, bytes)
        } else {
            self.protocol.push(peer, bytes)
        }
    }

    fn is_empty(&self) -> bool {
        self.protocol.is_empty() && self.requests.is_empty()
    }

    fn pop(&mut self) -> Option<(PublicKey, Vec<u8>)> {
        self.protocol.pop().or_else(|| self.requests.pop())
    }
}

/// Client transactions (`Request`s) in flight to one peer, at most: the
/// rest wait here, in order, so that a burst of them (every pooled
/// transaction a backup forwards to the primary) cannot fill the
/// connection's streams ahead of the pre-prepares and votes, which are
/// sent at once.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 16;

/// Outbound consensus requests per peer: those in flight, and the client
/// transactions held back by [`REQUESTS_IN_FLIGHT_MAX`].
#[derive(Debug, Default)]
struct Outflow {
    in_flight: HashMap<PeerId, usize>,
    held: HashMap<PeerId, VecDeque<Vec<u8>>>,
}

impl Outflow {
    fn pending(&self) -> usize {
        self.in_flight.values().sum::<usize>()
            + self.held.values().map(VecDeque::len).sum::<usize>()
    }

    /// A request to `peer` was answered or failed.
    fn done(&mut self, peer: &PeerId) {
        if let Some(c) = self.in_flight.get_mut(peer) {
            *c = c.saturating_sub(1);
        }
    }

    /// Held requests to `peer` that may now be sent.
    fn release(&mut self, peer: &PeerId) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let in_flight = self.in_flight.entry(*peer).or_default();
        if let Some(queue) = self.held.get_mut(peer) {
            while *in_flight < REQUESTS_IN_FLIGHT_MAX {
                let Some(bytes) = queue.pop_front() else {
                    break;
                };
                *in_flight += 1;
                out.push(bytes);
            }
            if queue.is_empty() {
                self.held.remove(peer);
            }
        }
        out
    }

    fn forget(&mut self, peer: &PeerId) {
        self.in_flight.remove(peer);
        self.held.remove(peer);
    }
}

struct Redial {
    address: Multiaddr,
    next_attempt: Instant,
    backoff: Duration,
}

/// Everything the network task needs.
pub struct NetworkTask {
    /// The swarm.
    pub swarm: Swarm<Behaviour>,
    /// Outbound traffic from the replica thread.
    pub outbound: mpsc::Receiver<Outbound>,
    /// Gated consensus messages to the replica thread.
    pub inbound: mpsc::Sender<(PublicKey, Vec<u8>)>,
    /// Gossiped transactions to the replica thread.
    pub control: mpsc::Sender<Control>,
    /// Shared state.
    pub shared: Arc<Shared>,
    /// Settings.
    pub config: P2pSection,
    /// Configured peers.
    pub peers: Vec<(PeerId, Multiaddr)>,
    /// Addresses the swarm listens on, once known.
    pub listening: watch::Sender<Vec<Multiaddr>>,
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The swarm could not be built or could not listen.
    #[error("p2p: {0}")]
    Setup(String),
}

fn topic(chain_id: u32, name: &str) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("itc/{chain_id}/{name}"))
}

/// Build the swarm and start listening.
///
/// # Errors
/// [`NetError::Setup`] if a transport or the listener fails.
pub fn build_swarm(
    key: &Keypair,
    chain_id: u32,
    config: &P2pSection,
) -> Result<Swarm<Behaviour>, NetError> {
    build_swarm_counting(key, chain_id, config, Default::default())
}

/// [`build_swarm`], counting refused inbound frames in `refused` (the
/// node passes its `itc_refused_frames` counter).
///
/// # Errors
/// [`NetError::Setup`] if a transport or the listener fails.
pub fn build_swarm_counting(
    key: &Keypair,
    chain_id: u32,
    config: &P2pSection,
    refused: prometheus_client::metrics::counter::Counter,
) -> Result<Swarm<Behaviour>, NetError> {
    let setup = |e: &dyn std::fmt::Display| NetError::Setup(e.to_string());
    let identity = crate::keys::libp2p_identity(key);
    let config = config.clone();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| setup(&e))?
        .with_behaviour(|key| {
            let gossip_config = gossipsub::ConfigBuilder::default()
                .max_transmit_size(config.gossip_bytes_max)
                .validation_mode(gossipsub::ValidationMode::Strict)
                .validate_messages()
                .heartbeat_interval(Duration::from_millis(500))
                .build()
                .map_err(|e| io::Error::other(e.to_string()))?;
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(key.clone()),
                gossip_config,
            )
            .map_err(io::Error::other)?;
            let consensus = request_response::Behaviour::with_codec(
                FrameCodec {
                    request_bytes_max: config.request_bytes_max,
                    refused: refused.clone(),
                },
                [(
                    StreamProtocol::new(CONSENSUS_PROTOCOL),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(10))
                    .with_max_concurrent_streams(config.streams_per_connection),
            );
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established(Some(config.connections_max))
                .with_max_established_per_peer(Some(config.connections_per_peer))
                .with_max_pending_incoming(Some(config.connections_max))
                .with_max_pending_outgoing(Some(config.connections_max));
            Ok(Behaviour {
                allowed: allow_block_list::Behaviour::default(),
                limits: connection_limits::Behaviour::new(limits),
                ping: ping::Behaviour::default(),
                identify: identify::Behaviour::new(identify::Config::new(
                    "/itc/1.0.0".into(),
                    key.public(),
                )),
                gossipsub,
                consensus,
            })
        })
        .map_err(|e| setup(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    for name in ["tx", "dag"] {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic(chain_id, name))
            .map_err(|e| setup(&e))?;
    }
    let listen: Multiaddr = config.listen.parse().map_err(|e| setup(&e))?;
    swarm.listen_on(listen).map_err(|e| setup(&e))?;
    Ok(swarm)
}

impl NetworkTask {
    /// Run until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let per_peer_bytes = self.config.request_bytes_max.saturating_mul(2);
        let mut fair = Inbound::new(self.config.inbound_queue_per_peer, per_peer_bytes);
        let mut in_flight = Outflow::default();
        let now = Instant::now();
        let mut redial: HashMap<PeerId, Redial> = self
            .peers
            .iter()
            .map(|(peer, address)| {
                (
                    *peer,
                    Redial {
                        address: address.clone(),
                        next_attempt: now,
                        backoff: Duration::from_millis(self.config.redial_min_ms),
                    },
                )
            })
            .collect();
        let mut allowed = self.refresh_allowed(&mut Vec::new());
        let mut unpublished: VecDeque<Unpublished> = VecDeque::new();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let chain = self.shared.chain_id;
        let (tx_topic, dag_topic) = (topic(chain, "tx"), topic(chain, "dag"));
        enum Step {
            Stop,
            Drain,
            Event(Box<SwarmEvent<BehaviourEvent>>),
            Outbound(Outbound),
            Deliver,
            Tick,
        }
        loop {
            let step = tokio::select! {
                _ = shutdown.changed() => {
                    if *shutdown.borrow() { Step::Stop } else { continue }
                }
                event = self.swarm.select_next_some() => Step::Event(Box::new(event)),
                out = self.outbound.recv() => match out {
                    Some(out) => Step::Outbound(out),
                    // The replica stopped: send what it released, then stop.
                    None => Step::Drain,
                },
                permit = self.inbound.reserve(), if !fair.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(message) = fair.pop() {
                            permit.send(message);
                        }
                        Step::Deliver
                    }
                    Err(_) => Step::Drain,
                },
                _ = tick.tick() => Step::Tick,
            };
            match step {
                Step::Stop => return,
                Step::Drain => {
                    while let Ok(out) = self.outbound.try_recv() {
                        self.on_outbound(
                            out,
                            &mut in_flight,
                            &mut unpublished,
                            &tx_topic,
                            &dag_topic,
                        );
                    }
                    // Poll the swarm until the last requests are answered
                    // and gossip had a moment to leave (bounded).
                    let started = Instant::now();
                    loop {
                        let pending = in_flight.pending();
                        let elapsed = started.elapsed();
                        if elapsed >= DRAIN_MAX || (pending == 0 && elapsed >= DRAIN_MIN) {
                            return;
                        }
                        let event = tokio::select! {
                            _ = shutdown.changed() => {
                                if *shutdown.borrow() { return } else { continue }
                            }
                            event = self.swarm.select_next_some() => event,
                            _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
                        };
                        self.on_event(
                            event,
                            &mut fair,
                            &mut in_flight,
                            &mut redial,
                            &tx_topic,
                            &dag_topic,
                        );
                    }
                }
                Step::Event(event) => self.on_event(
                    *event,
                    &mut fair,
                    &mut in_flight,
                    &mut redial,
                    &tx_topic,
                    &dag_topic,
                ),
                Step::Outbound(out) => {
                    self.on_outbound(out, &mut in_flight, &mut unpublished, &tx_topic, &dag_topic)
                }
                Step::Deliver => {}
                Step::Tick => {
                    self.retry_unpublished(&mut unpublished);
                    allowed = self.refresh_allowed(&mut allowed);
                    self.redial(&mut redial);
                    let peers = self.swarm.connected_peers().count();
                    self.shared.metrics.peers.set(peers as i64);
                }
            }
        }
    }

    /// Allow the current validators and the configured peers to connect.
    fn refresh_allowed(&mut self, previous: &mut Vec<PeerId>) -> Vec<PeerId> {
        let mut wanted: Vec<PeerId> = self.peers.iter().map(|(p, _)| *p).collect();
        if let Ok(validators) = self.shared.validators.read() {
            wanted.extend(validators.iter().map(peer_id_of));
        }
        wanted.sort();
        wanted.dedup();
        if wanted != *previous {
            let allowed = &mut self.swarm.behaviour_mut().allowed;
            for peer in previous.iter() {
                if wanted.binary_search(peer).is_err() {
                    allowed.disallow_peer(*peer);
                }
            }
            for peer in &wanted {
                allowed.allow_peer(*peer);
            }
        }
        wanted
    }

    fn redial(&mut self, redial: &mut HashMap<PeerId, Redial>) {
        let now = Instant::now();
        for (peer, state) in redial.iter_mut() {
            if self.swarm.is_connected(peer) || now < state.next_attempt {
                continue;
            }
            let options = libp2p::swarm::dial_opts::DialOpts::peer_id(*peer)
                .addresses(vec![state.address.clone()])
                .condition(libp2p::swarm::dial_opts::PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(error) = self.swarm.dial(options) {
                tracing::debug!(%peer, %error, "dial");
            }
            state.next_attempt = now + state.backoff;
            state.backoff =
                (state.backoff * 2).min(Duration::from_millis(self.config.redial_max_ms));
        }
    }

    fn is_validator(&self, key: &PublicKey) -> bool {
        self.shared
            .validators
            .read()
            .map(|v| v.contains(key))
            .unwrap_or(false)
    }

    fn on_outbound(
        &mut self,
        out: Outbound,
        in_flight: &mut Outflow,
        unpublished: &mut VecDeque<Unpublished>,
        tx_topic: &gossipsub::IdentTopic,
        dag_topic: &gossipsub::IdentTopic,
    ) {
        match out {
            Outbound::Consensus { to, bytes } => {
                let targets: Vec<PublicKey> = match to {
                    Recipient::One(key) => vec![key],
                    Recipient::AllValidators => self
                        .shared
                        .validators
                        .read()
                        .map(|v| v.iter().copied().filter(|k| *k != self.shared.me).collect())
                        .unwrap_or_default(),
                };
                for key in targets {
                    let peer = peer_id_of(&key);
                    if !self.swarm.is_connected(&peer) {
                        continue; // the redial loop reconnects; the protocol retransmits
                    }
                    let count = in_flight.in_flight.entry(peer).or_default();
                    if bytes.first() == Some(&REQUEST_TAG) && *count >= REQUESTS_IN_FLIGHT_MAX {
                        let held = in_flight.held.entry(peer).or_default();
                        if held.len() >= self.config.outbound_queue_per_peer {
                            self.shared.metrics.dropped_queue_full.inc();
                            self.shared.metrics.dropped_outbound_in_flight.inc();
                        } else {
                            held.push_back(bytes.clone());
                        }
                        continue;
                    }
                    if *count >= self.config.outbound_queue_per_peer {
                        self.shared.metrics.dropped_queue_full.inc();
                        self.shared.metrics.dropped_outbound_in_flight.inc();
                        continue;
                    }
                    *count += 1;
                    tracing::trace!(to = %peer, bytes = bytes.len(), "consensus send");
                    self.swarm
                        .behaviour_mut()
                        .consensus
                        .send_request(&peer, bytes.clone());
                }
            }
            Outbound::GossipTransaction(bytes) => {
                self.publish(tx_topic, bytes, Instant::now(), unpublished);
            }
            Outbound::GossipDag(bytes) => {
                self.publish(dag_topic, bytes, Instant::now(), unpublished);
            }
        }
    }

    /// Publish on `topic`; while no peer has subscribed yet (a node that
    /// just started, or one cut off), keep the message and try again on
    /// the next ticks, for at most [`UNPUBLISHED_AGE_MAX`] and
    /// [`UNPUBLISHED_MAX`] messages.
    fn publish(
        &mut self,
        topic: &gossipsub::IdentTopic,
        bytes: Vec<u8>,
        first_tried: Instant,
        unpublished: &mut VecDeque<Unpublished>,
    ) {
        let result = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic.clone(), bytes.clone());
        if let Err(gossipsub::PublishError::NoPeersSubscribedToTopic) = result {
            if first_tried.elapsed() < UNPUBLISHED_AGE_MAX && unpublished.len() < UNPUBLISHED_MAX {
                unpublished.push_back((first_tried, topic.clone(), bytes));
            } else {
                self.shared.metrics.dropped_gossip.inc();
            }
        }
    }

    fn retry_unpublished(&mut self, unpublished: &mut VecDeque<Unpublished>) {
        if unpublished.is_empty() || self.swarm.connected_peers().next().is_none() {
            return;
        }
        for (first_tried, topic, bytes) in std::mem::take(unpublished) {
            self.publish(&topic, bytes, first_tried, unpublished);
        }
    }

    /// Send the client transactions held for `peer` that fit under
    /// [`REQUESTS_IN_FLIGHT_MAX`].
    fn send_held(&mut self, peer: &PeerId, flow: &mut Outflow) {
        for bytes in flow.release(peer) {
            tracing::trace!(to = %peer, bytes = bytes.len(), "consensus send");
            self.swarm
                .behaviour_mut()
                .consensus
                .send_request(peer, bytes);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_event(
        &mut self,
        event: SwarmEvent<BehaviourEvent>,
        fair: &mut Inbound,
        in_flight: &mut Outflow,
        redial: &mut HashMap<PeerId, Redial>,
        tx_topic: &gossipsub::IdentTopic,
        dag_topic: &gossipsub::IdentTopic,
    ) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "p2p listening");
                self.listening.send_modify(|a| a.push(address));
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                tracing::debug!(peer = %peer_id, "connected");
                if let Some(state) = redial.get_mut(&peer_id) {
                    state.backoff = Duration::from_millis(self.config.redial_min_ms);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::debug!(peer = %peer_id, "disconnected");
                in_flight.forget(&peer_id);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Consensus(event)) => match event {
                request_response::Event::Message { peer, message, .. } => match message {
                    request_response::Message::Request {
                        request, channel, ..
                    } => {
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .consensus
                            .send_response(channel, Vec::new());
                        match itc_key_of(&peer) {
                            Some(key) if self.is_validator(&key) => {
                                tracing::trace!(from = %peer, bytes = request.len(), "consensus recv");
                                if !fair.push(key, request) {
                                    self.shared.metrics.dropped_queue_full.inc();
                                    self.shared.metrics.dropped_inbound_queue.inc();
                                }
                            }
                            _ => {
                                self.shared.metrics.dropped_non_validator.inc();
                            }
                        }
                    }
                    request_response::Message::Response { .. } => {
                        in_flight.done(&peer);
                        self.send_held(&peer, in_flight);
                    }
                },
                request_response::Event::OutboundFailure { peer, .. } => {
                    in_flight.done(&peer);
                    if self.swarm.is_connected(&peer) {
                        self.send_held(&peer, in_flight);
                    }
                }
                request_response::Event::InboundFailure { peer, error, .. } => {
                    // Frames refused while reading are counted by the codec.
                    tracing::debug!(%peer, %error, "inbound consensus stream failed");
                }
                request_response::Event::ResponseSent { .. } => {}
            },
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let accepted = if message.topic == tx_topic.hash() {
                    itc_core::encoding::Decode::decode(&message.data).ok().map(
                        |tx: itc_core::types::Transaction| Control::Submit {
                            tx: Box::new(tx),
                            reply: None,
                            gossip: false,
                        },
                    )
                } else if message.topic == dag_topic.hash() {
                    itc_core::encoding::Decode::decode(&message.data).ok().map(
                        |tx: itc_dag::DagTransaction| Control::Dag {
                            tx: Box::new(tx),
                            reply: None,
                            gossip: false,
                        },
                    )
                } else {
                    None
                };
                let acceptance = match accepted {
                    Some(control) => {
                        if self.control.try_send(control).is_err() {
                            self.shared.metrics.dropped_queue_full.inc();
                            self.shared.metrics.dropped_gossip.inc();
                            gossipsub::MessageAcceptance::Ignore
                        } else {
                            gossipsub::MessageAcceptance::Accept
                        }
                    }
                    None => gossipsub::MessageAcceptance::Reject,
                };
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, acceptance);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                for address in info.listen_addrs {
                    self.swarm.add_peer_address(peer_id, address);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_overtake_queued_client_transactions() {
        let peer = PublicKey([1; 32]);
        let mut inbound = Inbound::new(8, 1 << 20);
        for i in 0..4u8 {
            assert!(inbound.push(peer, vec![REQUEST_TAG, i]));
        }
        assert!(inbound.push(peer, vec![2, 7]), "a vote");
        assert_eq!(inbound.pop(), Some((peer, vec![2, 7])), "the vote first");
        for i in 0..4u8 {
            assert_eq!(
                inbound.pop(),
                Some((peer, vec![REQUEST_TAG, i])),
                "then in order"
            );
        }
        assert!(inbound.is_empty());
    }

    #[test]
    fn held_client_transactions_are_released_in_order_as_answers_come() {
        let peer = PeerId::random();
        let mut flow = Outflow::default();
        flow.in_flight.insert(peer, REQUESTS_IN_FLIGHT_MAX);
        flow.held
            .entry(peer)
            .or_default()
            .extend([vec![REQUEST_TAG, 1], vec![REQUEST_TAG, 2]]);
        assert!(flow.release(&peer).is_empty(), "nothing while at the cap");
        flow.done(&peer);
        assert_eq!(flow.release(&peer), vec![vec![REQUEST_TAG, 1]]);
        assert_eq!(flow.pending(), REQUESTS_IN_FLIGHT_MAX + 1);
        flow.forget(&peer);
        assert_eq!(flow.pending(), 0, "a closed connection forgets its queue");
    }

    #[test]
    fn fair_queue_takes_peers_in_turn_and_bounds_each() {
        let (a, b) = (PublicKey([1; 32]), PublicKey([2; 32]));
        let mut queue = FairQueue::new(3, 100);
        for i in 0..5u8 {
            let accepted = queue.push(a, vec![i]);
            assert_eq!(accepted, i < 3, "a's queue holds 3");
        }
        assert!(queue.push(b, vec![9]));
        assert!(!queue.push(b, vec![0; 100]), "byte bound");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(
            order,
            vec![(a, vec![0]), (b, vec![9]), (a, vec![1]), (a, vec![2])]
        );
        assert!(queue.is_empty());
    }

    #[test]
    fn frames_over_the_cap_are_refused_before_reading() {
        futures::executor::block_on(async {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&(1_000_000u32).to_be_bytes());
            let mut reader = futures::io::Cursor::new(bytes);
            let error = read_frame(&mut reader, 1000).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
            // A frame that announces more than it sends fails without
            // allocating the announced size.
            let mut short = (500u32).to_be_bytes().to_vec();
            short.extend_from_slice(&[7; 10]);
            let mut reader = futures::io::Cursor::new(short);
            assert!(read_frame(&mut reader, 1000).await.is_err());
            let mut ok = Vec::new();
            write_frame(&mut futures::io::Cursor::new(&mut ok), b"hello")
                .await
                .unwrap();
            let mut reader = futures::io::Cursor::new(ok);
            assert_eq!(read_frame(&mut reader, 1000).await.unwrap(), b"hello");
        });
    }
}
