//! Issue 17: one Byzantine validator (or a relay, or a lying state-transfer
//! server) must not halt the chain. Each test drives replicas by hand
//! through one attack and checks that the honest replicas go on.

mod common;

use common::{transfer, CHAIN};
use itc_core::genesis::{Genesis, GenesisAccount, GenesisValidator};
use itc_core::hash::Domain;
use itc_core::keys::{Keypair, PublicKey, Signature};
use itc_core::storage::MemoryStorage;
use itc_core::types::{Amount, ChainId, DagAnchor, Payload, Transaction, VoteKind};
use itc_core::Hash;
use itc_pbft::{
    AnchorError, Anchoring, Config, Decision, Message, MessageError, Outgoing, PrePrepare,
    PreparedCertificate, Recipient, Replica, Status, ViewChange,
};
use std::collections::{BTreeSet, VecDeque};

/// A side chain whose "transactions" are bare hashes a replica has seen or
/// not. An anchor's root is a function of its tips; a tip this replica has
/// not seen makes the anchor wait ([`AnchorError::NotReady`]), as itc-dag's
/// does for a missing cone transaction.
#[derive(Debug, Default)]
struct FakeDag {
    known: BTreeSet<Hash>,
    confirmed: BTreeSet<Hash>,
}

fn fake_root(anchor: &DagAnchor) -> Hash {
    Hash::of(Domain::DagAnchor, &[b"fake dag".as_slice(), &anchor.hash().0].concat())
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

fn tip(name: &str) -> Hash {
    Hash::of(Domain::DagTransaction, name.as_bytes())
}

/// Replicas over storage, with a message queue the test controls.
struct Net {
    keys: Vec<Keypair>,
    genesis: Genesis,
    client: Keypair,
    replicas: Vec<Replica<FakeDag>>,
    storages: Vec<MemoryStorage>,
}

fn validator_key(i: usize) -> Keypair {
    Keypair::from_seed([i as u8 + 1; 32])
}

impl Net {
    fn new(weights: &[u64], epoch_length: u64) -> Net {
        let keys: Vec<Keypair> = (0..weights.len()).map(validator_key).collect();
        let client = Keypair::from_seed([200; 32]);
        let mut accounts = vec![GenesisAccount {
            public_key: client.public(),
            balance: 1_000_000,
        }];
        accounts.extend(keys.iter().map(|k| GenesisAccount {
            public_key: k.public(),
            balance: 1_000,
        }));
        let genesis = Genesis {
            chain_id: CHAIN,
            accounts,
            validators: keys
                .iter()
                .zip(weights)
                .map(|(k, w)| GenesisValidator {
                    public_key: k.public(),
                    weight: *w,
                })
                .collect(),
            epoch_length,
            ..Genesis::default()
        };
        let mut net = Net {
            keys,
            genesis,
            client,
            replicas: Vec::new(),
            storages: Vec::new(),
        };
        for i in 0..weights.len() {
            let storage = MemoryStorage::new();
            let replica =
                Replica::open_with_anchoring(net.config(i), &storage, FakeDag::default()).unwrap();
            net.replicas.push(replica);
            net.storages.push(storage);
        }
        for i in 0..weights.len() {
            let _ = net.persist(i);
        }
        net
    }

    fn config(&self, i: usize) -> Config {
        let mut config = Config::new(self.keys[i].clone(), self.genesis.clone());
        config.view_change_timeout_ms = 1_000;
        config.retransmit_interval_ms = 200;
        config
    }

    /// Crash replica `i` and open it again from its storage; the side
    /// chain keeps what it knew (it has its own store in a real node).
    fn restart(&mut self, i: usize) {
        let known = self.replicas[i].anchoring().known.clone();
        let confirmed = self.replicas[i].anchoring().confirmed.clone();
        let replica = Replica::open_with_anchoring(
            self.config(i),
            &self.storages[i],
            FakeDag { known, confirmed },
        )
        .unwrap();
        self.replicas[i] = replica;
        let _ = self.persist(i);
    }

    fn persist(&mut self, i: usize) -> Vec<Outgoing> {
        let ready = self.replicas[i].ready();
        ready.persist(&mut self.storages[i]).unwrap().messages
    }

    fn key(&self, i: usize) -> PublicKey {
        self.keys[i].public()
    }

    fn index_of(&self, key: PublicKey) -> usize {
        self.keys.iter().position(|k| k.public() == key).unwrap()
    }

    fn primary_index(&self, i: usize) -> usize {
        self.index_of(self.replicas[i].primary())
    }

    fn learn(&mut self, i: usize, tip: Hash) {
        self.replicas[i].anchoring_mut().known.insert(tip);
    }

    fn learn_all(&mut self, tip: Hash) {
        for i in 0..self.replicas.len() {
            self.learn(i, tip);
        }
    }

    fn tx(&self, nonce: u64) -> Transaction {
        transfer(&self.client, nonce, 10)
    }

    /// Deliver `message` from `from` to `to` and return what `to` sends.
    fn deliver(
        &mut self,
        now: u64,
        from: PublicKey,
        to: usize,
        message: &Message,
    ) -> (Result<(), MessageError>, Vec<Outgoing>) {
        let result = self.replicas[to].handle(now, from, message.clone());
        (result, self.persist(to))
    }

    /// Deliver everything until quiet, dropping what `keep(from, to,
    /// message)` refuses.
    fn flood(
        &mut self,
        now: u64,
        pending: Vec<(usize, Outgoing)>,
        keep: &dyn Fn(usize, usize, &Message) -> bool,
    ) {
        let mut pending: VecDeque<_> = pending.into();
        let mut rounds = 0;
        while let Some((from, outgoing)) = pending.pop_front() {
            rounds += 1;
            assert!(rounds < 200_000, "flood does not terminate");
            let targets: Vec<usize> = match outgoing.to {
                Recipient::AllValidators => (0..self.replicas.len()).filter(|j| *j != from).collect(),
                Recipient::One(key) => vec![self.index_of(key)],
            };
            for to in targets {
                if !keep(from, to, &outgoing.message) {
                    continue;
                }
                let (_, out) = self.deliver(now, self.key(from), to, &outgoing.message);
                pending.extend(out.into_iter().map(|m| (to, m)));
            }
        }
    }

    /// Tick every replica at `now` and deliver until quiet.
    fn tick_and_flood(&mut self, now: u64, keep: &dyn Fn(usize, usize, &Message) -> bool) {
        let mut out = Vec::new();
        for i in 0..self.replicas.len() {
            self.replicas[i].tick(now);
            out.extend(self.persist(i).into_iter().map(|m| (i, m)));
        }
        self.flood(now, out, keep);
    }

    fn assert_none_halted(&self) {
        for (i, r) in self.replicas.iter().enumerate() {
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
    let p = net.primary_index(0);
    net.replicas[p].tick(1);
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
    let mut net = Net::new(&[1; 4], 1_000);
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
    net.flood(1, out.into_iter().map(|m| (p, m)).collect(), &everything);
    net.learn(b, tip("planted"));
    net.tick_and_flood(2, &everything);
    net.assert_none_halted();
    for r in &net.replicas {
        assert_eq!(r.executed_height(), 1, "{}", r.debug_summary());
        assert_eq!(r.last_block_hash(), pp.block.header.hash());
        assert!(r.anchoring().confirmed.contains(&tip("genuine")));
        assert!(!r.anchoring().confirmed.contains(&tip("planted")));
    }
}

#[test]
fn a_view_change_with_another_tip_list_under_a_prepared_header_is_refused() {
    let mut net = Net::new(&[1; 4], 1_000);
    let (p, pp, out) = anchored_proposal(&mut net, tip("genuine"));
    // Everyone prepares the anchored block; every commit vote is lost.
    let no_commits = |_: usize, _: usize, m: &Message| {
        !matches!(m, Message::Vote(v) if v.kind == VoteKind::Commit)
    };
    net.flood(1, out.into_iter().map(|m| (p, m)).collect(), &no_commits);
    // A Byzantine validator's view change reports the prepared header and
    // its genuine certificate, with a planted tip list under it.
    let z = (p + 3) % 4;
    net.replicas[z].tick(10_000);
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
        net.tick_and_flood(now, &everything);
    }
    net.assert_none_halted();
    for r in &net.replicas {
        assert!(r.executed_height() >= 1, "{}", r.debug_summary());
        let first = r.decision(1).expect("retained");
        assert_eq!(first.block.header.hash(), pp.block.header.hash());
        assert_eq!(first.block.anchor, pp.block.anchor);
    }
}

#[test]
fn a_state_transfer_answer_with_another_tip_list_does_not_halt_the_lagging_replica() {
    let mut net = Net::new(&[1; 4], 1_000);
    let genuine = tip("genuine");
    let (p, pp, out) = anchored_proposal(&mut net, genuine);
    let lagging = (p + 1) % 4;
    let liar = (p + 2) % 4;
    // The block commits without the lagging replica.
    let cut = move |from: usize, to: usize, _: &Message| from != lagging && to != lagging;
    net.flood(1, out.into_iter().map(|m| (p, m)).collect(), &cut);
    let decision = net.replicas[liar].decision(1).expect("committed").clone();
    assert_eq!(decision.block.header.hash(), pp.block.header.hash());
    // The lagging replica asks the liar, which answers with the genuine
    // header and certificate over a planted tip list the lagging replica
    // can check.
    net.learn(lagging, tip("planted"));
    net.replicas[lagging].tick(1);
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
    assert_eq!(net.replicas[lagging].halted(), None);
    assert_eq!(net.replicas[lagging].executed_height(), 0);
    // An honest server's answer is then taken.
    let (result, _) = net.deliver(
        3,
        net.key(p),
        lagging,
        &Message::StateResponse(vec![decision]),
    );
    assert_eq!(result, Ok(()));
    assert_eq!(net.replicas[lagging].executed_height(), 1);
    assert!(net.replicas[lagging].anchoring().confirmed.contains(&genuine));
}
