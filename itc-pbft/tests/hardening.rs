//! Issue 17: one Byzantine validator (or a relay, or a lying state-transfer
//! server) must not halt the chain. Each test drives replicas by hand
//! through one attack and checks that the honest replicas go on.

mod common;

use common::{keypair, tick_all, weighted_genesis, Cluster, CHAIN};
use itc_core::genesis::Genesis;
use itc_core::hash::Domain;
use itc_core::keys::{Keypair, PublicKey, Signature};
use itc_core::types::{Amount, ChainId, DagAnchor, Payload, Transaction, VoteKind};
use itc_core::Hash;
use itc_pbft::{
    AnchorError, Anchoring, Message, MessageError, Outgoing, PrePrepare, PreparedCertificate,
    Recipient, Status, ViewChange,
};
use itc_sim::storage::FaultyStorage;
use itc_sim::{Rng, SideChain};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// A side chain whose "transactions" are bare hashes a replica has seen or
/// not. An anchor's root is a function of its tips; a tip this replica has
/// not seen makes the anchor wait ([`AnchorError::NotReady`]), as itc-dag's
/// does for a missing cone transaction.
#[derive(Clone, Debug, Default)]
struct FakeDag {
    known: BTreeSet<Hash>,
    confirmed: BTreeSet<Hash>,
}

fn fake_root(anchor: &DagAnchor) -> Hash {
    Hash::of(
        Domain::DagAnchor,
        &[b"fake dag".as_slice(), &anchor.hash().0].concat(),
    )
}

impl Anchoring for FakeDag {
    fn propose(&mut self, _: u64, _: u64, _: bool) -> Option<(DagAnchor, Hash)> {
        let tips: Vec<Hash> = self.known.difference(&self.confirmed).copied().collect();
        if tips.is_empty() {
            return None;
        }
        let anchor = DagAnchor { tips };
        let root = fake_root(&anchor);
        Some((anchor, root))
    }

    fn check(&mut self, _: u64, anchor: &DagAnchor) -> Result<Hash, AnchorError> {
        if anchor.tips.iter().all(|t| self.known.contains(t)) {
            Ok(fake_root(anchor))
        } else {
            Err(AnchorError::NotReady)
        }
    }

    fn commit(&mut self, height: u64, anchor: &DagAnchor, root: Hash) -> Result<(), AnchorError> {
        if self.check(height, anchor)? != root {
            return Err(AnchorError::Invalid("root"));
        }
        self.confirmed.extend(anchor.tips.iter().copied());
        Ok(())
    }

    fn wants_anchor(&self, _: u64) -> bool {
        !self.known.is_subset(&self.confirmed)
    }
}

/// What each node's fake side chain knew when it went down, by node (its
/// own store in a real node): the simulator reopens it from here.
#[derive(Clone, Debug, Default)]
struct FakeDagStore(Arc<Mutex<BTreeMap<usize, FakeDag>>>);

/// The simulator drives the fake side chain: no clients, no gossip.
impl SideChain for FakeDag {
    type Clients = ();
    type Workload = FakeDagStore;

    fn setup(_: &mut Genesis, _: &FakeDagStore, _: &mut Rng) {}

    fn open(
        _: &Genesis,
        store: &FakeDagStore,
        node: usize,
        _: &FaultyStorage,
        _: u64,
    ) -> Result<Self, String> {
        let saved = store.0.lock().unwrap().get(&node).cloned();
        Ok(saved.unwrap_or_default())
    }
}

fn tip(name: &str) -> Hash {
    Hash::of(Domain::DagTransaction, name.as_bytes())
}

/// The hand-driven cluster over the fake side chain.
type Net = Cluster<FakeDag>;

fn validator_key(i: usize) -> Keypair {
    keypair(i as u8)
}

impl Cluster<FakeDag> {
    /// Validators of `weights` (each with a balance for fees), epochs of
    /// `epoch_length`, retransmitting every 200 ms.
    fn with_fake_dag(weights: &[u64], epoch_length: u64) -> Net {
        let keys: Vec<Keypair> = (0..weights.len()).map(validator_key).collect();
        let client = Keypair::from_seed([200; 32]);
        let mut accounts = vec![(client.public(), 1_000_000)];
        accounts.extend(keys.iter().map(|k| (k.public(), 1_000)));
        let genesis = Genesis {
            epoch_length,
            ..weighted_genesis(&keys, weights, accounts)
        };
        Cluster::open(keys, genesis, client, 200, FakeDagStore::default(), |_| {})
    }

    /// Crash replica `i` and open it again from its storage; the side
    /// chain keeps what it knew (it has its own store in a real node).
    fn restart_with_side_chain(&mut self, i: usize) {
        let side_chain = self.replica(i).anchoring().clone();
        let store = self.sim.workload_mut().clone();
        store.0.lock().unwrap().insert(i, side_chain);
        self.restart(i);
        let _ = self.persist(i);
    }

    fn key(&self, i: usize) -> PublicKey {
        self.keys[i].public()
    }

    fn learn(&mut self, i: usize, tip: Hash) {
        self.replica_mut(i).anchoring_mut().known.insert(tip);
    }

    fn learn_all(&mut self, tip: Hash) {
        for i in 0..self.keys.len() {
            self.learn(i, tip);
        }
    }

    /// Deliver `message` from `from` to `to` and return what `to` sends
    /// (held); the simulator's invariants are checked.
    fn deliver(
        &mut self,
        now: u64,
        from: PublicKey,
        to: usize,
        message: &Message,
    ) -> (Result<(), MessageError>, Vec<Outgoing>) {
        let result = self.replica_mut(to).handle(now, from, message.clone());
        let out = self.persist(to);
        self.check();
        (result, out)
    }

    /// Tick every replica at `now` and deliver until quiet, dropping what
    /// `keep(from, to, message)` refuses.
    fn tick_and_flood(
        &mut self,
        now: u64,
        keep: impl Fn(usize, usize, &Message) -> bool + 'static,
    ) {
        let out = tick_all(self, now);
        self.flood_filtered(now, out, keep);
    }

    fn assert_none_halted(&self) {
        for (i, r) in self.replicas().iter().enumerate() {
            assert_eq!(r.halted(), None, "replica {i}: {}", r.debug_summary());
        }
    }
}

fn everything(_: usize, _: usize, _: &Message) -> bool {
    true
}

fn pre_prepare_of(messages: &[Outgoing]) -> PrePrepare {
    messages
        .iter()
        .find_map(|m| match &m.message {
            Message::PrePrepare(p) => Some(p.clone()),
            _ => None,
        })
        .expect("a pre-prepare")
}

/// The primary's pre-prepare of an anchor over `genuine`, after every
/// replica learned it.
fn anchored_proposal(net: &mut Net, genuine: Hash) -> (usize, PrePrepare, Vec<Outgoing>) {
    net.learn_all(genuine);
    let p = net.primary_index();
    net.replica_mut(p).tick(1);
    let out = net.persist(p);
    let pp = pre_prepare_of(&out);
    assert_eq!(pp.block.anchor.as_ref().unwrap().tips, vec![genuine]);
    (p, pp, out)
}

/// The same signed header with another tip list under it.
fn with_tips(pp: &PrePrepare, tips: Vec<Hash>) -> PrePrepare {
    let mut forged = pp.clone();
    forged.block.anchor = Some(DagAnchor { tips });
    forged
}

// ----- item 1: a block's anchor is bound to its certified header ----------

#[test]
fn a_relayed_pre_prepare_with_another_tip_list_does_not_halt_a_backup() {
    let mut net = Net::with_fake_dag(&[1; 4], 1_000);
    let (p, pp, out) = anchored_proposal(&mut net, tip("genuine"));
    let b = (p + 1) % 4;
    let relay = (p + 2) % 4;
    let forged = with_tips(&pp, vec![tip("planted")]);
    // A relay (another validator) hands the backup the primary's signed
    // header with a tip list of its own, before the primary's message.
    let (result, _) = net.deliver(1, net.key(relay), b, &Message::PrePrepare(forged.clone()));
    assert_eq!(result, Err(MessageError::NotPrimary));
    // The same forgery arriving as if from the primary fails the body check.
    let (result, _) = net.deliver(1, net.key(p), b, &Message::PrePrepare(forged));
    assert!(
        matches!(result, Err(MessageError::InvalidProposal(_))),
        "{result:?}"
    );
    // The genuine proposal still gets through, and the planted tip showing
    // up later changes nothing.
    net.flood_filtered(1, out.into_iter().map(|m| (p, m)).collect(), everything);
    net.learn(b, tip("planted"));
    net.tick_and_flood(2, everything);
    net.assert_none_halted();
    for r in net.replicas() {
        assert_eq!(r.executed_height(), 1, "{}", r.debug_summary());
        assert_eq!(r.last_block_hash(), pp.block.header.hash());
        assert!(r.anchoring().confirmed.contains(&tip("genuine")));
        assert!(!r.anchoring().confirmed.contains(&tip("planted")));
    }
}

#[test]
fn a_view_change_with_another_tip_list_under_a_prepared_header_is_refused() {
    let mut net = Net::with_fake_dag(&[1; 4], 1_000);
    let (p, pp, out) = anchored_proposal(&mut net, tip("genuine"));
    // Everyone prepares the anchored block; every commit vote is lost.
    let no_commits = |_: usize, _: usize, m: &Message| !matches!(m, Message::Vote(v) if v.kind == VoteKind::Commit);
    net.flood_filtered(1, out.into_iter().map(|m| (p, m)).collect(), no_commits);
    // A Byzantine validator's view change reports the prepared header and
    // its genuine certificate, with a planted tip list under it.
    let z = (p + 3) % 4;
    net.replica_mut(z).tick(10_000);
    let vc = net
        .persist(z)
        .into_iter()
        .find_map(|m| match m.message {
            Message::ViewChange(vc) => Some(vc),
            _ => None,
        })
        .expect("a view change");
    assert_eq!(vc.prepared.len(), 1);
    let mut forged = vc.clone();
    forged.prepared[0].block.anchor = Some(DagAnchor {
        tips: vec![tip("planted")],
    });
    let forged = forged.sign(&net.keys[z], ChainId(CHAIN));
    for i in (0..4).filter(|i| *i != z) {
        net.learn(i, tip("planted"));
        let (result, _) = net.deliver(10_000, net.key(z), i, &Message::ViewChange(forged.clone()));
        assert!(
            matches!(result, Err(MessageError::InvalidViewChange(_))),
            "replica {i}: {result:?}"
        );
    }
    // The honest replicas change view and commit the genuine block.
    for now in [10_000, 20_000, 40_000] {
        net.tick_and_flood(now, everything);
    }
    net.assert_none_halted();
    for r in net.replicas() {
        assert!(r.executed_height() >= 1, "{}", r.debug_summary());
        let first = r.decision(1).expect("retained");
        assert_eq!(first.block.header.hash(), pp.block.header.hash());
        assert_eq!(first.block.anchor, pp.block.anchor);
    }
}

#[test]
fn a_state_transfer_answer_with_another_tip_list_does_not_halt_the_lagging_replica() {
    let mut net = Net::with_fake_dag(&[1; 4], 1_000);
    let genuine = tip("genuine");
    let (p, pp, out) = anchored_proposal(&mut net, genuine);
    let lagging = (p + 1) % 4;
    let liar = (p + 2) % 4;
    // The block commits without the lagging replica.
    let cut = move |from: usize, to: usize, _: &Message| from != lagging && to != lagging;
    net.flood_filtered(1, out.into_iter().map(|m| (p, m)).collect(), cut);
    let decision = net.replica(liar).decision(1).expect("committed").clone();
    assert_eq!(decision.block.header.hash(), pp.block.header.hash());
    // The lagging replica asks the liar, which answers with the genuine
    // header and certificate over a planted tip list the lagging replica
    // can check.
    net.learn(lagging, tip("planted"));
    net.replica_mut(lagging).tick(1);
    let _ = net.persist(lagging);
    let mut forged = decision.clone();
    forged.block.anchor = Some(DagAnchor {
        tips: vec![tip("planted")],
    });
    let (result, _) = net.deliver(
        2,
        net.key(liar),
        lagging,
        &Message::StateResponse(vec![forged]),
    );
    assert!(result.is_err(), "{result:?}");
    assert_eq!(net.replica(lagging).halted(), None);
    assert_eq!(net.replica(lagging).executed_height(), 0);
    // An honest server's answer is then taken.
    let (result, _) = net.deliver(
        3,
        net.key(p),
        lagging,
        &Message::StateResponse(vec![decision]),
    );
    assert_eq!(result, Ok(()));
    assert_eq!(net.replica(lagging).executed_height(), 1);
    assert!(net
        .replica(lagging)
        .anchoring()
        .confirmed
        .contains(&genuine));
}

// ----- item 2: replicas many views apart meet again ------------------------

#[test]
fn honest_replicas_many_views_apart_after_a_partition_meet_again() {
    let mut net = Net::with_fake_dag(&[1; 4], 1_000);
    let tx = net.tx(0);
    for i in 0..4 {
        let _ = net.submit(i, 0, tx.clone());
        let _ = net.persist(i);
    }
    // C is cut off. D is Byzantine: it joins every view change (so A, B
    // and D have a quorum for them) but never prepares, commits or leads,
    // so every view fails and A and B run far ahead of C.
    let (a, b, c, d) = (0, 1, 2, 3);
    let partitioned = move |from: usize, to: usize, m: &Message| {
        if from == c || to == c {
            return false;
        }
        from != d || matches!(m, Message::ViewChange(_))
    };
    let mut now = 0;
    loop {
        now += 500;
        net.tick_and_flood(now, partitioned);
        let (ra, rb) = (net.replica(a), net.replica(b));
        if ra.view() >= 30
            && rb.view() == ra.view()
            && ra.status() == Status::ViewChange
            && rb.status() == Status::ViewChange
        {
            break;
        }
        assert!(now < 20_000_000, "{}", net.replica(a).debug_summary());
    }
    assert!(net.replica(c).view() <= 1);
    assert_eq!(net.replica(a).executed_height(), 0);
    // The partition heals and D falls silent: A, B and C are a quorum and
    // must find one view and commit.
    let healed = move |from: usize, _: usize, _: &Message| from != d;
    for _ in 0..2_000 {
        now += 500;
        net.tick_and_flood(now, healed);
        if [a, b, c]
            .iter()
            .all(|i| net.replica(*i).executed_height() >= 1)
        {
            break;
        }
    }
    for i in [a, b, c] {
        let r = net.replica(i);
        assert_eq!(r.executed_height(), 1, "replica {i}: {}", r.debug_summary());
    }
    net.assert_none_halted();
}

// ----- items 3 and 4: validators that leave, replicas that restart --------

/// Validators 0..3 of weight 10 and validator 3 of weight 1, epochs of 2
/// blocks; `before` runs first, then validator 3 unbonds and leaves the set
/// at the first boundary (height 2). Validator 3 is silent throughout.
fn net_after_validator_3_left(before: impl FnOnce(&mut Net)) -> Net {
    let mut net = Net::with_fake_dag(&[10, 10, 10, 1], 2);
    before(&mut net);
    let unbond = Transaction::new_signed(
        &net.keys[3],
        ChainId(CHAIN),
        0,
        Amount(1),
        Payload::Unbond { amount: Amount(1) },
    );
    let without_3 = |from: usize, to: usize, _: &Message| from != 3 && to != 3;
    for (now, tx) in [(1, unbond), (2, net.tx(0))] {
        let mut out = Vec::new();
        for i in 0..3 {
            let _ = net.submit(i, now, tx.clone());
            out.extend(net.persist(i).into_iter().map(|m| (i, m)));
        }
        net.flood_filtered(now, out, without_3);
    }
    for r in &net.replicas()[..3] {
        assert_eq!(r.executed_height(), 2, "{}", r.debug_summary());
        assert_eq!(r.view(), 0);
        assert_eq!(r.validators().weight_of(&validator_key(3).public()), None);
    }
    net
}

#[test]
fn a_view_change_left_by_a_removed_validator_does_not_spoil_the_new_view() {
    // While still a member, validator 3 asks for view 1; the others keep
    // its view change (alone it is far from a third of the weight).
    let mut net = net_after_validator_3_left(|net| {
        let early = ViewChange {
            view: 1,
            committed_height: 0,
            committed_certificate: None,
            prepared: Vec::new(),
            signer: validator_key(3).public(),
            signature: Signature::EMPTY,
        }
        .sign(&validator_key(3), ChainId(CHAIN));
        for i in 0..3 {
            let message = Message::ViewChange(early.clone());
            let (result, _) = net.deliver(0, validator_key(3).public(), i, &message);
            assert_eq!(result, Ok(()));
        }
    });
    // The primary of view 0 withholds its proposals: the others change to
    // view 1, whose new view must be accepted at once.
    let tx = net.tx(1);
    for i in 0..3 {
        let _ = net.submit(i, 3, tx.clone());
        let _ = net.persist(i);
    }
    let no_view_0_proposals = |from: usize, to: usize, m: &Message| {
        from != 3 && to != 3 && !matches!(m, Message::PrePrepare(p) if p.view == 0)
    };
    net.tick_and_flood(1_500, no_view_0_proposals);
    net.tick_and_flood(1_600, no_view_0_proposals);
    for (i, r) in net.replicas()[..3].iter().enumerate() {
        assert_eq!(r.view(), 1, "replica {i}: {}", r.debug_summary());
        assert_eq!(r.status(), Status::Normal, "replica {i}");
        assert_eq!(r.executed_height(), 3, "replica {i}: {}", r.debug_summary());
    }
}

#[test]
fn a_restarted_replica_still_knows_the_sets_of_heights_it_executed() {
    let mut net = net_after_validator_3_left(|_| {});
    let genesis_set = net.replica(0).validator_set_at(1).unwrap().clone();
    assert!(genesis_set.weight_of(&validator_key(3).public()).is_some());
    net.restart_with_side_chain(0);
    let r = net.replica(0);
    assert_eq!(r.validator_set_at(1), Some(&genesis_set));
    assert_eq!(r.validator_set_at(2), Some(&genesis_set));
    assert_eq!(
        r.validator_set_at(3).map(|s| s.hash()),
        Some(r.validators().hash())
    );
    // A view change carrying a forged prepared certificate for a height the
    // restarted replica executed is refused, as before the restart.
    let real = net.replica(1).decision(1).unwrap().block.clone();
    let mut other = real.clone();
    other.header.time_ms += 1;
    let lone_vote = itc_core::types::Vote::new_signed(
        &validator_key(2),
        ChainId(CHAIN),
        VoteKind::Prepare,
        1,
        0,
        other.header.hash(),
    );
    let forged =
        PreparedCertificate::from_votes(ChainId(CHAIN), 1, 0, other.header.hash(), [&lone_vote]);
    let vc = ViewChange {
        view: 5,
        committed_height: 0,
        committed_certificate: None,
        prepared: vec![itc_pbft::PreparedEntry {
            block: other,
            certificate: forged,
        }],
        signer: validator_key(2).public(),
        signature: Signature::EMPTY,
    }
    .sign(&validator_key(2), ChainId(CHAIN));
    let (result, _) = net.deliver(10, validator_key(2).public(), 0, &Message::ViewChange(vc));
    assert!(result.is_err(), "{result:?}");
}

// ----- item 5: a restarted primary resends its proposal --------------------

#[test]
fn a_primary_restarted_between_persist_and_send_resends_its_proposal() {
    let mut net = Net::with_fake_dag(&[1; 4], 1_000);
    let p = net.primary_index();
    let tx = net.tx(0);
    net.submit(p, 0, tx).unwrap();
    // The proposal is persisted; the crash comes before anything is sent.
    let lost = net.persist(p);
    assert!(lost
        .iter()
        .any(|m| matches!(m.message, Message::PrePrepare(_))));
    net.restart_with_side_chain(p);
    // Well before any view-change timeout, retransmission brings the same
    // proposal to the backups and the block commits in view 0.
    net.tick_and_flood(300, everything);
    net.tick_and_flood(600, everything);
    for (i, r) in net.replicas().iter().enumerate() {
        assert_eq!(r.view(), 0, "replica {i}: {}", r.debug_summary());
        assert_eq!(r.executed_height(), 1, "replica {i}: {}", r.debug_summary());
    }
}

// ----- the same attacks, kept being tried by the simulator -----------------

const TARGET: &str = "hardening";

/// A validator that only ever sends view changes lets every view fail while
/// one honest replica is cut off, so the others run more than 16 views
/// ahead of it; once the partition heals the three honest replicas (a
/// quorum) must agree on one view and commit everything.
#[test]
fn honest_replicas_many_views_apart_meet_again_in_the_simulator() {
    use itc_sim::{run_seeds, Behavior, Outage, Scenario, TestId};
    let reports = run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "honest_replicas_many_views_apart_meet_again_in_the_simulator",
        ),
        6,
        |seed| {
            let mut s = Scenario::basic(4);
            s.byzantine = vec![(3, Behavior::ViewStaller)];
            s.loss_percent = if seed % 2 == 0 { 0 } else { 5 };
            s.delay_ms = (1, 20);
            s.outage = Some(Outage {
                replica: (seed % 3) as usize,
                from_ms: 0,
                until_ms: 400_000,
                crash: false,
            });
            s.liveness_ms = 600_000;
            s
        },
    );
    for report in &reports {
        assert!(report.max_view > 16, "{report:?}");
    }
}

// ----- item 6: a new view always fits in a message -------------------------

/// View changes from all four validators of `net` for view 1, each
/// reporting the same 8 prepared blocks of `txs_per_block` transactions.
fn heavy_view_changes(net: &Net, txs_per_block: usize) -> Vec<ViewChange> {
    use itc_core::types::{Block, BlockHeader, Vote};
    let tx = net.tx(0);
    let set_hash = net.replica(0).validators().hash();
    let mut previous = Hash::ZERO;
    let mut entries = Vec::new();
    for height in 1..=8u64 {
        let transactions = vec![tx.clone(); txs_per_block];
        let header = BlockHeader {
            chain_id: ChainId(CHAIN),
            height,
            previous_hash: previous,
            tx_root: Block::compute_tx_root(&transactions),
            tx_count: transactions.len() as u64,
            state_root: Hash([height as u8; 32]),
            dag_anchor_root: Hash::ZERO,
            dag_anchor_hash: Hash::ZERO,
            validator_set_hash: set_hash,
            next_validator_set_hash: set_hash,
            time_ms: height,
            proposer: net.replica(0).primary(),
            view: 0,
        };
        let hash = header.hash();
        let votes: Vec<Vote> = net
            .keys
            .iter()
            .map(|k| Vote::new_signed(k, ChainId(CHAIN), VoteKind::Prepare, height, 0, hash))
            .collect();
        entries.push(itc_pbft::PreparedEntry {
            block: Block {
                header,
                transactions,
                anchor: None,
            },
            certificate: PreparedCertificate::from_votes(ChainId(CHAIN), height, 0, hash, &votes),
        });
        previous = hash;
    }
    net.keys
        .iter()
        .map(|k| {
            ViewChange {
                view: 1,
                committed_height: 0,
                committed_certificate: None,
                prepared: entries.clone(),
                signer: k.public(),
                signature: Signature::EMPTY,
            }
            .sign(k, ChainId(CHAIN))
        })
        .collect()
}

#[test]
fn a_new_view_over_view_changes_with_large_prepared_blocks_still_decodes() {
    use itc_core::encoding::Encode;
    use itc_pbft::message::{MESSAGE_BYTES_MAX, NEW_VIEW_BYTES_MAX};
    let mut net = Net::with_fake_dag(&[1; 4], 1_000);
    let vcs = heavy_view_changes(&net, 7_000);
    // Each view change alone fits in a message; all four together do not,
    // so a new view that carried them would never decode.
    for vc in &vcs {
        assert!(Message::ViewChange(vc.clone()).encode().len() < MESSAGE_BYTES_MAX);
    }
    let carried: usize = vcs.iter().map(|vc| vc.encode().len()).sum();
    assert!(carried > MESSAGE_BYTES_MAX, "{carried}");
    // The new view names them by digest.
    let new_primary = net.index_of(itc_pbft::primary_of(1, net.replica(0).validators()));
    let nv = itc_pbft::NewView::new_signed(&net.keys[new_primary], ChainId(CHAIN), 1, &vcs);
    let bytes = Message::NewView(nv.clone()).encode();
    assert!(bytes.len() <= NEW_VIEW_BYTES_MAX, "{}", bytes.len());
    assert_eq!(
        Message::from_bytes(&bytes),
        Ok(Message::NewView(nv.clone()))
    );
    // A backup that never saw the view changes asks the new primary for
    // them, and enters the view with the 8 prepared blocks once they came.
    let backup = (new_primary + 1) % 4;
    let (result, out) = net.deliver(5, net.key(new_primary), backup, &Message::NewView(nv));
    assert_eq!(result, Err(MessageError::MissingViewChanges));
    assert!(out
        .iter()
        .any(|m| m.to == Recipient::One(net.key(new_primary))
            && m.message == Message::ViewChangeRequest { view: 1 }));
    for vc in &vcs {
        let (result, _) = net.deliver(
            6,
            net.key(new_primary),
            backup,
            &Message::ViewChange(vc.clone()),
        );
        assert_eq!(result, Ok(()));
    }
    let r = net.replica(backup);
    assert_eq!(
        (r.view(), r.status()),
        (1, Status::Normal),
        "{}",
        r.debug_summary()
    );
    assert!(
        r.debug_summary()
            .contains("h8 v1 proposal=Some((false, true))"),
        "{}",
        r.debug_summary()
    );
}

/// The new primary hands out the view changes its new view names, and a
/// backup that lost them in the network still enters the view.
#[test]
fn a_backup_that_lost_the_view_changes_fetches_them_from_the_new_primary() {
    let mut net = Net::with_fake_dag(&[1; 4], 1_000);
    let p = net.primary_index();
    let tx = net.tx(0);
    for i in 0..4 {
        let _ = net.submit(i, 0, tx.clone());
        let _ = net.persist(i);
    }
    let next = net.index_of(itc_pbft::primary_of(1, net.replica(0).validators()));
    let late = (0..4).find(|i| *i != p && *i != next).unwrap();
    // The primary is silent; view changes never reach `late`.
    let lossy = move |from: usize, to: usize, m: &Message| {
        from != p && !(to == late && matches!(m, Message::ViewChange(_)) && from != next)
    };
    net.tick_and_flood(1_500, lossy);
    net.tick_and_flood(1_700, lossy);
    let r = net.replica(late);
    assert_eq!(
        (r.view(), r.status()),
        (1, Status::Normal),
        "{}",
        r.debug_summary()
    );
    for now in [2_000, 2_200, 2_400] {
        net.tick_and_flood(now, move |from: usize, _: usize, _: &Message| from != p);
    }
    for i in (0..4).filter(|i| *i != p) {
        assert_eq!(
            net.replica(i).executed_height(),
            1,
            "{}",
            net.replica(i).debug_summary()
        );
    }
}

// ----- a block only a Byzantine validator saw commit ------------------------

/// Every commit vote reached only the Byzantine validator, which then never
/// serves the block by state transfer. The others prepared the block and
/// voted for it; the certificate its view change carries is enough for
/// them to execute it (found by the anchoring simulation, seed 111).
#[test]
fn a_commit_certificate_in_a_view_change_completes_a_block_only_a_byzantine_replica_saw_commit() {
    let mut net = Net::with_fake_dag(&[1; 4], 1_000);
    let p = net.primary_index();
    // Z leads the next view, so its new view carries its own view change.
    let z = net.index_of(itc_pbft::primary_of(1, net.replica(0).validators()));
    assert_ne!(p, z);
    let tx = net.tx(0);
    for i in 0..4 {
        let _ = net.submit(i, 0, tx.clone());
        let _ = net.persist(i);
    }
    net.replica_mut(p).tick(1);
    let out: Vec<_> = net.persist(p).into_iter().map(|m| (p, m)).collect();
    // Every commit vote reaches Z only, and Z never answers a state request
    // or pushes a block.
    let z_serves_nothing = move |from: usize, to: usize, m: &Message| {
        let commit = matches!(m, Message::Vote(v) if v.kind == VoteKind::Commit);
        (to == z || !commit) && (from != z || !matches!(m, Message::StateResponse(_)))
    };
    net.flood_filtered(1, out, z_serves_nothing);
    assert_eq!(net.replica(z).executed_height(), 1);
    for (i, r) in net.replicas().iter().enumerate() {
        if i != z {
            assert_eq!(r.executed_height(), 0);
        }
    }
    let committed = net.replica(z).last_block_hash();
    // The others change view, to the view Z leads.
    for now in [10_000, 10_200, 10_400, 20_000] {
        net.tick_and_flood(now, z_serves_nothing);
    }
    for (i, r) in net.replicas().iter().enumerate() {
        assert!(
            r.executed_height() >= 1,
            "replica {i}: {}",
            r.debug_summary()
        );
        assert_eq!(r.decision(1).unwrap().block.header.hash(), committed);
    }
    net.assert_none_halted();
}
