//! Normal-case operation (paper section 4.2): pre-prepare, prepare and
//! commit in weight, validation before voting, in-order execution, and the
//! primary's proposals.

use super::*;

impl<A: Anchoring> Replica<A> {
    pub(super) fn on_pre_prepare(
        &mut self,
        from: PublicKey,
        m: PrePrepare,
    ) -> Result<(), MessageError> {
        let height = m.block.header.height;
        if height <= self.executed {
            self.push_decision(from, height);
            return Err(MessageError::OutOfWindow);
        }
        // In a view change to `m.view`, the proposal is kept until the new
        // view arrives (messages may overtake it); votes wait for it too.
        if m.view != self.view {
            if m.view > self.view {
                self.note_behind(height - 1, from);
            }
            return Err(MessageError::OutOfWindow);
        }
        if !self.in_window(height) {
            self.note_behind(height - 1, from);
            return Err(MessageError::OutOfWindow);
        }
        if self.status == Status::Normal && height <= self.view_floor {
            // Settled by the new view: only its re-proposals count here.
            return Err(MessageError::OutOfWindow);
        }
        let set = self
            .set_for(height)
            .ok_or(MessageError::UnknownValidatorSet(height))?;
        // Only the primary itself hands out its proposal (links between
        // validators are direct and authenticated): a pre-prepare relayed by
        // anyone else is refused. `check_body` below already keeps a relay
        // from planting a body of its own under the primary's header; this
        // also keeps a relay from choosing which of an equivocating
        // primary's proposals a backup sees first.
        if m.signer != primary_of(m.view, set) || from != m.signer {
            return Err(MessageError::NotPrimary);
        }
        let hash = m.block.header.hash();
        if let Some(slot) = self.slots.get(&height) {
            if slot.proposal.is_some() || slot.certificate.is_some() {
                // Duplicate, or an equivocating primary: keep the first.
                return Ok(());
            }
        }
        m.verify_signature(self.chain_id)
            .map_err(|_| MessageError::BadSignature)?;
        m.block.check_body().map_err(ProposalError::from)?;
        check_block_bytes(&m.block.transactions)?;
        let view = self.view;
        let slot = self.slots.entry(height).or_default();
        slot.view = view;
        slot.proposal = Some(Proposal {
            block: m.block.clone(),
            hash,
            pre_prepare: Some(m),
            validated: false,
            certified: false,
            anchor_pending: false,
        });
        if height == self.executed + 1 {
            self.validate_slot(height)?;
        }
        Ok(())
    }

    /// Validate the proposal at `executed + 1` against the ledger.
    pub(super) fn validate_slot(&mut self, height: u64) -> Result<(), MessageError> {
        debug_assert_eq!(height, self.executed + 1);
        let Some(slot) = self.slots.get(&height) else {
            return Ok(());
        };
        let Some(proposal) = &slot.proposal else {
            return Ok(());
        };
        if proposal.votable() {
            return Ok(());
        }
        let (block, view) = (proposal.block.clone(), slot.view);
        let signer = match &proposal.pre_prepare {
            Some(pre_prepare) => Some(pre_prepare.signer),
            // Restored from this replica's own storage, where only the
            // view primary's signed pre-prepare can have put it.
            None => self.set_for(height).map(|set| primary_of(view, set)),
        };
        let result = if proposal.anchor_pending {
            self.validate_anchor(&block)
        } else {
            self.validate_block(&block, view, signer)
        };
        match result {
            Ok(()) => {
                if let Some(p) = self
                    .slots
                    .get_mut(&height)
                    .and_then(|s| s.proposal.as_mut())
                {
                    p.validated = true;
                    p.anchor_pending = false;
                }
                self.persist_slot(height);
                Ok(())
            }
            // Side-chain data is missing (and requested): keep the proposal
            // and check only its anchor again on the next input.
            Err(e @ ProposalError::Anchor(AnchorError::NotReady)) => {
                if let Some(p) = self
                    .slots
                    .get_mut(&height)
                    .and_then(|s| s.proposal.as_mut())
                {
                    p.anchor_pending = true;
                }
                Err(MessageError::InvalidProposal(e))
            }
            Err(e) => {
                if let Some(slot) = self.slots.get_mut(&height) {
                    slot.proposal = None;
                }
                Err(MessageError::InvalidProposal(e))
            }
        }
    }

    fn validate_block(
        &mut self,
        block: &Block,
        view: u64,
        signer: Option<PublicKey>,
    ) -> Result<(), ProposalError> {
        let header = &block.header;
        if header.chain_id != self.chain_id {
            return Err(ProposalError::Header("chain id"));
        }
        if header.height != self.executed + 1 {
            return Err(ProposalError::Header("height"));
        }
        if header.previous_hash != self.last_hash {
            return Err(ProposalError::Header("previous hash"));
        }
        if header.view != view {
            return Err(ProposalError::Header("view"));
        }
        if Some(header.proposer) != signer {
            return Err(ProposalError::Header("proposer"));
        }
        if header.validator_set_hash != self.current_set_hash {
            return Err(ProposalError::Header("validator set hash"));
        }
        if header.time_ms < self.last_time_ms
            || header.time_ms > self.now_ms.saturating_add(self.block_time_drift_ms_max)
        {
            return Err(ProposalError::Header("time"));
        }
        if block.transactions.len() > self.block_transactions_max {
            return Err(ProposalError::TooManyTransactions(block.transactions.len()));
        }
        check_block_bytes(&block.transactions)?;
        block.check_body()?;
        let mut seen = BTreeSet::new();
        let deposits = self.anchoring.accepts_deposits();
        for tx in &block.transactions {
            if !seen.insert((tx.sender, tx.nonce)) {
                return Err(ProposalError::DuplicateTransaction);
            }
            if !deposits && matches!(tx.payload, Payload::DagDeposit { .. }) {
                return Err(ProposalError::Anchor(AnchorError::Unsupported));
            }
        }
        // Each signature is verified once per replica: transactions already
        // in the pool were verified on admission; the rest are verified here,
        // and the ledger is told not to verify again.
        for (index, tx) in block.transactions.iter().enumerate() {
            let pooled = self
                .pool
                .get(&(tx.sender, tx.nonce))
                .is_some_and(|p| p == tx);
            if !pooled {
                tx.verify_signature().map_err(|_| {
                    itc_core::ledger::BlockError::InvalidTransaction {
                        index,
                        error: TxError::BadSignature,
                    }
                })?;
            }
        }
        let context = BlockContext {
            height: header.height,
            proposer: header.proposer,
            time_ms: header.time_ms,
        };
        let (root, next_set) = self
            .ledger
            .preview_block_preverified(&context, &block.transactions)?;
        if root != header.state_root {
            return Err(ProposalError::StateRoot);
        }
        let next_hash = next_set.map_or(self.current_set_hash, |s| s.hash());
        if next_hash != header.next_validator_set_hash {
            return Err(ProposalError::NextValidatorSet);
        }
        // Last, as the costliest.
        self.validate_anchor(block)
    }

    /// Recompute the anchor's root (check_body has tied its presence to a
    /// non-zero root).
    fn validate_anchor(&mut self, block: &Block) -> Result<(), ProposalError> {
        if let Some(anchor) = &block.anchor {
            let root = self.anchoring.check(block.header.height, anchor)?;
            if root != block.header.dag_anchor_root {
                return Err(ProposalError::AnchorRoot);
            }
        }
        Ok(())
    }

    pub(super) fn on_vote(&mut self, from: PublicKey, vote: Vote) -> Result<(), MessageError> {
        let height = vote.height;
        if vote.chain_id != self.chain_id {
            return Err(MessageError::BadSignature);
        }
        if height <= self.executed {
            self.push_decision(from, height);
            return Err(MessageError::OutOfWindow);
        }
        if !self.in_window(height) {
            self.note_behind(height - 1, from);
            return Err(MessageError::OutOfWindow);
        }
        if vote.view != self.view {
            return Err(MessageError::OutOfWindow);
        }
        if vote.validator == self.me {
            return Ok(());
        }
        let set = self
            .set_for(height)
            .ok_or(MessageError::UnknownValidatorSet(height))?;
        if set.weight_of(&vote.validator).is_none() {
            return Err(MessageError::NotAValidator);
        }
        let existing = self.slots.get(&height).and_then(|slot| {
            let map = match vote.kind {
                VoteKind::Prepare => &slot.prepares,
                VoteKind::Commit => &slot.commits,
            };
            map.get(&vote.validator).cloned()
        });
        if let Some(existing) = &existing {
            if existing.block_hash == vote.block_hash {
                return Ok(());
            }
        }
        vote.verify_signature()
            .map_err(|_| MessageError::BadSignature)?;
        if let Some(first) = existing {
            if self.out.evidence.len() < EVIDENCE_PENDING_MAX {
                self.out.evidence.push(DoubleVoteEvidence {
                    first,
                    second: vote,
                });
            }
            return Ok(());
        }
        let view = self.view;
        let slot = self.slots.entry(height).or_default();
        slot.view = view;
        match vote.kind {
            VoteKind::Prepare => slot.prepares.insert(vote.validator, vote),
            VoteKind::Commit => slot.commits.insert(vote.validator, vote),
        };
        Ok(())
    }

    fn weight_for(&self, height: u64, votes: &BTreeMap<PublicKey, Vote>, hash: Hash) -> u64 {
        let Some(set) = self.set_for(height) else {
            return 0;
        };
        votes
            .values()
            .filter(|v| v.block_hash == hash)
            .filter_map(|v| set.weight_of(&v.validator))
            .sum()
    }

    fn is_quorum(&self, height: u64, weight: u64) -> bool {
        self.set_for(height)
            .is_some_and(|set| set.is_quorum(weight))
    }

    /// Send votes and collect certificates for one slot. Returns whether
    /// anything changed.
    pub(super) fn step_slot(&mut self, height: u64) -> bool {
        if self.status != Status::Normal {
            return false;
        }
        let view = self.view;
        let validator = self.is_validator() && self.set_for(height).is_some();
        let Some(slot) = self.slots.get(&height) else {
            return false;
        };
        let Some(proposal) = &slot.proposal else {
            return false;
        };
        if slot.certificate.is_some() {
            return false;
        }
        let hash = proposal.hash;
        let mut changed = false;
        // Prepare: once the proposal is valid, unless we already voted
        // otherwise in this view.
        if validator && proposal.votable() && slot.prepare_vote.is_none_or(|(v, _)| v < view) {
            self.cast_vote(VoteKind::Prepare, height, view, hash);
            changed = true;
        }
        let slot = &self.slots[&height];
        let proposal = slot.proposal.as_ref().expect("proposal exists");
        // Prepared: a quorum of prepares for the accepted proposal.
        if proposal.votable()
            && !slot.prepared_for(view, hash)
            && self.is_quorum(height, self.weight_for(height, &slot.prepares, hash))
        {
            let certificate = PreparedCertificate::from_votes(
                self.chain_id,
                height,
                view,
                hash,
                slot.prepares.values(),
            );
            let block = proposal.block.clone();
            let slot = self.slots.get_mut(&height).expect("slot exists");
            slot.prepared = Some(PreparedEntry { block, certificate });
            self.persist_slot(height);
            changed = true;
        }
        let slot = &self.slots[&height];
        if validator
            && slot.prepared_for(view, hash)
            && slot.commit_vote.is_none_or(|(v, _)| v < view)
        {
            self.cast_vote(VoteKind::Commit, height, view, hash);
            changed = true;
        }
        // Committed-local: a quorum of commits (itself a certificate).
        let slot = &self.slots[&height];
        if self.is_quorum(height, self.weight_for(height, &slot.commits, hash)) {
            let certificate = CommitCertificate::from_votes(
                self.chain_id,
                height,
                view,
                hash,
                slot.commits.values(),
            );
            self.slots
                .get_mut(&height)
                .expect("slot exists")
                .certificate = Some(certificate);
            changed = true;
        }
        changed
    }

    /// Sign this replica's vote of `kind` for the slot's proposal, record
    /// it, and send it once the record is durable.
    fn cast_vote(&mut self, kind: VoteKind, height: u64, view: u64, hash: Hash) {
        let vote = self.sign_vote(kind, height, view, hash);
        let me = self.me;
        let slot = self.slots.get_mut(&height).expect("slot exists");
        let (mine, votes) = match kind {
            VoteKind::Prepare => (&mut slot.prepare_vote, &mut slot.prepares),
            VoteKind::Commit => (&mut slot.commit_vote, &mut slot.commits),
        };
        *mine = Some((view, hash));
        votes.insert(me, vote.clone());
        self.persist_slot(height);
        self.send_after_persist(Recipient::AllValidators, Message::Vote(vote));
    }

    /// Drive the log forward until nothing changes: validate, vote, commit,
    /// execute in order; then propose if primary; then re-arm the timer.
    pub(super) fn progress(&mut self) {
        for _ in 0..(4 * WATERMARK_WINDOW + 8) {
            if self.halted.is_some() {
                return;
            }
            let mut changed = false;
            while let Some(slot) = self.slots.get(&(self.executed + 1)) {
                let (Some(proposal), Some(certificate)) = (&slot.proposal, &slot.certificate)
                else {
                    break;
                };
                let decision = Decision {
                    block: proposal.block.clone(),
                    certificate: certificate.clone(),
                };
                let preverified = proposal.validated;
                if !self.execute(decision, preverified) {
                    break;
                }
                changed = true;
            }
            let next = self.executed + 1;
            if self
                .slots
                .get(&next)
                .and_then(|s| s.proposal.as_ref())
                .is_some_and(|p| !p.votable())
            {
                let _ = self.validate_slot(next);
            }
            let heights: Vec<u64> = self.slots.keys().copied().collect();
            for height in heights {
                changed |= self.step_slot(height);
            }
            changed |= self.maybe_propose();
            if !changed {
                break;
            }
        }
        self.update_timer();
    }

    /// Execute a committed block: check its anchor (side-chain data may
    /// be missing), apply its transactions, apply the anchor, then hand the
    /// transactions to the side chain (deposits). Returns `false` if it did
    /// not execute: the anchor's data is missing (retried later), or the
    /// replica halted.
    pub(super) fn execute(&mut self, decision: Decision, preverified: bool) -> bool {
        let header = &decision.block.header;
        let height = header.height;
        assert_eq!(height, self.executed + 1, "blocks execute in order");
        if decision.block.check_body().is_err() || decision.certificate.block_hash != header.hash()
        {
            // Not the body its certified header commits to (every entry
            // point checks this; kept here so that no path can turn a
            // forged body into a halt). Drop it and ask a peer for the
            // committed block.
            if let Some(slot) = self.slots.get_mut(&height) {
                slot.proposal = None;
            }
            let me = self.me;
            self.ask_next_after(me);
            return false;
        }
        if header.previous_hash != self.last_hash || header.chain_id != self.chain_id {
            self.halted = Some("committed block does not extend the chain");
            return false;
        }
        // The anchor is checked first: it may have to wait for side-chain
        // data, and nothing may change before that is known. It is applied
        // after the ledger accepted the block, so a block the ledger
        // refuses leaves the side chain untouched too.
        if let Some(anchor) = &decision.block.anchor {
            match self.anchoring.check(height, anchor) {
                Ok(root) if root == header.dag_anchor_root => {}
                Err(AnchorError::NotReady) => return false,
                Ok(_) | Err(_) => {
                    self.halted = Some("anchor of a committed block differs");
                    return false;
                }
            }
        }
        let context = BlockContext {
            height,
            proposer: header.proposer,
            time_ms: header.time_ms,
        };
        let result = if preverified {
            self.ledger
                .apply_block_preverified(&context, &decision.block.transactions)
        } else {
            self.ledger
                .apply_block(&context, &decision.block.transactions)
        };
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(_) => {
                self.halted = Some("ledger rejects a committed block");
                return false;
            }
        };
        if outcome.state_root != header.state_root {
            self.halted = Some("state root of a committed block differs");
            return false;
        }
        let next_hash = outcome
            .next_validator_set
            .as_ref()
            .map_or(self.current_set_hash, |s| s.hash());
        if next_hash != header.next_validator_set_hash {
            self.halted = Some("next validator set of a committed block differs");
            return false;
        }
        if let Some(anchor) = &decision.block.anchor {
            // Checked above, so computed already; both leave in one batch.
            if self
                .anchoring
                .commit(height, anchor, header.dag_anchor_root)
                .is_err()
            {
                self.halted = Some("anchor of a committed block differs");
                return false;
            }
        }
        self.anchoring
            .on_executed(height, &decision.block.transactions);
        self.out.writes.extend(outcome.writes);
        self.out
            .writes
            .put(persist::decision_key(height), decision.encode());
        self.out.writes.delete(persist::slot_key(height));
        if let Some(set) = outcome.next_validator_set {
            self.current_set_hash = set.hash();
            self.out
                .writes
                .put(persist::set_key(height + 1), set.encode());
            self.sets.insert(height + 1, set);
            while self.sets.len() > VALIDATOR_SETS_RETAINED_MAX {
                if let Some((first, _)) = self.sets.pop_first() {
                    self.out.writes.delete(persist::set_key(first));
                }
            }
            // View changes of validators that left count no more.
            let current = self.ledger.validators();
            self.view_changes
                .retain(|signer, _| current.weight_of(signer).is_some());
        }
        self.executed = height;
        self.last_hash = decision.block.header.hash();
        self.last_time_ms = decision.block.header.time_ms;
        self.slots.remove(&height);
        let senders: BTreeSet<PublicKey> = decision
            .block
            .transactions
            .iter()
            .map(|tx| tx.sender)
            .collect();
        for sender in senders {
            self.clean_pool(sender);
        }
        self.decisions.insert(height, decision.clone());
        while self.decisions.len() > COMMITTED_BLOCKS_RETAINED_MAX {
            self.decisions.pop_first();
        }
        self.out.committed.push(decision);
        // Progress: the request timer restarts from its base value.
        self.attempts = 0;
        self.view_deadline = None;
        true
    }

    /// Drop `sender`'s pooled transactions that can no longer execute: used
    /// nonces, and a next transaction the sender can no longer pay for (so
    /// that an invalid transaction does not keep the request timer running).
    pub(super) fn clean_pool(&mut self, sender: PublicKey) {
        let account = self.ledger.account(&sender);
        let stale: Vec<(PublicKey, u64)> = self
            .pool
            .range((sender, 0)..(sender, account.nonce))
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            self.pool.remove(&key);
        }
        let Some(next) = self.pool.get(&(sender, account.nonce)) else {
            self.refresh_ready(sender);
            return;
        };
        let payable = match &next.payload {
            Payload::Transfer { amount, .. }
            | Payload::Bond { amount }
            | Payload::DagDeposit { amount } => amount
                .checked_add(next.fee)
                .is_some_and(|needed| needed <= account.balance),
            // Other payloads depend on more state: ask the ledger (this
            // verifies the signature once more).
            _ => self.ledger.check_transaction(next).is_ok(),
        };
        if !payable {
            self.pool.remove(&(sender, account.nonce));
        }
        self.refresh_ready(sender);
    }

    /// Up to `max` pooled transactions that can execute in order: each
    /// ready sender's run of consecutive nonces from its account's nonce,
    /// senders taken in key order from a rotating start. Transactions
    /// waiting for an earlier nonce are never looked at, so they cannot
    /// crowd out executable ones.
    ///
    /// Stops too once the candidates' encodings reach `bytes_max`, so large
    /// module transactions are not all executed for a block that can hold
    /// only a few of them.
    fn executable_candidates(&self, max: usize, bytes_max: usize) -> Vec<Transaction> {
        let start = self.propose_cursor.unwrap_or(PublicKey([0; 32]));
        let mut out = Vec::new();
        let mut bytes = 0usize;
        // Lazily: a block reads only as many senders as it needs.
        'senders: for sender in self.ready.range(start..).chain(self.ready.range(..start)) {
            let first = self.ledger.account(sender).nonce;
            let run = self
                .pool
                .range((*sender, first)..=(*sender, u64::MAX))
                .enumerate()
                .take_while(|(i, ((_, nonce), _))| *nonce == first + *i as u64)
                .map(|(_, (_, tx))| tx);
            for tx in run {
                if out.len() >= max || bytes >= bytes_max {
                    break 'senders;
                }
                bytes = bytes.saturating_add(transaction_bytes(tx));
                out.push(tx.clone());
            }
        }
        out
    }

    /// Propose the next block if this replica is the primary and has
    /// executable transactions or an anchor. Returns whether it proposed.
    pub(super) fn maybe_propose(&mut self) -> bool {
        if self.status != Status::Normal || !self.is_validator() || self.primary() != self.me {
            return false;
        }
        let height = self.executed + 1;
        if height <= self.view_floor {
            // Catch up to what the new view settled first.
            return false;
        }
        if let Some(slot) = self.slots.get(&height) {
            if slot.proposal.is_some()
                || slot.certificate.is_some()
                || slot.prepare_vote.is_some_and(|(v, _)| v == self.view)
            {
                return false;
            }
        }
        // Re-proposals of a new view come first.
        if self
            .slots
            .values()
            .any(|s| s.proposal.as_ref().is_some_and(|p| p.certified))
        {
            return false;
        }
        let context = BlockContext {
            height,
            proposer: self.me,
            time_ms: self.now_ms.max(self.last_time_ms),
        };
        // Twice what a block holds, in count and in bytes: room for
        // candidates the ledger drops.
        let candidates = self.executable_candidates(
            self.block_transactions_max.saturating_mul(2),
            BLOCK_BYTES_MAX.saturating_mul(2),
        );
        // Pool transactions were verified on admission.
        let (mut kept, rejected) = self.ledger.select_valid_preverified(&context, candidates);
        for (tx, error) in rejected {
            if !matches!(error, TxError::FutureNonce { .. }) {
                self.pool.remove(&(tx.sender, tx.nonce));
                self.refresh_ready(tx.sender);
            }
        }
        kept.truncate(self.block_transactions_max);
        // The byte budget: the longest prefix within it (a prefix of an
        // executable sequence executes alike; the rest stay pooled).
        let mut bytes = 0usize;
        let within = kept
            .iter()
            .take_while(|tx| {
                bytes = bytes.saturating_add(transaction_bytes(tx));
                bytes <= BLOCK_BYTES_MAX
            })
            .count();
        kept.truncate(within);
        // The next block starts after the last sender this one serves.
        self.propose_cursor = kept.last().and_then(|tx| {
            self.ready
                .range((
                    core::ops::Bound::Excluded(tx.sender),
                    core::ops::Bound::Unbounded,
                ))
                .next()
                .copied()
        });
        let anchor = self
            .anchoring
            .propose(height, self.now_ms, !kept.is_empty());
        if kept.is_empty() && anchor.is_none() {
            return false;
        }
        let (anchor, dag_anchor_root, dag_anchor_hash) = match anchor {
            Some((anchor, root)) => {
                let hash = anchor.hash();
                (Some(anchor), root, hash)
            }
            None => (None, Hash::ZERO, Hash::ZERO),
        };
        let (state_root, next_set) = match self.ledger.preview_block_preverified(&context, &kept) {
            Ok(preview) => preview,
            Err(_) => return false,
        };
        let header = BlockHeader {
            chain_id: self.chain_id,
            height,
            previous_hash: self.last_hash,
            tx_root: Block::compute_tx_root(&kept),
            tx_count: kept.len() as u64,
            state_root,
            dag_anchor_root,
            dag_anchor_hash,
            validator_set_hash: self.current_set_hash,
            next_validator_set_hash: next_set.map_or(self.current_set_hash, |s| s.hash()),
            time_ms: context.time_ms,
            proposer: self.me,
            view: self.view,
        };
        let block = Block {
            header,
            transactions: kept,
            anchor,
        };
        let hash = block.header.hash();
        let pre_prepare =
            PrePrepare::new_signed(&self.keypair, self.chain_id, self.view, block.clone());
        let view = self.view;
        let slot = self.slots.entry(height).or_default();
        slot.view = view;
        slot.proposal = Some(Proposal {
            block,
            hash,
            pre_prepare: Some(pre_prepare.clone()),
            validated: true,
            certified: false,
            anchor_pending: false,
        });
        self.persist_slot(height);
        self.send_after_persist(Recipient::AllValidators, Message::PrePrepare(pre_prepare));
        self.step_slot(height);
        true
    }
}

/// One transaction's share of a block's bytes: its canonical encoding.
fn transaction_bytes(tx: &Transaction) -> usize {
    tx.encode().len()
}

/// Refuse transactions whose encodings exceed [`BLOCK_BYTES_MAX`] (stops
/// counting at the first transaction past the budget).
fn check_block_bytes(transactions: &[Transaction]) -> Result<(), ProposalError> {
    let mut bytes = 0usize;
    for tx in transactions {
        bytes = bytes.saturating_add(transaction_bytes(tx));
        if bytes > BLOCK_BYTES_MAX {
            return Err(ProposalError::TooManyBytes(bytes));
        }
    }
    Ok(())
}
