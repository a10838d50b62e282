//! The async driver: four replicas, each on its own thread, over the
//! in-process transport, commit the same blocks.

mod common;

use common::*;
use futures::channel::mpsc;
use futures::{FutureExt, StreamExt};
use itc_core::storage::MemoryStorage;
use itc_pbft::driver::{Command, Driver, InProcessNetwork, ThreadTimer, Timer};
use itc_pbft::{Decision, Replica};

#[test]
fn four_threaded_replicas_commit_the_same_blocks() {
    let c = Cluster::new(&[1; 4]);
    let network = InProcessNetwork::new();
    let timer = ThreadTimer::new();
    let (all_committed, mut committed_stream) = mpsc::unbounded::<(usize, Decision)>();
    let mut commands = Vec::new();
    let mut threads = Vec::new();
    for i in 0..4 {
        let transport = network.join(c.keys[i].public());
        let storage = MemoryStorage::new();
        let mut config = c.config(i);
        config.retransmit_interval_ms = 50;
        config.view_change_timeout_ms = 2_000;
        let replica = Replica::open(config, &storage).unwrap();
        let (command_sender, command_stream) = mpsc::unbounded();
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
                result.map(|_| ())
            })
        }));
    }
    let transactions = 6;
    for nonce in 0..transactions {
        let tx = c.tx(nonce);
        commands[(nonce % 4) as usize]
            .unbounded_send(Command::Submit(Box::new(tx)))
            .unwrap();
    }
    let deadline = timer.now_ms() + 30_000;
    let mut chains: Vec<Vec<Decision>> = vec![Vec::new(); 4];
    let committed_txs = |chains: &Vec<Vec<Decision>>| {
        chains
            .iter()
            .map(|c| c.iter().map(|d| d.block.transactions.len()).sum::<usize>())
            .min()
            .unwrap()
    };
    while committed_txs(&chains) < transactions as usize {
        let next = futures::executor::block_on(async {
            futures::select! {
                d = committed_stream.next().fuse() => d,
                _ = timer.sleep_until(deadline).fuse() => None,
            }
        });
        let (i, decision) = next.expect("all transactions commit within 30 s");
        chains[i].push(decision);
    }
    for sender in &commands {
        let _ = sender.unbounded_send(Command::Stop);
    }
    for thread in threads {
        thread.join().unwrap().unwrap();
    }
    for chain in &chains[1..] {
        let hashes: Vec<_> = chain.iter().map(|d| d.block.header.hash()).collect();
        let first: Vec<_> = chains[0].iter().map(|d| d.block.header.hash()).collect();
        let common = hashes.len().min(first.len());
        assert_eq!(hashes[..common], first[..common]);
    }
}
