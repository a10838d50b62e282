//! PBFT blocks anchor the DAG: validators running `Replica<Tangle>` agree
//! on every anchor's cone and roots, refuse a wrong root, wait for DAG
//! transactions they lack, survive a restart, and a light client checks
//! finality against the anchoring block's header.
//!
//! The cluster is the one simulator's manual mode (`itc_sim::manual`): its
//! invariants (agreement, validity, no double commit, every replica's and
//! tangle's own invariants, durability at a restart) run under every test.

mod common;

use common::{
    data, key, level0, transfer, validator_dag_config, weighted_chain, WeightedChain, CHAIN,
    ITERATIONS_MAX,
};
use itc_core::genesis::Genesis;
use itc_core::keys::{Keypair, PublicKey};
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, Block, ChainId, Payload, Transaction};
use itc_core::Hash;
use itc_dag::{DagConfig, DagFinality, DagTransaction, Tangle, TxStatus};
use itc_pbft::{
    AnchorError, Config, Message, MessageError, Outgoing, PrePrepare, ProposalError, Replica,
};
use itc_sim::dag::DagWorkload;
use itc_sim::Simulation;

/// Validators of `Replica<Tangle>` in the simulator's manual mode.
struct Net {
    sim: Simulation<Tangle>,
    keys: Vec<Keypair>,
    genesis: Genesis,
    client: Keypair,
}

/// The validators' tangle configuration: the consensus parameters from
/// genesis, no proof of work (this file is about anchoring), persistence on.
fn dag_config(genesis: &Genesis) -> DagConfig {
    let config = validator_dag_config(genesis);
    assert_eq!(config.anchor_depth_max, genesis.dag_anchor_depth_max);
    assert!(config.persist);
    config
}

/// The replicas' timers.
fn configure(config: &mut Config) {
    config.view_change_timeout_ms = 1_000;
    config.retransmit_interval_ms = 50;
}

impl Net {
    fn new(n: usize) -> Net {
        let WeightedChain {
            keys,
            client,
            mut genesis,
        } = weighted_chain(n);
        genesis.dag_anchor_depth_max = 12;
        // The simulator opens each tangle as `dag_config` does: the chain's
        // parameters, no proof of work, the default pruning.
        let workload = DagWorkload {
            proof_of_work: false,
            prune_keep_heights: Vec::new(),
            ..DagWorkload::default()
        };
        let mut sim =
            Simulation::<Tangle>::from_genesis(&keys, genesis.clone(), configure, workload, 1)
                .unwrap();
        sim.advance_clock_to(1_000);
        sim.settle().unwrap();
        Net {
            sim,
            keys,
            genesis,
            client,
        }
    }

    /// Replica `i`'s configuration (for replicas outside the cluster).
    fn config(&self, i: usize) -> Config {
        let mut config = Config::new(self.keys[i].clone(), self.genesis.clone());
        configure(&mut config);
        config
    }

    fn index_of(&self, key: PublicKey) -> usize {
        self.keys.iter().position(|k| k.public() == key).unwrap()
    }

    fn now(&self) -> u64 {
        self.sim.now_ms()
    }

    fn node(&self, i: usize) -> &Replica<Tangle> {
        self.sim.replica(i).expect("running")
    }

    fn primary(&self) -> usize {
        self.index_of(self.node(0).primary())
    }

    /// Deliver until quiet.
    fn settle(&mut self) {
        self.sim.settle().unwrap();
    }

    /// Advance time and tick everyone until quiet.
    fn tick(&mut self, ms: u64) {
        self.sim.advance_clock_to(self.now() + ms);
        self.sim.tick_all();
        self.settle();
    }

    /// One ms later, submit `tx` to the primary and deliver until quiet.
    fn submit_to_primary(&mut self, tx: Transaction) {
        self.sim.advance_clock_to(self.now() + 1);
        let primary = self.primary();
        self.sim.submit(primary, tx).unwrap();
        self.settle();
    }

    /// From now on, what the replicas send is held for the test
    /// ([`Net::output`]) instead of delivered.
    fn hold(&mut self) {
        self.sim.hold_messages(true);
    }

    /// What node `i` sent while held (its pending output persisted first).
    fn output(&mut self, i: usize) -> Vec<Outgoing> {
        self.sim.take_held(i)
    }

    /// One ms later, the primary's next proposal (held from the network).
    fn primary_proposal(&mut self) -> (usize, PrePrepare) {
        self.hold();
        self.sim.advance_clock_to(self.now() + 1);
        let primary = self.primary();
        self.sim.input(primary, |r, now| r.tick(now)).unwrap();
        let proposal = self
            .output(primary)
            .into_iter()
            .find_map(|m| match m.message {
                Message::PrePrepare(p) => Some(p),
                _ => None,
            })
            .expect("the primary proposes");
        (primary, proposal)
    }

    fn tangle(&mut self, i: usize) -> &mut Tangle {
        self.sim.replica_mut(i).expect("running").anchoring_mut()
    }

    /// Issue a DAG transaction at node `at` and gossip it to `to`.
    fn issue(
        &mut self,
        at: usize,
        issuer: &Keypair,
        sequence: u64,
        to: &[usize],
    ) -> DagTransaction {
        let now = self.now();
        let tx = self
            .tangle(at)
            .issue(
                issuer,
                sequence,
                data(sequence),
                now,
                sequence,
                &level0,
                ITERATIONS_MAX,
            )
            .unwrap();
        for &j in to.iter().filter(|j| **j != at) {
            self.tangle(j).attach(tx.clone(), now, &level0).unwrap();
        }
        tx
    }

    /// A signed main-chain transaction of the client (fee 1).
    fn client_tx(&self, nonce: u64, payload: Payload) -> Transaction {
        Transaction::new_signed(&self.client, ChainId(CHAIN.0), nonce, Amount(1), payload)
    }

    fn transfer_tx(&self, nonce: u64) -> Transaction {
        self.client_tx(
            nonce,
            Payload::Transfer {
                to: Keypair::from_seed([201; 32]).public(),
                amount: Amount(5),
            },
        )
    }

    /// The blocks replica `i` reported committed (the simulator checks
    /// that they are the cluster's chain).
    fn committed(&self, i: usize) -> &[itc_pbft::Decision] {
        let height = self.sim.committed_hashes(i).len();
        &self.sim.decisions()[..height]
    }

    fn anchored_blocks(&self, i: usize) -> Vec<&Block> {
        self.committed(i)
            .iter()
            .map(|d| &d.block)
            .filter(|b| b.anchor.is_some())
            .collect()
    }
}

/// Each replica's committed chain is the same, and every anchored block's
/// root is the commitment each tangle recorded for that height.
fn assert_agreement(net: &Net) {
    let reference = net.sim.committed_hashes(0);
    for i in 1..net.sim.node_count() {
        let mine = net.sim.committed_hashes(i);
        assert_eq!(mine, reference, "replica {i} committed another chain");
    }
    for i in 0..net.sim.node_count() {
        let node = net.node(i);
        let anchored = net.anchored_blocks(i);
        for block in &anchored {
            // Old anchors may have been pruned; the latest never is.
            if let Some(commitment) = node.anchoring().commitment(block.header.height) {
                assert_eq!(commitment.hash(), block.header.dag_anchor_root);
            }
        }
        if let Some(last) = anchored.last() {
            assert!(node.anchoring().commitment(last.header.height).is_some());
        }
    }
}

#[test]
fn every_validator_confirms_the_same_cone_and_a_light_client_checks_finality() {
    let mut net = Net::new(4);
    let all = [0, 1, 2, 3];
    let device = key(1);
    let txs: Vec<DagTransaction> = (0..5)
        .map(|s| net.issue(s as usize % 4, &device, s, &all))
        .collect();
    // DAG traffic alone makes the primary anchor (no main-chain tx).
    net.tick(1);
    assert_eq!(net.anchored_blocks(0).len(), 1, "one anchored block");
    assert_agreement(&net);
    let block = net.anchored_blocks(0)[0].clone();
    for tx in &txs {
        for i in 0..4 {
            assert_eq!(
                net.node(i).anchoring().status(&tx.id()),
                TxStatus::Confirmed {
                    height: block.header.height
                },
                "replica {i}"
            );
        }
        let proof = net.node(2).anchoring().prove(&tx.id()).unwrap();
        assert_eq!(
            proof.verify(&block.header, &tx.id()),
            Ok(DagFinality::Applied)
        );
    }
    // Later DAG traffic rides with main-chain transactions.
    let later = net.issue(1, &device, 5, &all);
    let tx = net.transfer_tx(0);
    net.submit_to_primary(tx);
    let anchored = net.anchored_blocks(0);
    assert_eq!(anchored.len(), 2);
    assert_eq!(anchored[1].transactions.len(), 1);
    assert_eq!(
        net.node(3).anchoring().status(&later.id()),
        TxStatus::Confirmed {
            height: anchored[1].header.height
        }
    );
    assert_agreement(&net);
}

#[test]
fn conflicting_micro_transfers_are_resolved_alike_on_every_validator() {
    let mut net = Net::new(4);
    let all = [0, 1, 2, 3];
    let payer = key(7);
    let (alice, bob) = (key(8).public(), key(9).public());
    for i in 0..4 {
        net.tangle(i).credit(payer.public(), Amount(10)).unwrap();
    }
    // Two spends of the same 10 units with one sequence number, issued at
    // different validators.
    let now = net.now();
    let a = net
        .tangle(0)
        .issue(
            &payer,
            0,
            transfer(alice, 10),
            now,
            1,
            &level0,
            ITERATIONS_MAX,
        )
        .unwrap();
    let b = net
        .tangle(3)
        .issue(
            &payer,
            0,
            transfer(bob, 10),
            now,
            2,
            &level0,
            ITERATIONS_MAX,
        )
        .unwrap();
    net.tangle(1).attach(b.clone(), now, &level0).unwrap();
    net.tangle(1).attach(a.clone(), now, &level0).unwrap();
    for i in [2, 3] {
        net.tangle(i).attach(a.clone(), now, &level0).unwrap();
    }
    for i in [0, 2] {
        net.tangle(i).attach(b.clone(), now, &level0).unwrap();
    }
    net.tick(1);
    // The primary may anchor one spend first; keep going until both are in.
    for _ in 0..5 {
        let sequence = net.now();
        net.issue(0, &key(1), sequence, &all);
        net.tick(200);
    }
    assert_agreement(&net);
    let balances: Vec<(Amount, Amount)> = (0..4)
        .map(|i| {
            let ledger = net.node(i).anchoring().ledger();
            (ledger.balance(&alice), ledger.balance(&bob))
        })
        .collect();
    assert!(balances.windows(2).all(|w| w[0] == w[1]), "{balances:?}");
    let (to_alice, to_bob) = balances[0];
    assert_eq!(to_alice.0 + to_bob.0, 10, "exactly one spend applied");
}

#[test]
fn a_validator_lacking_dag_transactions_fetches_them_before_it_votes() {
    let mut net = Net::new(4);
    let device = key(2);
    // A backup of weight at most 3 (of 10) sees none of the DAG traffic.
    let primary = net.primary();
    let lacking = (0..3).find(|i| *i != primary).unwrap();
    let others: Vec<usize> = (0..4).filter(|i| *i != lacking).collect();
    let txs: Vec<DagTransaction> = (0..3)
        .map(|s| net.issue(primary, &device, s, &others))
        .collect();
    net.tick(1);
    // The others are a quorum: they commit; the lacking backup has the
    // certificate but cannot execute the anchor yet.
    assert_eq!(net.anchored_blocks(primary).len(), 1);
    assert!(
        net.anchored_blocks(lacking).is_empty(),
        "executed without the cone"
    );
    // Serve its requests from a peer's tangle until it is solid.
    let mut served = 0;
    for _ in 0..10 {
        let wanted: Vec<Hash> = std::iter::from_fn(|| net.tangle(lacking).poll_request()).collect();
        if wanted.is_empty() {
            break;
        }
        for id in wanted {
            let tx = net.tangle(primary).get(&id).expect("peer has it");
            let now = net.now();
            net.tangle(lacking).attach(tx, now, &level0).unwrap();
            served += 1;
        }
    }
    assert!(served > 0, "missing transactions were requested");
    net.tick(1);
    assert_eq!(net.anchored_blocks(lacking).len(), 1, "executed once solid");
    assert_agreement(&net);
    for tx in &txs {
        assert!(matches!(
            net.node(lacking).anchoring().status(&tx.id()),
            TxStatus::Confirmed { .. }
        ));
    }
}

#[test]
fn a_primary_with_a_wrong_anchor_root_gets_no_vote() {
    let mut net = Net::new(4);
    let all = [0, 1, 2, 3];
    net.issue(0, &key(3), 0, &all);
    let (primary, honest) = net.primary_proposal();
    assert!(honest.block.anchor.is_some());
    let backup = (primary + 1) % 4;
    let primary_key = net.keys[primary].clone();
    let forge = |root: Hash, anchor_present: bool| {
        let mut block = honest.block.clone();
        block.header.dag_anchor_root = root;
        if !anchor_present {
            block.anchor = None;
        }
        PrePrepare::new_signed(&primary_key, ChainId(CHAIN.0), honest.view, block)
    };
    let wrong = forge(Hash([7; 32]), true);
    let from = primary_key.public();
    assert_eq!(
        net.sim
            .input(backup, |r, now| r.handle(
                now,
                from,
                Message::PrePrepare(wrong)
            ))
            .unwrap(),
        Err(MessageError::InvalidProposal(ProposalError::AnchorRoot))
    );
    // A root without its anchor fails the body check.
    let bare = forge(honest.block.header.dag_anchor_root, false);
    assert!(matches!(
        net.sim
            .input(backup, |r, now| r.handle(
                now,
                from,
                Message::PrePrepare(bare)
            ))
            .unwrap(),
        Err(MessageError::InvalidProposal(ProposalError::Body(_)))
    ));
    // No prepare vote left the backup for either.
    let sent = net.output(backup);
    assert!(sent.iter().all(|m| !matches!(m.message, Message::Vote(_))));
    net.settle();
}

#[test]
fn a_chain_without_a_side_chain_refuses_anchored_blocks() {
    let mut net = Net::new(4);
    net.issue(0, &key(4), 0, &[1, 2, 3]);
    let (primary, pre_prepare) = net.primary_proposal();
    let backup = (primary + 1) % 4;
    let storage = MemoryStorage::new();
    let mut plain = Replica::open(net.config(backup), &storage).unwrap();
    let _ = plain.ready();
    assert_eq!(
        plain.handle(
            net.now(),
            net.keys[primary].public(),
            Message::PrePrepare(pre_prepare)
        ),
        Err(MessageError::InvalidProposal(ProposalError::Anchor(
            AnchorError::Unsupported
        )))
    );
}

#[test]
fn a_restarted_validator_keeps_its_anchors_and_goes_on_anchoring() {
    let mut net = Net::new(4);
    let all = [0, 1, 2, 3];
    let device = key(5);
    let first = net.issue(0, &device, 0, &all);
    net.tick(1);
    assert_eq!(net.anchored_blocks(1).len(), 1);
    // Replica 1 crashes and restarts from its storage (replica and
    // tangle; the simulator checks it lost no committed block).
    net.sim.crash_node(1).unwrap();
    net.sim.restart_node(1).unwrap();
    net.settle();
    let height = net.anchored_blocks(1)[0].header.height;
    assert_eq!(
        net.node(1).anchoring().status(&first.id()),
        TxStatus::Confirmed { height }
    );
    let proof = net.node(1).anchoring().prove(&first.id()).unwrap();
    assert_eq!(
        proof.verify(&net.anchored_blocks(1)[0].header, &first.id()),
        Ok(DagFinality::Applied)
    );
    let second = net.issue(2, &device, 1, &all);
    net.tick(200);
    assert_agreement(&net);
    assert!(matches!(
        net.node(1).anchoring().status(&second.id()),
        TxStatus::Confirmed { .. }
    ));
}

#[test]
fn an_idle_dag_stays_anchorable_while_the_main_chain_moves_on() {
    let mut net = Net::new(4);
    let all = [0, 1, 2, 3];
    let device = key(6);
    net.issue(0, &device, 0, &all);
    net.tick(1);
    let depth = net.node(0).anchoring().config().anchor_depth_max;
    // Many more main-chain blocks than the anchor depth, no DAG traffic.
    for nonce in 0..depth + 5 {
        let tx = net.transfer_tx(nonce);
        net.submit_to_primary(tx);
    }
    assert!(net.node(0).executed_height() > depth + 5);
    let late = net.issue(3, &device, 1, &all);
    net.tick(200);
    assert!(matches!(
        net.node(0).anchoring().status(&late.id()),
        TxStatus::Confirmed { .. }
    ));
    assert_agreement(&net);
}

/// A device that reports rarely: each reading is alone in its anchor and
/// more main-chain blocks than the depth limits pass between readings, so
/// a reading's second parent cannot be a young transaction. Every reading
/// must still be anchored (it pads with genesis, which never ages); before
/// the fix the second reading was too deep and the DAG stopped for good.
#[test]
fn rare_lone_readings_far_apart_are_all_anchored() {
    let mut net = Net::new(4);
    let all = [0, 1, 2, 3];
    let device = key(7);
    let depth = net.node(0).anchoring().config().anchor_depth_max;
    let mut nonce = 0;
    for reading in 0..4u64 {
        for _ in 0..depth + 5 {
            let tx = net.transfer_tx(nonce);
            nonce += 1;
            net.submit_to_primary(tx);
        }
        let tx = net.issue((reading % 4) as usize, &device, reading, &all);
        net.tick(200);
        for node in net.sim.replicas() {
            assert!(
                matches!(
                    node.anchoring().status(&tx.id()),
                    TxStatus::Confirmed { .. }
                ),
                "reading {reading} at height {}: {:?}",
                node.executed_height(),
                node.anchoring().status(&tx.id())
            );
        }
        assert_agreement(&net);
    }
}

#[test]
fn a_validators_dag_store_stays_bounded_as_anchors_go_by() {
    let mut net = Net::new(4);
    let keep = 3;
    // Restarted with a short retention (local policy, not consensus).
    net.sim.workload_mut().prune_keep_heights = vec![Some(keep)];
    for i in 0..4 {
        net.sim.crash_node(i).unwrap();
        net.sim.restart_node(i).unwrap();
        assert_eq!(
            net.node(i).anchoring().config().prune_keep_heights,
            Some(keep)
        );
    }
    net.settle();
    let all = [0, 1, 2, 3];
    let device = key(9);
    let mut issued = Vec::new();
    let mut largest = 0;
    for round in 0..40u64 {
        for k in 0..3 {
            issued.push(net.issue((round % 4) as usize, &device, round * 3 + k, &all));
        }
        net.tick(200);
        largest = largest.max(net.node(0).anchoring().len());
    }
    assert_agreement(&net);
    let anchors = net.anchored_blocks(0).len();
    assert!(anchors >= 30, "{anchors} anchors");
    // Only the last few heights' transactions (and entry points) remain.
    assert!(
        largest <= 3 * (keep as usize + 2),
        "store grew to {largest}"
    );
    let oldest = issued.first().unwrap().id();
    let newest = issued.last().unwrap().id();
    for i in 0..4 {
        let tangle = net.node(i).anchoring();
        assert!(
            matches!(
                tangle.status(&oldest),
                TxStatus::Unknown | TxStatus::EntryPoint { .. }
            ),
            "old history pruned on replica {i}"
        );
        let proof = tangle.prove(&newest).expect("recent proof kept");
        let height = match tangle.status(&newest) {
            TxStatus::Confirmed { height } => height,
            other => panic!("{other:?}"),
        };
        let header = &net.committed(i)[height as usize - 1].block.header;
        assert_eq!(proof.verify(header, &newest), Ok(DagFinality::Applied));
    }
}

#[test]
fn a_main_chain_deposit_funds_micro_transfers_on_every_validators_dag() {
    let mut net = Net::new(4);
    let client = net.client.clone();
    let shop = key(11).public();
    let deposit = net.client_tx(0, Payload::DagDeposit { amount: Amount(50) });
    net.submit_to_primary(deposit);
    for i in 0..4 {
        assert_eq!(
            net.node(i).ledger().account(&client.public()).balance,
            Amount(1_000_000 - 51)
        );
        assert_eq!(
            net.node(i).anchoring().ledger().balance(&client.public()),
            Amount(50),
            "replica {i}"
        );
    }
    // The deposit pays a micro-transfer on the DAG; an overspend is ignored.
    let now = net.now();
    let pay = net
        .tangle(1)
        .issue(
            &client,
            0,
            transfer(shop, 30),
            now,
            1,
            &level0,
            ITERATIONS_MAX,
        )
        .unwrap();
    let over = net
        .tangle(1)
        .issue(
            &client,
            1,
            transfer(shop, 30),
            now,
            2,
            &level0,
            ITERATIONS_MAX,
        )
        .unwrap();
    for i in [0, 2, 3] {
        for tx in [&pay, &over] {
            net.tangle(i).attach(tx.clone(), now, &level0).unwrap();
        }
    }
    net.tick(200);
    assert_agreement(&net);
    for i in 0..4 {
        let dag = net.node(i).anchoring().ledger();
        assert_eq!(dag.balance(&client.public()), Amount(20), "replica {i}");
        assert_eq!(dag.balance(&shop), Amount(30), "replica {i}");
    }
    // A restarted validator has the same DAG balances from its storage.
    let restored = Tangle::restore(
        dag_config(&net.genesis),
        net.sim.storage(2).unwrap(),
        net.now(),
    )
    .unwrap();
    assert_eq!(restored.ledger().balance(&shop), Amount(30));
}

#[test]
fn a_chain_without_a_side_chain_refuses_deposits() {
    let net = Net::new(4);
    let storage = MemoryStorage::new();
    let mut plain = Replica::open(net.config(0), &storage).unwrap();
    let deposit = net.client_tx(0, Payload::DagDeposit { amount: Amount(5) });
    assert_eq!(
        plain.submit_transaction(0, deposit),
        Err(itc_pbft::SubmitError::NoSideChain)
    );
}

#[test]
fn validators_on_the_async_driver_anchor_dag_transactions_sent_as_commands() {
    use itc_pbft::driver::futures::channel::mpsc;
    use itc_pbft::driver::futures::{self, FutureExt, StreamExt};
    use itc_pbft::driver::{Command, Driver, InProcessNetwork, ThreadTimer, Timer};
    use itc_pbft::Decision;

    let template = Net::new(4);
    let network = InProcessNetwork::new();
    let timer = ThreadTimer::new();
    let (all_committed, mut committed_stream) = mpsc::unbounded::<(usize, Decision)>();
    let mut commands = Vec::new();
    let mut threads = Vec::new();
    for i in 0..4 {
        let transport = network.join(template.keys[i].public());
        let storage = MemoryStorage::new();
        let replica = Replica::open_with_anchoring(
            template.config(i),
            &storage,
            Tangle::new(dag_config(&template.genesis)),
        )
        .unwrap();
        let (command_sender, command_stream) = mpsc::unbounded::<Command<Tangle>>();
        commands.push(command_sender);
        let (committed, mut mine) = mpsc::unbounded::<Decision>();
        let forward = all_committed.clone();
        let driver = Driver::new(replica, storage, transport, timer.clone());
        threads.push(std::thread::spawn(move || {
            futures::executor::block_on(async move {
                let run = driver.run(command_stream, committed);
                let relay = async move {
                    while let Some(d) = mine.next().await {
                        let _ = forward.unbounded_send((i, d));
                    }
                };
                let (result, ()) = futures::join!(run, relay);
                result.map(|(replica, _)| replica)
            })
        }));
    }
    // A device's DAG transaction, gossiped to every validator as a command.
    let mut source = Tangle::new(dag_config(&template.genesis));
    let reading = source
        .issue(&key(12), 0, data(1), 0, 1, &level0, ITERATIONS_MAX)
        .unwrap();
    for sender in &commands {
        let tx = reading.clone();
        sender
            .unbounded_send(Command::SideChain(Box::new(move |tangle, _ledger| {
                let _ = tangle.attach(tx, 0, &level0);
            })))
            .unwrap();
    }
    let deadline = timer.now_ms() + 30_000;
    let mut anchored: Vec<Option<itc_core::types::BlockHeader>> = vec![None; 4];
    while anchored.iter().any(Option::is_none) {
        let next = futures::executor::block_on(async {
            futures::select! {
                d = committed_stream.next().fuse() => d,
                _ = timer.sleep_until(deadline).fuse() => None,
            }
        });
        let (i, decision) = next.expect("the reading is anchored within 30 s");
        if decision.block.anchor.is_some() {
            anchored[i].get_or_insert(decision.block.header);
        }
    }
    for sender in &commands {
        let _ = sender.unbounded_send(Command::Stop);
    }
    let replicas: Vec<Replica<Tangle>> = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap())
        .collect();
    let header = anchored[0].clone().unwrap();
    for (i, replica) in replicas.iter().enumerate() {
        assert_eq!(anchored[i].as_ref(), Some(&header), "replica {i}");
        let proof = replica.anchoring().prove(&reading.id()).unwrap();
        assert_eq!(
            proof.verify(&header, &reading.id()),
            Ok(DagFinality::Applied)
        );
    }
}

#[test]
fn an_anchor_naming_an_already_confirmed_tip_is_refused_by_pruned_and_unpruned_nodes() {
    use itc_dag::tangle::ConfirmError;
    use itc_pbft::Anchoring;
    let mut net = Net::new(4);
    let all = [0, 1, 2, 3];
    let old = net.issue(0, &key(13), 0, &all);
    net.tick(1);
    let fresh = net.issue(0, &key(13), 1, &all);
    let height = net.node(0).executed_height() + 1;
    let mut tips = vec![old.id(), fresh.id()];
    tips.sort();
    let anchor = itc_core::types::DagAnchor { tips };
    assert!(matches!(
        net.node(1).anchoring().compute_confirmation(&anchor, height),
        Err(ConfirmError::TipAlreadyConfirmed(id)) if id == old.id()
    ));
    assert_eq!(
        net.tangle(1).check(height, &anchor),
        Err(AnchorError::Invalid("anchor tip already confirmed"))
    );
    // A node that pruned it to an entry point refuses it alike.
    net.tangle(2).prune(height - 1);
    assert!(matches!(
        net.tangle(2).status(&old.id()),
        TxStatus::EntryPoint { .. } | TxStatus::Unknown
    ));
    assert!(net.tangle(2).check(height, &anchor).is_err());
}

#[test]
fn bogus_anchors_cannot_fill_a_validators_request_table() {
    use itc_pbft::Anchoring;
    let mut net = Net::new(4);
    let height = net.node(0).executed_height() + 1;
    for i in 0..500u32 {
        let mut tips: Vec<Hash> = (0..8u32)
            .map(|k| {
                itc_core::Hash::of(itc_core::Domain::DagTransaction, &(i * 8 + k).to_le_bytes())
            })
            .collect();
        tips.sort();
        let anchor = itc_core::types::DagAnchor { tips };
        assert_eq!(
            net.tangle(1).check(height, &anchor),
            Err(AnchorError::NotReady)
        );
        // Only the ids of the anchor being waited for stay wanted.
        assert!(net.tangle(1).wanted().len() <= 8);
    }
    // A genuine cone is still requested and fetched afterwards.
    let tx = net.issue(0, &key(14), 0, &[]);
    let anchor = itc_core::types::DagAnchor {
        tips: vec![tx.id()],
    };
    assert_eq!(
        net.tangle(1).check(height, &anchor),
        Err(AnchorError::NotReady)
    );
    assert_eq!(net.tangle(1).wanted(), vec![tx.id()]);
}
