//! An in-memory ledger: the same rules as the SQLite ledger, behind one mutex, gone when
//! dropped.

use super::members::{
    CheckInOutcome, CheckInRequest, EarlierCheckIns, check_request, free_card_serial, hour_of,
    new_member, refusal, visit_of_check_in,
};
use super::record::VoucherRecord;
use super::{
    Account, Ledger, LedgerError, LedgerEvent, Movement, MovementRequest, Offer, Receipt,
    ReceiptId, RedeemOutcome, RedeemRequest, VisitEvent, check_instant, check_merchant, check_void,
    history_of, ledger_instant, recorded_movement, recorded_receipt, replay, visit_of,
};
use crate::ids::{MemberId, MerchantId, StoreId, VoucherId};
use crate::membership::enrollment::Pseudonym;
use crate::membership::member::{CardNumber, Member};
use crate::voucher::Voucher;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
struct State {
    vouchers: HashMap<VoucherId, VoucherRecord>,
    /// Receipt `n` at index `n - 1`, with when it was voided.
    receipts: Vec<(Receipt, Option<DateTime<Utc>>)>,
    receipt_keys: HashMap<String, ReceiptId>,
    /// Redemptions that count, per voucher and member.
    member_uses: HashMap<(VoucherId, MemberId), u32>,
    accounts: HashMap<MemberId, Account>,
    movements: Vec<Movement>,
    movement_keys: HashMap<String, usize>,
    visits: Vec<VisitEvent>,
    /// Members in order of enrollment, with their pseudonyms.
    members: Vec<(Pseudonym, Member)>,
    member_index: HashMap<MemberId, usize>,
    card_serials: HashMap<u64, usize>,
    /// Every check-in by member and store.
    check_ins: HashMap<(MemberId, StoreId), Vec<RecordedCheckIn>>,
    /// Each member's latest marketing choice: opted out, and when.
    opt_outs: HashMap<MemberId, (bool, DateTime<Utc>)>,
    /// Personal vouchers, keyed by voucher.
    offers: HashMap<VoucherId, Offer>,
}

/// A check-in as recorded: its clock hour and its code's step (`None` for a printed code).
type RecordedCheckIn = (u64, Option<u64>);

/// A ledger held in memory. Thread-safe; one mutex serialises every operation.
pub struct MemoryLedger {
    merchant: MerchantId,
    state: Mutex<State>,
}

impl MemoryLedger {
    /// An empty ledger for `merchant`.
    pub fn new(merchant: MerchantId) -> Self {
        MemoryLedger {
            merchant,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every change is
        // computed first and written with infallible assignments.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Ledger for MemoryLedger {
    fn merchant(&self) -> MerchantId {
        self.merchant
    }

    fn record_issue(&self, voucher: &Voucher, at: DateTime<Utc>) -> Result<(), LedgerError> {
        check_instant(at)?;
        check_merchant(self.merchant, voucher.merchant)?;
        let mut state = self.lock();
        let record = VoucherRecord::issued(state.vouchers.get(&voucher.id).cloned(), voucher, at)?;
        if let (Some(member), Some(issued_at)) = (voucher.member, record.issued_at) {
            state.offers.entry(voucher.id).or_insert(Offer {
                voucher: voucher.id,
                member,
                campaign: voucher.campaign,
                issued_at,
            });
        }
        state.vouchers.insert(voucher.id, record);
        Ok(())
    }

    fn redeem(&self, request: &RedeemRequest<'_>) -> Result<RedeemOutcome, LedgerError> {
        check_instant(request.acceptance.at())?;
        let voucher = request.acceptance.voucher();
        check_merchant(self.merchant, voucher.merchant)?;
        let mut state = self.lock();
        let key = request.idempotency_key.as_str();
        if let Some(id) = state.receipt_keys.get(key) {
            let (receipt, voided) = &state.receipts[id.0 as usize - 1];
            return replay(receipt.clone(), voided.is_some(), request);
        }
        let member = request.acceptance.member();
        let member_uses = match member {
            Some(m) => state
                .receipts
                .iter()
                .filter(|(r, voided)| {
                    r.voucher == voucher.id && r.member == Some(m) && voided.is_none()
                })
                .count() as u32,
            None => 0,
        };
        let mut record =
            VoucherRecord::for_redemption(state.vouchers.get(&voucher.id).cloned(), voucher);
        let admitted = match record.admit(member, member_uses, request.requested_minor()) {
            Ok(admitted) => admitted,
            Err(reason) => return Ok(RedeemOutcome::Refused { reason }),
        };
        record.apply_redemption(admitted);
        let id = ReceiptId(state.receipts.len() as u64 + 1);
        let receipt = recorded_receipt(id, request, admitted.amount_minor);
        state.vouchers.insert(voucher.id, record);
        if let Some(m) = member {
            *state.member_uses.entry((voucher.id, m)).or_default() += 1;
        }
        state.receipt_keys.insert(key.to_owned(), receipt.id);
        state.receipts.push((receipt.clone(), None));
        state
            .visits
            .push(visit_of(request.acceptance, admitted.amount_minor));
        Ok(RedeemOutcome::Redeemed {
            receipt,
            replayed: false,
        })
    }

    fn void(&self, receipt: ReceiptId, at: DateTime<Utc>) -> Result<VoucherRecord, LedgerError> {
        check_instant(at)?;
        let mut state = self.lock();
        let index = usize::try_from(receipt.0)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .filter(|i| *i < state.receipts.len())
            .ok_or(LedgerError::UnknownReceipt(receipt))?;
        let (found, voided) = &state.receipts[index];
        check_void(receipt, found.at, voided.is_some(), at)?;
        let (voucher, amount, member) = (found.voucher, found.amount_minor, found.member);
        let mut record = state.vouchers.get(&voucher).cloned().ok_or_else(|| {
            LedgerError::Corrupt(format!("receipt {receipt} names unknown voucher {voucher}"))
        })?;
        record.apply_void(amount).map_err(LedgerError::Corrupt)?;
        if let Some(m) = member
            && let Some(uses) = state.member_uses.get_mut(&(voucher, m))
        {
            *uses = uses.saturating_sub(1);
        }
        state.receipts[index].1 = Some(ledger_instant(at));
        state.vouchers.insert(voucher, record.clone());
        Ok(record)
    }

    fn revoke(&self, voucher: VoucherId, at: DateTime<Utc>) -> Result<(), LedgerError> {
        check_instant(at)?;
        let mut state = self.lock();
        let record = state
            .vouchers
            .entry(voucher)
            .or_insert_with(|| VoucherRecord::new(voucher, None));
        if record.revoked_at.is_some() {
            return Err(LedgerError::AlreadyRevoked(voucher));
        }
        record.revoked_at = Some(at);
        Ok(())
    }

    fn record(&self, voucher: VoucherId) -> Result<Option<VoucherRecord>, LedgerError> {
        Ok(self.lock().vouchers.get(&voucher).cloned())
    }

    fn receipt(&self, id: ReceiptId) -> Result<Option<Receipt>, LedgerError> {
        let state = self.lock();
        Ok(usize::try_from(id.0)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| state.receipts.get(i))
            .map(|(r, _)| r.clone()))
    }

    fn history(&self, voucher: VoucherId) -> Result<Vec<LedgerEvent>, LedgerError> {
        let state = self.lock();
        let receipts = state
            .receipts
            .iter()
            .filter(|(r, _)| r.voucher == voucher)
            .cloned();
        let events = history_of(state.vouchers.get(&voucher), receipts);
        Ok(events)
    }

    fn apply(&self, request: &MovementRequest) -> Result<Movement, LedgerError> {
        check_instant(request.at)?;
        if request.kind.amount() == 0 {
            return Err(LedgerError::ZeroMovement);
        }
        let mut state = self.lock();
        let key = request.idempotency_key.as_str();
        if let Some(&index) = state.movement_keys.get(key) {
            let earlier = &state.movements[index];
            if earlier.member != request.member || earlier.kind != request.kind {
                return Err(LedgerError::IdempotencyConflict(key.to_owned()));
            }
            return Ok(earlier.clone());
        }
        let account = state
            .accounts
            .get(&request.member)
            .copied()
            .unwrap_or_default();
        let after = account.checked_after(request.kind)?;
        let movement = recorded_movement(state.movements.len() as u64 + 1, request, after);
        state.accounts.insert(request.member, after);
        let index = state.movements.len();
        state.movement_keys.insert(key.to_owned(), index);
        state.movements.push(movement.clone());
        Ok(movement)
    }

    fn account(&self, member: MemberId) -> Result<Account, LedgerError> {
        Ok(self
            .lock()
            .accounts
            .get(&member)
            .copied()
            .unwrap_or_default())
    }

    fn movements(&self, member: MemberId) -> Result<Vec<Movement>, LedgerError> {
        Ok(self
            .lock()
            .movements
            .iter()
            .filter(|m| m.member == member)
            .cloned()
            .collect())
    }

    fn record_visit(&self, visit: &VisitEvent) -> Result<(), LedgerError> {
        check_instant(visit.at)?;
        self.lock().visits.push(visit.clone());
        Ok(())
    }

    fn visits(&self) -> Result<Vec<VisitEvent>, LedgerError> {
        let mut visits = self.lock().visits.clone();
        visits.sort_by_key(|v| v.at);
        Ok(visits)
    }

    fn has_visited(&self, member: MemberId) -> Result<bool, LedgerError> {
        Ok(self.lock().visits.iter().any(|v| v.member == Some(member)))
    }

    fn has_bought(&self, member: MemberId) -> Result<bool, LedgerError> {
        Ok(self
            .lock()
            .visits
            .iter()
            .any(|v| v.member == Some(member) && (v.spend_minor > 0 || v.voucher.is_some())))
    }

    fn check_in(&self, request: &CheckInRequest<'_>) -> Result<CheckInOutcome, LedgerError> {
        check_instant(request.at)?;
        check_request(self.merchant, request)?;
        let mut state = self.lock();
        let id = request.pseudonym.member_id();
        let (member, enrolled) = match state.member_index.get(&id) {
            Some(&i) if state.members[i].0 != *request.pseudonym => {
                return Err(LedgerError::IdentityCollision(id));
            }
            Some(&i) => (state.members[i].1.clone(), false),
            None => {
                let serial = free_card_serial(request.pseudonym, |s| {
                    Ok::<_, LedgerError>(state.card_serials.contains_key(&s))
                })?;
                (new_member(self.merchant, request, serial)?, true)
            }
        };
        let (store, hour) = (request.check_in.store, hour_of(request));
        let mut earlier = EarlierCheckIns::default();
        for &(h, step) in state.check_ins.get(&(id, store)).into_iter().flatten() {
            earlier.step_seen |= step.is_some() && step == request.check_in.step;
            earlier.latest_hour = earlier.latest_hour.max(Some(h));
        }
        if let Some(reason) = refusal(request, earlier) {
            return Ok(CheckInOutcome::Refused { reason });
        }
        let welcome = match (enrolled, request.welcome) {
            (true, Some(voucher)) => {
                if state.vouchers.contains_key(&voucher.id) {
                    return Err(LedgerError::VoucherConflict(voucher.id));
                }
                Some(VoucherRecord::issued(None, voucher, request.at)?)
            }
            _ => None,
        };
        // Every check has passed: write.
        if enrolled {
            let index = state.members.len();
            state.member_index.insert(id, index);
            state.card_serials.insert(member.card.serial(), index);
            state.members.push((*request.pseudonym, member.clone()));
        }
        if let Some(record) = welcome {
            state.vouchers.insert(record.voucher, record);
        }
        state
            .check_ins
            .entry((id, store))
            .or_default()
            .push((hour, request.check_in.step));
        let visit = visit_of_check_in(request);
        state.visits.push(visit.clone());
        Ok(CheckInOutcome::Visited {
            member,
            enrolled,
            visit,
        })
    }

    fn member(&self, id: MemberId) -> Result<Option<Member>, LedgerError> {
        let state = self.lock();
        Ok(state
            .member_index
            .get(&id)
            .map(|&i| state.members[i].1.clone()))
    }

    fn member_by_card(&self, card: &CardNumber) -> Result<Option<Member>, LedgerError> {
        let state = self.lock();
        Ok(state
            .card_serials
            .get(&card.serial())
            .map(|&i| state.members[i].1.clone()))
    }

    fn set_marketing_opt_out(
        &self,
        member: MemberId,
        opted_out: bool,
        at: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        check_instant(at)?;
        let at = ledger_instant(at);
        let mut state = self.lock();
        let choice = state.opt_outs.entry(member).or_insert((opted_out, at));
        if at > choice.1 || (at == choice.1 && opted_out) {
            *choice = (opted_out, at);
        }
        Ok(())
    }

    fn marketing_opt_outs(&self) -> Result<Vec<MemberId>, LedgerError> {
        let mut out: Vec<MemberId> = self
            .lock()
            .opt_outs
            .iter()
            .filter(|(_, (opted_out, _))| *opted_out)
            .map(|(m, _)| *m)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn offers_since(&self, since: DateTime<Utc>) -> Result<Vec<Offer>, LedgerError> {
        let mut offers: Vec<Offer> = self
            .lock()
            .offers
            .values()
            .filter(|o| o.issued_at >= since)
            .copied()
            .collect();
        offers.sort_by_key(|o| (o.issued_at, o.voucher));
        Ok(offers)
    }

    fn members(&self) -> Result<Vec<Member>, LedgerError> {
        let mut members: Vec<Member> = self.lock().members.iter().map(|(_, m)| m.clone()).collect();
        // Enrollment time, then arrival (a stable sort), as the SQLite ledger orders them.
        members.sort_by_key(|m| m.enrolled_at);
        Ok(members)
    }
}
