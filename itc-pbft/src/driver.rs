//! An async driver around the sans-IO [`Replica`], for users who want a
//! ready-made loop: it reads from a [`Transport`], ticks on a [`Timer`],
//! persists each [`crate::Ready`] to a [`Storage`] before sending what it
//! releases, and reports committed blocks on a channel.
//!
//! A replica that anchors a side chain (`Replica<A>`, see
//! [`crate::anchoring`]) runs the same way; [`Command::SideChain`] feeds the
//! side chain (for itc-dag: attach gossiped DAG transactions).
//!
//! The driver is runtime-agnostic (only `futures`): run it with any
//! executor. [`InProcessNetwork`] connects drivers inside one process (tests,
//! demos, benchmarks) and [`ThreadTimer`] is a small timer on one background
//! thread.
//!
//! ```
//! use futures::channel::mpsc;
//! use futures::StreamExt;
//! use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
//! use itc_core::keys::Keypair;
//! use itc_core::storage::MemoryStorage;
//! use itc_core::types::{Amount, ChainId, Payload, Transaction};
//! use itc_pbft::driver::{Command, Driver, InProcessNetwork, ThreadTimer};
//! use itc_pbft::{Config, Replica};
//!
//! let validator = Keypair::from_seed([1; 32]);
//! let alice = Keypair::from_seed([2; 32]);
//! let genesis = Genesis {
//!     chain_id: 7,
//!     accounts: vec![GenesisAccount { public_key: alice.public(), balance: 100 }],
//!     validators: vec![GenesisValidator { public_key: validator.public(), weight: 1 }],
//!     ..Genesis::default()
//! };
//! let network = InProcessNetwork::new();
//! let transport = network.join(validator.public());
//! let storage = MemoryStorage::new();
//! let replica = Replica::open(Config::new(validator, genesis), &storage).unwrap();
//! let (commands, command_stream) = mpsc::unbounded();
//! let (committed, mut committed_stream) = mpsc::unbounded();
//! let driver = Driver::new(replica, storage, transport, ThreadTimer::new());
//! let handle = std::thread::spawn(move || {
//!     futures::executor::block_on(driver.run(command_stream, committed))
//! });
//! let tx = Transaction::new_signed(&alice, ChainId(7), 0, Amount(1),
//!     Payload::Transfer { to: Keypair::from_seed([3; 32]).public(), amount: Amount(5) });
//! commands.unbounded_send(Command::Submit(Box::new(tx))).unwrap();
//! let decision = futures::executor::block_on(committed_stream.next()).unwrap();
//! assert_eq!(decision.block.header.height, 1);
//! commands.unbounded_send(Command::Stop).unwrap();
//! handle.join().unwrap().unwrap();
//! ```

/// The `futures` crate the driver is built on, for callers that need its
/// channels and executor without depending on it themselves.
pub use futures;

use crate::anchoring::{Anchoring, NoAnchoring};
use crate::message::Decision;
use crate::ready::Recipient;
use crate::replica::Replica;
use async_trait::async_trait;
use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};
use itc_core::keys::PublicKey;
use itc_core::storage::{Storage, StorageError};
use itc_core::types::Transaction;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Messages queued per in-process endpoint before further ones are dropped
/// (like a congested link; the protocol retransmits).
pub const IN_PROCESS_QUEUE_MAX: usize = 65_536;

/// Why the driver stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// Persisting a batch failed; reopen the replica from storage.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The transport failed.
    #[error("transport: {0}")]
    Transport(String),
}

/// A message transport between replicas.
#[async_trait]
pub trait Transport: Send {
    /// Send `bytes` to `to`. Delivery may fail silently (the protocol
    /// retransmits); an error means the transport is unusable.
    async fn send(&mut self, to: Recipient, bytes: Vec<u8>) -> Result<(), DriverError>;
    /// The next message and its sender, or `None` once the transport closed.
    async fn recv(&mut self) -> Option<(PublicKey, Vec<u8>)>;
}

/// A clock and a way to wait.
#[async_trait]
pub trait Timer: Send + Sync {
    /// Milliseconds on this timer's clock (any fixed origin).
    fn now_ms(&self) -> u64;
    /// Resolve once `now_ms() >= deadline_ms`.
    async fn sleep_until(&self, deadline_ms: u64);
}

/// A change to the anchored side chain, run by the driver between inputs.
pub type SideChainUpdate<A> = Box<dyn FnOnce(&mut A, &itc_core::ledger::Ledger) + Send>;

/// Inputs to a running driver.
#[non_exhaustive]
pub enum Command<A = NoAnchoring> {
    /// Submit a client transaction.
    Submit(Box<Transaction>),
    /// Change the anchored side chain (for itc-dag: attach a gossiped DAG
    /// transaction, checked against the ledger's device registry); the
    /// replica then retries whatever waited for side-chain data.
    SideChain(SideChainUpdate<A>),
    /// Stop the loop.
    Stop,
}

impl<A> core::fmt::Debug for Command<A> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Command::Submit(tx) => f.debug_tuple("Submit").field(tx).finish(),
            Command::SideChain(_) => f.write_str("SideChain(..)"),
            Command::Stop => f.write_str("Stop"),
        }
    }
}

/// Runs a [`Replica`] over a transport, a timer and a storage.
pub struct Driver<S, T, C, A = NoAnchoring> {
    replica: Replica<A>,
    storage: S,
    transport: T,
    timer: C,
}

impl<S, T, C, A> Driver<S, T, C, A>
where
    S: Storage + Send,
    T: Transport,
    C: Timer,
    A: Anchoring + Send,
{
    /// Assemble a driver. `storage` must be the one `replica` was opened from.
    pub fn new(replica: Replica<A>, storage: S, transport: T, timer: C) -> Self {
        Driver {
            replica,
            storage,
            transport,
            timer,
        }
    }

    /// Persist the replica's outputs, then send what they release (with
    /// the answers to state requests that `persist` read from storage) and
    /// report commits.
    async fn flush(
        &mut self,
        committed: &mpsc::UnboundedSender<Decision>,
    ) -> Result<(), DriverError> {
        let persisted = self.replica.ready().persist(&mut self.storage)?;
        for outgoing in persisted.messages {
            let bytes = outgoing.to_bytes();
            self.transport.send(outgoing.to, bytes).await?;
        }
        for decision in persisted.committed {
            let _ = committed.unbounded_send(decision);
        }
        Ok(())
    }

    /// Run until [`Command::Stop`], the command stream ends or the transport
    /// closes. Returns the replica and its storage for inspection or reuse.
    ///
    /// # Errors
    /// [`DriverError`] if storage or transport fail.
    pub async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command<A>>,
        committed: mpsc::UnboundedSender<Decision>,
    ) -> Result<(Replica<A>, S), DriverError> {
        self.flush(&committed).await?;
        loop {
            let now = self.timer.now_ms();
            let deadline = self.replica.next_deadline().unwrap_or(now + 1_000);
            enum Input<A> {
                Message(Option<(PublicKey, Vec<u8>)>),
                Command(Option<Command<A>>),
                Timeout,
            }
            let input = {
                let mut recv = self.transport.recv().boxed().fuse();
                let mut command = commands.next().fuse();
                let mut sleep = self.timer.sleep_until(deadline).fuse();
                futures::select_biased! {
                    m = recv => Input::Message(m),
                    c = command => Input::Command(c),
                    _ = sleep => Input::Timeout,
                }
            };
            let now = self.timer.now_ms();
            match input {
                Input::Message(Some((from, bytes))) => {
                    let _ = self.replica.handle_message(now, from, &bytes);
                }
                Input::Message(None)
                | Input::Command(None)
                | Input::Command(Some(Command::Stop)) => {
                    return Ok((self.replica, self.storage));
                }
                Input::Command(Some(Command::Submit(tx))) => {
                    let _ = self.replica.submit_transaction(now, *tx);
                }
                Input::Command(Some(Command::SideChain(update))) => {
                    let (side_chain, ledger) = self.replica.anchoring_with_ledger();
                    update(side_chain, ledger);
                    self.replica.tick(now);
                }
                Input::Timeout => self.replica.tick(now),
            }
            if self.replica.next_deadline().is_some_and(|d| d <= now) {
                self.replica.tick(now);
            }
            self.flush(&committed).await?;
        }
    }
}

type Endpoints = Arc<Mutex<BTreeMap<PublicKey, mpsc::Sender<(PublicKey, Vec<u8>)>>>>;

/// Connects [`InProcessTransport`]s inside one process.
#[derive(Clone, Default)]
pub struct InProcessNetwork {
    endpoints: Endpoints,
}

impl InProcessNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Join as `me`; messages to `me` arrive on the returned transport.
    pub fn join(&self, me: PublicKey) -> InProcessTransport {
        let (sender, receiver) = mpsc::channel(IN_PROCESS_QUEUE_MAX);
        self.endpoints
            .lock()
            .expect("network lock")
            .insert(me, sender);
        InProcessTransport {
            me,
            endpoints: self.endpoints.clone(),
            receiver,
        }
    }
}

/// One replica's endpoint on an [`InProcessNetwork`].
pub struct InProcessTransport {
    me: PublicKey,
    endpoints: Endpoints,
    receiver: mpsc::Receiver<(PublicKey, Vec<u8>)>,
}

#[async_trait]
impl Transport for InProcessTransport {
    async fn send(&mut self, to: Recipient, bytes: Vec<u8>) -> Result<(), DriverError> {
        let mut endpoints = self.endpoints.lock().expect("network lock");
        for (key, sender) in endpoints.iter_mut() {
            let wanted = match to {
                Recipient::AllValidators => *key != self.me,
                Recipient::One(target) => *key == target,
            };
            if wanted {
                // A full queue drops the message, like a congested link.
                let _ = sender.try_send((self.me, bytes.clone()));
            }
        }
        Ok(())
    }

    async fn recv(&mut self) -> Option<(PublicKey, Vec<u8>)> {
        self.receiver.next().await
    }
}

struct Sleeper {
    deadline: Instant,
    sequence: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Sleeper {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.sequence) == (other.deadline, other.sequence)
    }
}
impl Eq for Sleeper {}
impl PartialOrd for Sleeper {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Sleeper {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        // Earliest deadline first in a max-heap.
        (other.deadline, other.sequence).cmp(&(self.deadline, self.sequence))
    }
}

/// A [`Timer`] on the system's monotonic clock, served by one background
/// thread per timer (shared by clones).
#[derive(Clone)]
pub struct ThreadTimer {
    origin: Instant,
    requests: std::sync::mpsc::Sender<Sleeper>,
    sequence: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for ThreadTimer {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadTimer {
    /// Start the timer thread. It ends when every clone is dropped.
    pub fn new() -> Self {
        let (requests, incoming) = std::sync::mpsc::channel::<Sleeper>();
        std::thread::spawn(move || {
            let mut heap: BinaryHeap<Sleeper> = BinaryHeap::new();
            loop {
                let now = Instant::now();
                while heap.peek().is_some_and(|s| s.deadline <= now) {
                    let _ = heap.pop().expect("peeked").wake.send(());
                }
                let received = match heap.peek() {
                    Some(next) => incoming.recv_timeout(next.deadline - now),
                    None => incoming
                        .recv()
                        .map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected),
                };
                match received {
                    Ok(sleeper) => heap.push(sleeper),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        });
        ThreadTimer {
            origin: Instant::now(),
            requests,
            sequence: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }
}

#[async_trait]
impl Timer for ThreadTimer {
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        let deadline = self.origin + Duration::from_millis(deadline_ms);
        if deadline <= Instant::now() {
            return;
        }
        let (wake, woken) = oneshot::channel();
        let sequence = self
            .sequence
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self
            .requests
            .send(Sleeper {
                deadline,
                sequence,
                wake,
            })
            .is_ok()
        {
            let _ = woken.await;
        }
    }
}
