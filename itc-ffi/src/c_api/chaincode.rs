//! ChainCode through the C ABI: the user's data node ([`ItcDataNode`]), a
//! contribution's summary ([`ItcContribution`]), the company's transaction
//! bodies and a decoded campaign result ([`ItcCampaignResult`]). The dev
//! chain's ChainCode functions (`itc_dev_chain_submit_chaincode`, ...) are
//! with the other dev-chain functions.
//!
//! Transaction bodies and campaign bytes use the caller-buffer convention
//! (`out`, `capacity`, `written`); arrays of integers use it too, with
//! `capacity` and `*written` counted in elements.

use super::keys::{ITC_HASH_LEN, ITC_PUBLIC_KEY_LEN};
use super::{
    clear_handle_out, guard, handle_ref, read_array, read_slice, store_handle, write_array,
    write_buffer, write_value, write_values, Handle, ItcStatus,
};
use crate::api::chaincode::{self as api, ContributionSummary, DataNode, OpenCampaignParams};
use crate::error::ItcError;
use crate::facade::chaincode;
use itc_chaincode::campaign::{self, CampaignOutcome, CampaignResult, FailReason};
use std::sync::Arc;

/// Bytes of a lamp event record ([`itc_chaincode_lamp_event`]).
pub const ITC_LAMP_EVENT_LEN: usize = 16;
const _: () = assert!(ITC_LAMP_EVENT_LEN == api::LAMP_EVENT_BYTES);
/// Most keys `itc_data_node_unmask_tx_body` takes as contributors.
pub const ITC_CHAINCODE_COHORT_MAX: usize = 1024;
const _: () = assert!(ITC_CHAINCODE_COHORT_MAX == campaign::COHORT_MAX as usize);

/// A campaign's outcome.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItcCampaignOutcome {
    /// Not closed yet.
    Open = 0,
    /// The aggregate was released and contributors were paid.
    Released = 1,
    /// Fewer valid contributors than the minimum: nothing released, the
    /// company refunded.
    BelowMinimum = 2,
    /// A contributor did not unmask in time: nothing released, refunded.
    FailedMissingUnmask = 3,
    /// The unmasked sum did not open the commitments: nothing released,
    /// refunded.
    FailedSumMismatch = 4,
    /// The contract could not be used at close: nothing released, refunded.
    FailedContractUnusable = 5,
}

impl From<CampaignOutcome> for ItcCampaignOutcome {
    fn from(outcome: CampaignOutcome) -> Self {
        match outcome {
            CampaignOutcome::Open => Self::Open,
            CampaignOutcome::Released => Self::Released,
            CampaignOutcome::BelowMinimum => Self::BelowMinimum,
            CampaignOutcome::Failed(FailReason::MissingUnmask) => Self::FailedMissingUnmask,
            CampaignOutcome::Failed(FailReason::SumMismatch) => Self::FailedSumMismatch,
            CampaignOutcome::Failed(FailReason::ContractUnusable) => Self::FailedContractUnusable,
        }
    }
}

impl ItcCampaignOutcome {
    /// The outcome's stable lower-case name, as the UniFFI bindings give it:
    /// `"open"`, `"released"`, `"below_minimum"`, `"failed_missing_unmask"`,
    /// `"failed_sum_mismatch"` or `"failed_contract_unusable"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Released => "released",
            Self::BelowMinimum => "below_minimum",
            Self::FailedMissingUnmask => "failed_missing_unmask",
            Self::FailedSumMismatch => "failed_sum_mismatch",
            Self::FailedContractUnusable => "failed_contract_unusable",
        }
    }
}

/// What a company asks for when it opens a campaign (see
/// [`itc_chaincode_open_tx_body`]).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ItcOpenCampaignParams {
    /// The deployed contract's hash ([`ITC_HASH_LEN`] bytes).
    pub contract: *const u8,
    /// The schema's canonical bytes (e.g. [`itc_chaincode_lamp_schema`]).
    pub schema: *const u8,
    /// Length of `schema`.
    pub schema_len: usize,
    /// ε in thousandths per schema field.
    pub epsilon_milli: *const u32,
    /// Number of entries in `epsilon_milli`.
    pub epsilon_count: usize,
    /// Fewer valid contributors than this release nothing.
    pub min_cohort: u32,
    /// Most members; the company escrows `price * max_cohort`.
    pub max_cohort: u32,
    /// Paid to each valid contributor.
    pub price: u64,
    /// Last height at which members may join.
    pub join_deadline: u64,
    /// Last height at which members may contribute.
    pub contribute_deadline: u64,
    /// Last height at which contributors may unmask.
    pub unmask_deadline: u64,
    /// Free number that tells apart two otherwise equal campaigns.
    pub label: u64,
}

handle_type! {
    /// The user's data node (opaque): records, mask key and privacy budget,
    /// in memory. Create with [`itc_data_node_new`], free with
    /// [`itc_data_node_free`]. Internally locked: any function may be called
    /// on the same handle from several threads, except the free function.
    pub struct ItcDataNode {
        inner: Arc<DataNode>,
    }
    tag = b"itc:dnod", kind = "data node";
}

handle_type! {
    /// What one contribution shared (opaque, immutable). Made by
    /// [`itc_data_node_contribute`], freed with [`itc_contribution_free`].
    pub struct ItcContribution {
        summary: ContributionSummary,
    }
    tag = b"itc:cctr", kind = "contribution";
}

handle_type! {
    /// A decoded campaign result (opaque, immutable). Made by
    /// [`itc_campaign_result_decode`], freed with [`itc_campaign_result_free`].
    pub struct ItcCampaignResult {
        result: CampaignResult,
    }
    tag = b"itc:ccrs", kind = "campaign result";
}

/// Borrow a data node.
///
/// # Safety
/// As [`handle_ref`].
unsafe fn node<'a>(node: *const ItcDataNode) -> Result<&'a DataNode, ItcError> {
    // SAFETY: forwarded contract.
    Ok(&unsafe { handle_ref(node, "node")? }.inner)
}

/// Read a 32-byte campaign id.
///
/// # Safety
/// `ptr` must be null or point to [`ITC_HASH_LEN`] readable bytes.
unsafe fn id(ptr: *const u8) -> Result<Vec<u8>, ItcError> {
    // SAFETY: forwarded contract.
    Ok(unsafe { read_array::<ITC_HASH_LEN>(ptr, "campaign_id")? }.to_vec())
}

/// A new data node for the account `account_public_key`
/// ([`ITC_PUBLIC_KEY_LEN`] bytes) with a privacy budget of `budget_milli`
/// thousandths of ε and a fresh mask key from the OS's randomness.
///
/// # Safety
/// `account_public_key` must point to [`ITC_PUBLIC_KEY_LEN`] readable
/// bytes; `out` writable. On success `*out` is a handle to free with
/// [`itc_data_node_free`].
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_new(
    account_public_key: *const u8,
    budget_milli: u32,
    out: *mut *mut ItcDataNode,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { read_array::<ITC_PUBLIC_KEY_LEN>(account_public_key, "account")? };
        let inner = DataNode::new(key.to_vec(), budget_milli)?;
        // SAFETY: the caller's contract above.
        unsafe {
            store_handle(
                out,
                ItcDataNode {
                    magic: ItcDataNode::MAGIC,
                    inner,
                },
            )
        }
    })
}

/// Free a data node; null is a no-op.
///
/// # Safety
/// `node` must be null or a live data node handle, not in use elsewhere.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_free(node: *mut ItcDataNode) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(node, "node") }
}

/// Store one record (at most 4096 bytes).
///
/// # Safety
/// `node` must be a live handle; `record` must point to `len` readable
/// bytes (null if 0).
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_add_record(
    node: *const ItcDataNode,
    record: *const u8,
    len: usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let (node, record) = unsafe { (self::node(node)?, read_slice(record, len, "record")?) };
        node.add_record(record.to_vec())
    })
}

/// The number of stored records.
///
/// # Safety
/// `node` must be a live handle; `out` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_record_count(
    node: *const ItcDataNode,
    out: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { write_value(out, self::node(node)?.record_count(), "out") }
    })
}

/// The node's X25519 mask key ([`ITC_PUBLIC_KEY_LEN`] bytes).
///
/// # Safety
/// `node` must be a live handle; `out` must point to
/// [`ITC_PUBLIC_KEY_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_mask_key(
    node: *const ItcDataNode,
    out: *mut u8,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let key = unsafe { self::node(node)? }.mask_key();
        let key: [u8; ITC_PUBLIC_KEY_LEN] = crate::facade::array(&key, "mask key")?;
        // SAFETY: the caller's contract above.
        unsafe { write_array(out, &key, "out") }
    })
}

/// The `Join` transaction body for a campaign, into a caller buffer.
///
/// # Safety
/// `node` must be a live handle; `campaign_id` must point to
/// [`ITC_HASH_LEN`] readable bytes; `out` null or `capacity` writable
/// bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_join_tx_body(
    node: *const ItcDataNode,
    campaign_id: *const u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let body = unsafe { self::node(node)?.join_tx_body(id(campaign_id)?)? };
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&body, out, capacity, written) }
    })
}

/// Run the campaign's contract over the stored records and make the
/// `Contribute` transaction; the budget is charged first, so a node
/// contributes at most once per campaign. `campaign_record` and `members`
/// are the bytes of [`itc_dev_chain_campaign_record`] and
/// [`itc_dev_chain_campaign_members`](super::dev_chain::itc_dev_chain_campaign_members);
/// `code` is the contract; `height` the chain height now.
///
/// Refusals: `ITC_STATUS_ALREADY_CONTRIBUTED` (second contribution),
/// `ITC_STATUS_BUDGET_EXHAUSTED` (nothing shared), `ITC_STATUS_DECODE_FAILED`,
/// `ITC_STATUS_CHAIN_CODE_REFUSED` (not a member, wrong code, contract
/// unusable).
///
/// [`itc_dev_chain_campaign_record`]: super::dev_chain::itc_dev_chain_campaign_record
///
/// # Safety
/// `node` must be a live handle; `campaign_id` [`ITC_HASH_LEN`] readable
/// bytes; each buffer its length in readable bytes; `out` writable. On
/// success `*out` is a handle to free with [`itc_contribution_free`].
///
/// Thread safety: safe from any thread.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn itc_data_node_contribute(
    node: *const ItcDataNode,
    campaign_id: *const u8,
    campaign_record: *const u8,
    campaign_record_len: usize,
    members: *const u8,
    members_len: usize,
    code: *const u8,
    code_len: usize,
    height: u64,
    out: *mut *mut ItcContribution,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above.
        let (node, id, record, members, code) = unsafe {
            (
                self::node(node)?,
                id(campaign_id)?,
                read_slice(campaign_record, campaign_record_len, "campaign_record")?,
                read_slice(members, members_len, "members")?,
                read_slice(code, code_len, "code")?,
            )
        };
        let summary =
            node.contribute(id, record.to_vec(), members.to_vec(), code.to_vec(), height)?;
        // SAFETY: the caller's contract above.
        unsafe {
            store_handle(
                out,
                ItcContribution {
                    magic: ItcContribution::MAGIC,
                    summary,
                },
            )
        }
    })
}

/// Free a contribution; null is a no-op.
///
/// # Safety
/// `contribution` must be null or a live contribution handle.
#[no_mangle]
pub unsafe extern "C" fn itc_contribution_free(contribution: *mut ItcContribution) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(contribution, "contribution") }
}

/// Borrow a contribution's summary.
///
/// # Safety
/// As [`handle_ref`].
unsafe fn summary<'a>(
    contribution: *const ItcContribution,
) -> Result<&'a ContributionSummary, ItcError> {
    // SAFETY: forwarded contract.
    Ok(&unsafe { handle_ref(contribution, "contribution")? }.summary)
}

/// The `Contribute` transaction body, into a caller buffer.
///
/// # Safety
/// `contribution` must be a live handle; `out` null or `capacity`
/// writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_contribution_tx_body(
    contribution: *const ItcContribution,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe {
            let summary = summary(contribution)?;
            write_buffer(&summary.tx_body, out, capacity, written)
        }
    })
}

/// The cells the contract computed before noise and masking (never sent),
/// into a caller array of `capacity` elements; `*written` is the count.
///
/// # Safety
/// `contribution` must be a live handle; `out` null or `capacity` writable
/// `uint64_t`; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_contribution_clear_cells(
    contribution: *const ItcContribution,
    out: *mut u64,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe {
            let summary = summary(contribution)?;
            write_values(&summary.clear_cells, out, capacity, written)
        }
    })
}

/// The ε charged and the budget left, in thousandths.
///
/// # Safety
/// `contribution` must be a live handle; both outputs writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_contribution_epsilon(
    contribution: *const ItcContribution,
    out_epsilon_milli: *mut u32,
    out_remaining_milli: *mut u32,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe {
            let summary = summary(contribution)?;
            write_value(
                out_epsilon_milli,
                summary.epsilon_milli,
                "out_epsilon_milli",
            )?;
            write_value(
                out_remaining_milli,
                summary.remaining_milli,
                "out_remaining_milli",
            )
        }
    })
}

/// The `Unmask` transaction body: the pair seeds this node shares with the
/// members that did not contribute. `contributed` holds
/// `contributed_count` account keys back to back (from
/// [`itc_dev_chain_campaign_contributors`](super::dev_chain::itc_dev_chain_campaign_contributors)).
///
/// # Safety
/// `node` must be a live handle; `campaign_id` [`ITC_HASH_LEN`] readable
/// bytes; `members` `members_len` readable bytes; `contributed`
/// `contributed_count * ITC_PUBLIC_KEY_LEN` readable bytes (null if 0);
/// `out` null or `capacity` writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn itc_data_node_unmask_tx_body(
    node: *const ItcDataNode,
    campaign_id: *const u8,
    members: *const u8,
    members_len: usize,
    contributed: *const u8,
    contributed_count: usize,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        if contributed_count > ITC_CHAINCODE_COHORT_MAX {
            return Err(ItcError::invalid_argument("too many contributors"));
        }
        // SAFETY: the caller's contract above.
        let (node, id, members, contributed) = unsafe {
            (
                self::node(node)?,
                id(campaign_id)?,
                read_slice(members, members_len, "members")?,
                read_slice(
                    contributed,
                    contributed_count * ITC_PUBLIC_KEY_LEN,
                    "contributed",
                )?,
            )
        };
        let contributed = contributed
            .chunks_exact(ITC_PUBLIC_KEY_LEN)
            .map(<[u8]>::to_vec)
            .collect();
        let body = node.unmask_tx_body(id, members.to_vec(), contributed)?;
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&body, out, capacity, written) }
    })
}

/// The budget's total and what is left, in thousandths of ε.
///
/// # Safety
/// `node` must be a live handle; both outputs writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_budget(
    node: *const ItcDataNode,
    out_total_milli: *mut u32,
    out_remaining_milli: *mut u32,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe {
            let node = self::node(node)?;
            write_value(
                out_total_milli,
                node.budget_total_milli(),
                "out_total_milli",
            )?;
            write_value(
                out_remaining_milli,
                node.budget_remaining_milli(),
                "out_remaining_milli",
            )
        }
    })
}

/// The number of charges in the budget's history (what was shared).
///
/// # Safety
/// `node` must be a live handle; `out` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_budget_history_len(
    node: *const ItcDataNode,
    out: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { write_value(out, self::node(node)?.budget_history().len(), "out") }
    })
}

/// Charge number `index` (oldest first) of the budget's history: the
/// campaign ([`ITC_HASH_LEN`] bytes), ε charged in thousandths, cells
/// shared and the chain height.
///
/// # Safety
/// `node` must be a live handle; `out_campaign` [`ITC_HASH_LEN`] writable
/// bytes; the other outputs writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_data_node_budget_entry(
    node: *const ItcDataNode,
    index: usize,
    out_campaign: *mut u8,
    out_epsilon_milli: *mut u32,
    out_cells: *mut u32,
    out_height: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let history = unsafe { self::node(node)? }.budget_history();
        let entry = history.get(index).ok_or_else(|| {
            ItcError::invalid_argument(format!("index {index} beyond {} charges", history.len()))
        })?;
        let campaign: [u8; ITC_HASH_LEN] = crate::facade::array(&entry.campaign, "campaign")?;
        // SAFETY: the caller's contract above.
        unsafe {
            write_array(out_campaign, &campaign, "out_campaign")?;
            write_value(out_epsilon_milli, entry.epsilon_milli, "out_epsilon_milli")?;
            write_value(out_cells, entry.cells, "out_cells")?;
            write_value(out_height, entry.height, "out_height")
        }
    })
}

/// The bundled reference contract (`lamp_analytics.wasm`), into a caller
/// buffer.
///
/// # Safety
/// `out` null or `capacity` writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_chaincode_lamp_contract(
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    guard(|| unsafe { write_buffer(&api::lamp_analytics_contract(), out, capacity, written) })
}

/// The reference contract's schema (canonical bytes), into a caller
/// buffer.
///
/// # Safety
/// `out` null or `capacity` writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_chaincode_lamp_schema(
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    guard(|| unsafe { write_buffer(&api::lamp_analytics_schema(), out, capacity, written) })
}

/// One lamp event record for the reference contract
/// ([`ITC_LAMP_EVENT_LEN`] bytes).
///
/// # Safety
/// `out` must point to [`ITC_LAMP_EVENT_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_chaincode_lamp_event(
    time_s: u64,
    model: u32,
    on: bool,
    out: *mut u8,
) -> ItcStatus {
    guard(|| {
        let event: [u8; ITC_LAMP_EVENT_LEN] = chaincode::lamp_event(time_s, model, on);
        // SAFETY: the caller's contract above.
        unsafe { write_array(out, &event, "out") }
    })
}

/// The hash a contract is deployed under ([`ITC_HASH_LEN`] bytes).
///
/// # Safety
/// `code` must point to `code_len` readable bytes; `out` to
/// [`ITC_HASH_LEN`] writable bytes.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_chaincode_contract_hash(
    code: *const u8,
    code_len: usize,
    out: *mut u8,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let code = unsafe { read_slice(code, code_len, "code")? };
        let hash: [u8; ITC_HASH_LEN] = chaincode::contract_hash(code);
        // SAFETY: the caller's contract above.
        unsafe { write_array(out, &hash, "out") }
    })
}

/// The `Deploy` transaction body for a contract, into a caller buffer.
///
/// # Safety
/// `code` must point to `code_len` readable bytes; `out` null or
/// `capacity` writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_chaincode_deploy_tx_body(
    code: *const u8,
    code_len: usize,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let code = unsafe { read_slice(code, code_len, "code")? };
        let body = chaincode::deploy_tx_body(code)?;
        // SAFETY: the caller's contract above.
        unsafe { write_buffer(&body, out, capacity, written) }
    })
}

/// The `Open` transaction body for `params` sent by `company_public_key`,
/// into a caller buffer, and the campaign's id into `out_campaign_id`
/// (written on success only). Deterministic: a call repeated with a larger
/// buffer gives the same body.
///
/// # Safety
/// `company_public_key` must point to [`ITC_PUBLIC_KEY_LEN`] readable
/// bytes; `params` to a readable [`ItcOpenCampaignParams`] whose pointers
/// follow its field docs; `out_campaign_id` [`ITC_HASH_LEN`] writable
/// bytes; `out` null or `capacity` writable bytes; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_chaincode_open_tx_body(
    company_public_key: *const u8,
    params: *const ItcOpenCampaignParams,
    out_campaign_id: *mut u8,
    out: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        if params.is_null() {
            return Err(ItcError::NullPointer {
                argument: "params".into(),
            });
        }
        // SAFETY: non-null and readable by the caller's contract.
        let p = unsafe { &*params };
        if p.epsilon_count > itc_chaincode::schema::FIELDS_MAX {
            return Err(ItcError::invalid_argument("too many epsilon entries"));
        }
        // SAFETY: the caller's contract above.
        let (company, contract, schema) = unsafe {
            (
                read_array::<ITC_PUBLIC_KEY_LEN>(company_public_key, "company_public_key")?,
                read_array::<ITC_HASH_LEN>(p.contract, "params.contract")?,
                read_slice(p.schema, p.schema_len, "params.schema")?,
            )
        };
        let epsilon = if p.epsilon_count == 0 {
            Vec::new()
        } else if p.epsilon_milli.is_null() {
            return Err(ItcError::NullPointer {
                argument: "params.epsilon_milli".into(),
            });
        } else {
            // SAFETY: non-null, `epsilon_count` readable entries by contract.
            unsafe { std::slice::from_raw_parts(p.epsilon_milli, p.epsilon_count) }.to_vec()
        };
        let opened = api::open_campaign_tx_body(
            company.to_vec(),
            OpenCampaignParams {
                contract: contract.to_vec(),
                schema: schema.to_vec(),
                epsilon_milli: epsilon,
                min_cohort: p.min_cohort,
                max_cohort: p.max_cohort,
                price: p.price,
                join_deadline: p.join_deadline,
                contribute_deadline: p.contribute_deadline,
                unmask_deadline: p.unmask_deadline,
                label: p.label,
            },
        )?;
        let id: [u8; ITC_HASH_LEN] = crate::facade::array(&opened.campaign_id, "campaign id")?;
        // SAFETY: the caller's contract above.
        unsafe {
            write_buffer(&opened.tx_body, out, capacity, written)?;
            write_array(out_campaign_id, &id, "out_campaign_id")
        }
    })
}

/// Decode a campaign result (from
/// [`itc_dev_chain_campaign_result`](super::dev_chain::itc_dev_chain_campaign_result)).
///
/// # Safety
/// `bytes` must point to `len` readable bytes; `out` writable. On success
/// `*out` is a handle to free with [`itc_campaign_result_free`].
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_campaign_result_decode(
    bytes: *const u8,
    len: usize,
    out: *mut *mut ItcCampaignResult,
) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { clear_handle_out(out) };
    guard(|| {
        // SAFETY: the caller's contract above.
        let bytes = unsafe { read_slice(bytes, len, "bytes")? };
        let result = campaign::decode_result(bytes)?;
        // SAFETY: the caller's contract above.
        unsafe {
            store_handle(
                out,
                ItcCampaignResult {
                    magic: ItcCampaignResult::MAGIC,
                    result,
                },
            )
        }
    })
}

/// Free a campaign result; null is a no-op.
///
/// # Safety
/// `result` must be null or a live campaign result handle.
#[no_mangle]
pub unsafe extern "C" fn itc_campaign_result_free(result: *mut ItcCampaignResult) -> ItcStatus {
    // SAFETY: the caller's contract above.
    unsafe { super::release(result, "result") }
}

/// Borrow a result.
///
/// # Safety
/// As [`handle_ref`].
unsafe fn result<'a>(result: *const ItcCampaignResult) -> Result<&'a CampaignResult, ItcError> {
    // SAFETY: forwarded contract.
    Ok(&unsafe { handle_ref(result, "result")? }.result)
}

/// A result's summary: outcome, valid contributors, amount paid to each
/// and amount refunded to the company.
///
/// # Safety
/// `result` must be a live handle; every output writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_campaign_result_summary(
    result: *const ItcCampaignResult,
    out_outcome: *mut ItcCampaignOutcome,
    out_contributors: *mut u32,
    out_paid_each: *mut u64,
    out_refunded: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe {
            let r = self::result(result)?;
            write_value(out_outcome, r.outcome.into(), "out_outcome")?;
            write_value(out_contributors, r.contributors, "out_contributors")?;
            write_value(out_paid_each, r.paid_each.0, "out_paid_each")?;
            write_value(out_refunded, r.refunded.0, "out_refunded")
        }
    })
}

/// The noisy aggregate per cell (empty unless released), into a caller
/// array of `capacity` elements; `*written` is the count.
///
/// # Safety
/// `result` must be a live handle; `out` null or `capacity` writable
/// `int64_t`; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_campaign_result_aggregate(
    result: *const ItcCampaignResult,
    out: *mut i64,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { write_values(&self::result(result)?.aggregate, out, capacity, written) }
    })
}

/// The contract's `finalize` outputs (empty unless released and finalize
/// succeeded), into a caller array of `capacity` elements; `*written` is
/// the count.
///
/// # Safety
/// `result` must be a live handle; `out` null or `capacity` writable
/// `int64_t`; `written` writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub unsafe extern "C" fn itc_campaign_result_outputs(
    result: *const ItcCampaignResult,
    out: *mut i64,
    capacity: usize,
    written: *mut usize,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        unsafe { write_values(&self::result(result)?.outputs, out, capacity, written) }
    })
}

/// Check a payment receipt proof (from
/// [`itc_dev_chain_payment_receipt_proof`](super::dev_chain::itc_dev_chain_payment_receipt_proof))
/// against a header (canonical bytes) the caller trusts, e.g. one whose
/// hash its light client verified. `*out_paid` is whether the member was
/// paid, `*out_amount` the proven amount (0 if not paid).
/// `ITC_STATUS_PROOF_REJECTED` if the proof does not hold.
///
/// # Safety
/// `header` and `proof` must point to their lengths in readable bytes;
/// `campaign_id` and `member` to 32 readable bytes each; outputs writable.
///
/// Thread safety: safe from any thread.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn itc_chaincode_verify_payment_receipt(
    header: *const u8,
    header_len: usize,
    campaign_id: *const u8,
    member: *const u8,
    proof: *const u8,
    proof_len: usize,
    out_paid: *mut bool,
    out_amount: *mut u64,
) -> ItcStatus {
    guard(|| {
        // SAFETY: the caller's contract above.
        let (header, id, member, proof) = unsafe {
            (
                read_slice(header, header_len, "header")?,
                read_array::<ITC_HASH_LEN>(campaign_id, "campaign_id")?,
                read_array::<ITC_PUBLIC_KEY_LEN>(member, "member")?,
                read_slice(proof, proof_len, "proof")?,
            )
        };
        let amount = chaincode::verify_payment_receipt(header, &id, &member, proof)?;
        // SAFETY: the caller's contract above.
        unsafe {
            write_value(out_paid, amount.is_some(), "out_paid")?;
            write_value(out_amount, amount.unwrap_or(0), "out_amount")
        }
    })
}
