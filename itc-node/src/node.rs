//! Assemble a node: replica thread, network task and HTTP API.

use crate::config::NodeConfig;
use crate::consensus::{
    open_core, wall_clock_ms, Control, Core, Outbound, Refused, ReplicaThread, Shared,
};
use crate::keys::{peer_id_of, read_key_file};
use crate::metrics::Metrics;
use crate::net::NetworkTask;
use itc_core::genesis::Genesis;
use itc_core::hash::Hash;
use itc_core::keys::PublicKey;
use itc_core::storage::RedbStorage;
use itc_core::types::Transaction;
use itc_dag::DagTransaction;
use libp2p::Multiaddr;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot, watch};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The key file.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyFileError),
    /// The genesis file.
    #[error("genesis {path}: {reason}")]
    Genesis {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The data directory or database.
    #[error("storage: {0}")]
    Storage(String),
    /// The replica could not be reopened.
    #[error("replica: {0}")]
    Replica(String),
    /// Networking.
    #[error(transparent)]
    Net(#[from] crate::net::NetError),
    /// The HTTP listener.
    #[error("http: {0}")]
    Http(String),
}

/// A cheap handle to a running node's replica, for the API and for
/// embedding applications.
#[derive(Clone)]
pub struct NodeHandle {
    control: mpsc::Sender<Control>,
    /// Shared state (status, metrics, validator set).
    pub shared: Arc<Shared>,
    height: watch::Receiver<u64>,
}

impl NodeHandle {
    /// Admit a transaction into the pool (and gossip it).
    ///
    /// # Errors
    /// [`Refused`] with the replica's reason, or if the node is busy or
    /// stopping.
    pub async fn submit(&self, tx: Transaction) -> Result<Hash, Refused> {
        let (reply, answer) = oneshot::channel();
        self.control
            .try_send(Control::Submit {
                tx: Box::new(tx),
                reply: Some(reply),
                gossip: true,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Refused::Busy,
                mpsc::error::TrySendError::Closed(_) => Refused::Stopping,
            })?;
        answer.await.map_err(|_| Refused::Stopping)?
    }

    /// Attach a DAG transaction (and gossip it).
    ///
    /// # Errors
    /// [`Refused`] with the tangle's reason, or if busy or stopping.
    pub async fn submit_dag(&self, tx: DagTransaction) -> Result<Hash, Refused> {
        let (reply, answer) = oneshot::channel();
        self.control
            .try_send(Control::Dag {
                tx: Box::new(tx),
                reply: Some(reply),
                gossip: true,
            })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => Refused::Busy,
                mpsc::error::TrySendError::Closed(_) => Refused::Stopping,
            })?;
        answer.await.map_err(|_| Refused::Stopping)?
    }

    /// Run `f` on the replica thread and return its result.
    ///
    /// # Errors
    /// [`Refused::Busy`] / [`Refused::Stopping`].
    pub async fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Core) -> R + Send + 'static,
    ) -> Result<R, Refused> {
        let (reply, answer) = oneshot::channel();
        self.control
            .send(Control::Query(Box::new(move |core| {
                let _ = reply.send(f(core));
            })))
            .await
            .map_err(|_| Refused::Stopping)?;
        answer.await.map_err(|_| Refused::Stopping)
    }

    /// The height of the last committed block.
    pub fn height(&self) -> u64 {
        *self.height.borrow()
    }

    /// Wait until the node has committed `height` (or stops).
    pub async fn wait_for_height(&self, height: u64) -> u64 {
        let mut watch = self.height.clone();
        let reached = watch.wait_for(|h| *h >= height).await.map(|h| *h);
        reached.unwrap_or_else(|_| self.height())
    }
}

/// A running node.
pub struct Node {
    /// This node's public key.
    pub public_key: PublicKey,
    /// Where the HTTP API listens.
    pub http_addr: SocketAddr,
    /// Where the p2p layer listens.
    pub p2p_addrs: Vec<Multiaddr>,
    /// Handle to the replica.
    pub handle: NodeHandle,
    shutdown: watch::Sender<bool>,
    http_stop: watch::Sender<bool>,
    replica: Option<std::thread::JoinHandle<Result<Core, itc_core::storage::StorageError>>>,
    net_task: tokio::task::JoinHandle<()>,
    http_task: tokio::task::JoinHandle<()>,
}

/// What `ready_file` contains.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ReadyInfo {
    /// The HTTP API's address.
    pub http: String,
    /// The p2p listen addresses.
    pub p2p: Vec<String>,
    /// The node's public key (hex).
    pub public_key: String,
    /// The node's process id.
    pub pid: u32,
}

/// Start a node inside the current tokio runtime (multi-threaded).
///
/// # Errors
/// [`NodeError`] if a file, the database, the network or the listener
/// fails.
pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
    let key = read_key_file(&config.node.key_file)?;
    let genesis_path = config.node.genesis_file.display().to_string();
    let genesis_text =
        std::fs::read_to_string(&config.node.genesis_file).map_err(|e| NodeError::Genesis {
            path: genesis_path.clone(),
            reason: e.to_string(),
        })?;
    let genesis = Genesis::from_json(&genesis_text).map_err(|e| NodeError::Genesis {
        path: genesis_path,
        reason: e.to_string(),
    })?;
    std::fs::create_dir_all(&config.node.data_dir)
        .map_err(|e| NodeError::Storage(format!("{}: {e}", config.node.data_dir.display())))?;
    let db_path = config.node.data_dir.join("chain.redb");
    let storage = RedbStorage::open(&db_path)
        .map_err(|e| NodeError::Storage(format!("{}: {e}", db_path.display())))?;

    let chain_id = genesis.chain_id;
    let mut pbft = itc_pbft::Config::new(key.clone(), genesis);
    pbft.view_change_timeout_ms = config.consensus.view_change_timeout_ms;
    pbft.retransmit_interval_ms = config.consensus.retransmit_interval_ms;
    pbft.block_transactions_max = config.consensus.block_transactions_max;
    if config.node.chaincode {
        pbft.modules
            .push(Arc::new(itc_chaincode::campaign::ChainCode::new()));
    }
    let core = open_core(pbft, storage, wall_clock_ms()).map_err(NodeError::Replica)?;

    let shared = Arc::new(Shared {
        me: key.public(),
        chain_id,
        validators: RwLock::new(Default::default()),
        metrics: Metrics::new(),
        status: RwLock::new(Default::default()),
    });
    let (control_tx, control_rx) = mpsc::channel(config.http.submit_queue_max);
    let (peer_tx, peer_rx) = mpsc::channel(config.consensus.batch_inputs_max.max(64));
    let (out_tx, out_rx) = mpsc::channel::<Outbound>(
        config
            .p2p
            .outbound_queue_per_peer
            .saturating_mul(itc_core::types::VALIDATORS_MAX.min(64)),
    );
    let (height_tx, height_rx) = watch::channel(core.replica.executed_height());
    // Seed the validator allow list before the network starts.
    if let Ok(mut v) = shared.validators.write() {
        *v = core
            .replica
            .validators()
            .validators()
            .iter()
            .map(|v| v.key)
            .collect();
    }
    let thread = ReplicaThread {
        control: control_rx,
        peers: peer_rx,
        outbound: out_tx,
        height: height_tx,
        shared: shared.clone(),
        batch_inputs_max: config.consensus.batch_inputs_max,
    };
    let replica = std::thread::Builder::new()
        .name("itc-replica".into())
        .spawn(move || thread.run(core))
        .map_err(|e| NodeError::Replica(e.to_string()))?;

    let (shutdown, shutdown_rx) = watch::channel(false);
    let swarm = crate::net::build_swarm_counting(
        &key,
        chain_id,
        &config.p2p,
        shared.metrics.refused_frames.clone(),
    )?;
    let mut peers = Vec::new();
    for peer in &config.peers {
        let public = itc_core::hex::decode_array::<32>(&peer.public_key)
            .map(PublicKey)
            .map_err(|_| NodeError::Net(crate::net::NetError::Setup("peer key".into())))?;
        if public == key.public() {
            continue;
        }
        let address: Multiaddr = peer
            .address
            .parse()
            .map_err(|_| NodeError::Net(crate::net::NetError::Setup("peer address".into())))?;
        peers.push((peer_id_of(&public), address));
    }
    let (listening_tx, mut listening_rx) = watch::channel(Vec::new());
    let task = NetworkTask {
        swarm,
        outbound: out_rx,
        inbound: peer_tx,
        control: control_tx.clone(),
        shared: shared.clone(),
        config: config.p2p.clone(),
        peers,
        listening: listening_tx,
    };
    let net_task = tokio::spawn(task.run(shutdown_rx.clone()));
    let p2p_addrs = match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        listening_rx.wait_for(|a| !a.is_empty()),
    )
    .await
    {
        Ok(Ok(addrs)) => addrs.clone(),
        _ => {
            return Err(NodeError::Net(crate::net::NetError::Setup(
                "no listen address".into(),
            )))
        }
    };

    let handle = NodeHandle {
        control: control_tx,
        shared,
        height: height_rx,
    };
    let listener = tokio::net::TcpListener::bind(&config.http.listen)
        .await
        .map_err(|e| NodeError::Http(format!("{}: {e}", config.http.listen)))?;
    let http_addr = listener
        .local_addr()
        .map_err(|e| NodeError::Http(e.to_string()))?;
    let router = crate::api::router(handle.clone(), &config.http);
    let (http_stop, mut http_shutdown) = watch::channel(false);
    let http_task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = http_shutdown.wait_for(|s| *s).await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, "http server");
        }
    });
    tracing::info!(%http_addr, p2p = ?p2p_addrs, key = %itc_core::hex::encode(&key.public().0), "node started");
    let node = Node {
        public_key: key.public(),
        http_addr,
        p2p_addrs,
        handle,
        shutdown,
        http_stop,
        replica: Some(replica),
        net_task,
        http_task,
    };
    if let Some(path) = &config.node.ready_file {
        let info = ReadyInfo {
            http: node.http_addr.to_string(),
            p2p: node.p2p_addrs.iter().map(|a| a.to_string()).collect(),
            public_key: itc_core::hex::encode(&node.public_key.0),
            pid: std::process::id(),
        };
        let tmp = path.with_extension("tmp");
        let json = serde_json::to_string(&info).unwrap_or_default();
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| NodeError::Storage(format!("ready file: {e}")))?;
    }
    Ok(node)
}

impl Node {
    /// Stop cleanly: the replica persists its last batch and closes the
    /// database, the network and the API stop.
    ///
    /// # Errors
    /// The storage error that had already stopped the replica, if any.
    pub async fn shutdown(mut self) -> Result<(), NodeError> {
        use std::time::Duration;
        // 1. The API stops taking requests and finishes those in flight.
        let _ = self.http_stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.http_task).await;
        // 2. The replica persists its last batch and closes the database.
        let _ = self.handle.control.send(Control::Stop).await;
        let result = match self.replica.take() {
            Some(thread) => tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| NodeError::Replica(e.to_string()))?
                .map_err(|_| NodeError::Replica("replica thread panicked".into()))?
                .map(drop)
                .map_err(|e| NodeError::Storage(e.to_string())),
            None => Ok(()),
        };
        // 3. The network sends what the replica released (its outbound
        //    queue closed with the replica) and stops; bounded.
        if tokio::time::timeout(Duration::from_secs(3), &mut self.net_task)
            .await
            .is_err()
        {
            let _ = self.shutdown.send(true);
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.net_task).await;
        }
        result
    }

    /// Whether the replica thread has stopped (a storage failure).
    pub fn replica_stopped(&self) -> bool {
        self.replica.as_ref().is_none_or(|t| t.is_finished())
    }
}
