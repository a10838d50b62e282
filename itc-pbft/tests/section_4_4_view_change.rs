//! Castro & Liskov, OSDI'99, section 4.4: view changes. A faulty or silent
//! primary is replaced, prepared certificates carry over into the new view,
//! and the view-change timeout doubles until progress resets it.

mod common;

use common::*;
use itc_core::types::VoteKind;
use itc_pbft::{Message, Status};
use itc_sim::{run_seeds, Behavior, Scenario, TestId};

const TARGET: &str = "section_4_4_view_change";

#[test]
fn a_silent_primary_is_replaced() {
    let mut c = Cluster::new(&[1; 4]);
    let p = c.primary_index();
    let b = (p + 1) % 4;
    let tx = c.tx(0);
    c.submit(b, 0, tx).unwrap();
    let out: Vec<_> = c.persist(b).into_iter().map(|m| (b, m)).collect();
    let silent = move |from: usize, to: usize, _: &Message| from != p && to != p;
    c.flood_filtered(0, out, silent);
    assert!(c.replicas().iter().all(|r| r.executed_height() == 0));
    // The backups time out, change view and commit under the new primary.
    let out = tick_all(&mut c, 1_000);
    c.flood_filtered(1_000, out, silent);
    for (i, r) in c.replicas().iter().enumerate() {
        if i != p {
            assert_eq!(
                r.view(),
                1,
                "replica {i} (primary {p}): {}",
                r.debug_summary()
            );
            assert_eq!(r.status(), Status::Normal);
            assert_eq!(
                r.executed_height(),
                1,
                "replica {i} (primary {p}): {}",
                r.debug_summary()
            );
        }
    }
}

#[test]
fn a_prepared_block_survives_the_view_change() {
    let mut c = Cluster::new(&[1; 4]);
    let p = c.primary_index();
    let tx = c.tx(0);
    c.submit(p, 0, tx).unwrap();
    let out = c.persist(p);
    let prepared_hash = find_pre_prepare(&out).unwrap().block.header.hash();
    // Everyone prepares, but every commit vote is lost.
    let no_commits = |_: usize, _: usize, m: &Message| !matches!(m, Message::Vote(v) if v.kind == VoteKind::Commit);
    c.flood_filtered(0, out.into_iter().map(|m| (p, m)).collect(), no_commits);
    assert!(c.replicas().iter().all(|r| r.executed_height() == 0));
    // The old primary's own transaction pool is emptied so that only a
    // re-proposal can bring the block back.
    let out = tick_all(&mut c, 1_000);
    c.flood(1_000, out);
    for r in c.replicas() {
        assert!(r.view() >= 1);
        assert_eq!(r.executed_height(), 1);
        assert_eq!(
            r.last_block_hash(),
            prepared_hash,
            "the prepared block, not a new one, is committed"
        );
    }
}

#[test]
fn view_change_timeout_doubles_until_progress() {
    let mut c = Cluster::new(&[1; 4]);
    for i in 0..4 {
        let tx = c.tx(0);
        c.submit(i, 0, tx).unwrap();
        let _ = c.persist(i);
    }
    // Only view changes get through: no primary ever gets a view started.
    let only_view_changes = |_: usize, _: usize, m: &Message| matches!(m, Message::ViewChange(_));
    let mut now = 0;
    let mut gaps = Vec::new();
    for view in 1..=3 {
        let mut at = now;
        while c.replica(0).view() < view {
            at += 1;
            let out = tick_all(&mut c, at);
            c.flood_filtered(at, out, only_view_changes);
        }
        gaps.push(at - now);
        now = at;
    }
    assert_eq!(gaps, vec![1_000, 2_000, 4_000]);
    // Progress resets the timeout to its base value.
    let out = tick_all(&mut c, now + 1);
    c.flood(now + 1, out);
    let mut at = now + 1;
    while c.replica(0).executed_height() == 0 {
        at += 100;
        let out = tick_all(&mut c, at);
        c.flood(at, out);
        assert!(at < now + 100_000, "no commit");
    }
    let tx = c.tx(1);
    c.submit(0, at, tx).unwrap();
    let _ = c.persist(0);
    let deadline = c.replica(0).next_deadline().unwrap();
    assert!(
        deadline <= at + 1_000,
        "timer back to its base value: {deadline} vs {at}"
    );
}

#[test]
fn silent_or_equivocating_primaries_under_loss() {
    run_seeds(
        TestId::new(
            "itc-pbft",
            TARGET,
            "silent_or_equivocating_primaries_under_loss",
        ),
        20,
        |seed| {
            let mut s = Scenario::basic(4);
            s.loss_percent = 10;
            s.delay_ms = (1, 20);
            let behavior = if seed % 2 == 0 {
                Behavior::Silent
            } else {
                Behavior::EquivocatingPrimary
            };
            s.byzantine = vec![((seed / 2 % 4) as usize, behavior)];
            s
        },
    );
}
