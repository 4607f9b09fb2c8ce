//! The ordering policy: which waiting ticket "call next" takes at a window,
//! and how many tickets are ahead of a waiting one.
//!
//! Order at window W, first match wins:
//! 1. tickets transferred to W (or returning to W), oldest place first;
//! 2. tickets in W's secondary tiers that waited past their escalation limit,
//!    when they have waited longer than everything in W's primary tier (else
//!    a flooded secondary category would starve the window's own visitors —
//!    the hall simulator showed exactly that);
//! 3. tier by tier: inside a tier, priority tickets (green channel, key
//!    projects, appointments near their slot) and normal tickets are
//!    interleaved — at most `priority_ratio` priority calls in a row while a
//!    normal ticket waits — and each class is FIFO by place in the queue.

use super::catalog::{Catalog, Policy, Window};
use super::model::*;
use super::{Hall, QueueIndex};
use std::collections::{BTreeSet, HashMap};

type Key = (Millis, TicketId);

/// What the policy reads: the waiting queues, the tickets targeted at a
/// window, the tickets themselves (priority, appointment slot) and the
/// policy settings. Nothing else of the hall, so a view of a few queues
/// ([`WindowScratch`]) can answer "what comes next here" without a copy
/// of the hall.
pub(crate) trait QueueView {
    fn queue(&self, code: &str) -> Option<&QueueIndex>;
    fn targeted(&self, window: WindowNo) -> Option<&BTreeSet<Key>>;
    fn ticket(&self, id: TicketId) -> &Ticket;
    fn catalog(&self) -> &Catalog;
    fn policy(&self) -> &Policy {
        &self.catalog().policy
    }
}

impl QueueView for Hall {
    fn queue(&self, code: &str) -> Option<&QueueIndex> {
        self.queues.get(code)
    }
    fn targeted(&self, window: WindowNo) -> Option<&BTreeSet<Key>> {
        self.targeted.get(&window)
    }
    fn ticket(&self, id: TicketId) -> &Ticket {
        &self.tickets[&id]
    }
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}

/// One window's queues, copied (keys only) so tickets can be taken off them
/// one by one to list what "call next" would take in turn. Tickets and the
/// catalogue are borrowed from the hall.
pub(crate) struct WindowScratch<'h> {
    hall: &'h Hall,
    window: WindowNo,
    queues: HashMap<String, QueueIndex>,
    targeted: BTreeSet<Key>,
}

impl<'h> WindowScratch<'h> {
    /// A view for listing at most `limit` picks: only the first `limit`
    /// keys of each ordered set can ever be taken, so only those are copied
    /// (a read of "my queue" costs O(limit), not O(waiting), on a day with
    /// thousands waiting). Appointments, which change class with the time
    /// and are few, are copied whole.
    pub(crate) fn new(hall: &'h Hall, window: &Window, limit: usize) -> Self {
        let first =
            |set: &BTreeSet<Key>| set.iter().take(limit).copied().collect::<BTreeSet<Key>>();
        WindowScratch {
            hall,
            window: window.number,
            queues: window
                .tiers
                .iter()
                .flatten()
                .filter_map(|c| {
                    hall.queues.get(c).map(|q| {
                        let head = QueueIndex {
                            normal: first(&q.normal),
                            priority: first(&q.priority),
                            appointment: q.appointment.clone(),
                        };
                        (c.clone(), head)
                    })
                })
                .collect(),
            targeted: hall
                .targeted
                .get(&window.number)
                .map(first)
                .unwrap_or_default(),
        }
    }

    /// Takes a ticket off the view (it has been "called").
    pub(crate) fn take(&mut self, id: TicketId) {
        let t = &self.hall.tickets[&id];
        let key = (t.sort_at, id);
        self.targeted.remove(&key);
        if let Some(q) = self.queues.get_mut(&t.queue) {
            q.normal.remove(&key);
            q.priority.remove(&key);
            q.appointment.remove(&key);
        }
    }
}

impl QueueView for WindowScratch<'_> {
    fn queue(&self, code: &str) -> Option<&QueueIndex> {
        self.queues.get(code)
    }
    fn targeted(&self, window: WindowNo) -> Option<&BTreeSet<Key>> {
        (window == self.window).then_some(&self.targeted)
    }
    fn ticket(&self, id: TicketId) -> &Ticket {
        &self.hall.tickets[&id]
    }
    fn catalog(&self) -> &Catalog {
        &self.hall.catalog
    }
}

/// Whether an appointment ticket counts as priority at `now`.
pub(crate) fn appointment_is_due(h: &impl QueueView, t: &Ticket, now: Millis) -> bool {
    let Some(slot) = &t.appointment else {
        return false;
    };
    let p = h.policy();
    now >= slot.start - i64::from(p.appointment_early_minutes) * 60_000
        && now <= slot.end + i64::from(p.appointment_grace_minutes) * 60_000
}

/// Oldest priority-effective and oldest normal-effective keys of one queue.
fn heads(
    h: &impl QueueView,
    q: &QueueIndex,
    now: Millis,
) -> (Option<(Key, Priority)>, Option<Key>) {
    let mut prio = q.priority.first().map(|k| (*k, h.ticket(k.1).priority));
    let mut normal = q.normal.first().copied();
    // Appointments are few; scan them for the first due and the first not due.
    let mut due_found = false;
    let mut not_due_found = false;
    for k in &q.appointment {
        let due = appointment_is_due(h, h.ticket(k.1), now);
        if due && !due_found {
            due_found = true;
            if prio.is_none_or(|(p, _)| *k < p) {
                prio = Some((*k, Priority::Appointment));
            }
        } else if !due && !not_due_found {
            not_due_found = true;
            if normal.is_none_or(|n| *k < n) {
                normal = Some(*k);
            }
        }
        if due_found && not_due_found {
            break;
        }
    }
    (prio, normal)
}

/// Picks the ticket "call next" takes at `window`, with the reason.
pub(crate) fn pick_next(
    h: &impl QueueView,
    window: &Window,
    // Priority calls in a row this window has made (the interleaving ratio).
    priority_streak: u32,
    now: Millis,
) -> Option<(TicketId, CallReason)> {
    let total = waiting_for_window(h, window);
    let reason = |rule, tier, key: Key| CallReason {
        rule,
        tier,
        waited_s: (now - key.0) / 1000,
        others_waiting: total.saturating_sub(1),
    };
    // 1. Targeted at this window.
    if let Some(k) = h.targeted(window.number).and_then(|s| s.first()) {
        return Some((k.1, reason(CallRule::Targeted, 0, *k)));
    }
    // 2. Escalated from secondary tiers: the oldest over its limit.
    let mut escalated: Option<(Key, u32, u32)> = None;
    for (tier, codes) in window.tiers.iter().enumerate().skip(1) {
        for code in codes {
            let Some(q) = h.queue(code) else {
                continue;
            };
            let limit = h.catalog().escalation_minutes(code);
            let oldest = [q.normal.first(), q.priority.first(), q.appointment.first()]
                .into_iter()
                .flatten()
                .min()
                .copied();
            if let Some(k) = oldest
                && now - k.0 >= i64::from(limit) * 60_000
                && escalated.is_none_or(|(e, _, _)| k < e)
            {
                escalated = Some((k, tier as u32, limit));
            }
        }
    }
    let primary_oldest = window
        .tiers
        .first()
        .into_iter()
        .flatten()
        .filter_map(|code| h.queue(code))
        .flat_map(|q| [q.normal.first(), q.priority.first(), q.appointment.first()])
        .flatten()
        .min()
        .copied();
    if let Some((k, tier, limit_min)) = escalated
        && primary_oldest.is_none_or(|p| k < p)
    {
        return Some((k.1, reason(CallRule::Escalated { limit_min }, tier, k)));
    }
    // 3. Tier by tier, priority interleaved with normal.
    for (tier, codes) in window.tiers.iter().enumerate() {
        let mut prio: Option<(Key, Priority)> = None;
        let mut normal: Option<Key> = None;
        for code in codes {
            let Some(q) = h.queue(code) else {
                continue;
            };
            let (p, n) = heads(h, q, now);
            if let Some(p) = p
                && prio.is_none_or(|(best, _)| p.0 < best)
            {
                prio = Some(p);
            }
            if let Some(n) = n
                && normal.is_none_or(|best| n < best)
            {
                normal = Some(n);
            }
        }
        let tier = tier as u32;
        let ratio = h.policy().priority_ratio;
        match (prio, normal) {
            (Some((k, class)), None) => {
                let streak = priority_streak + 1;
                return Some((k.1, reason(CallRule::Priority { class, streak }, tier, k)));
            }
            (Some((k, class)), Some(_)) if priority_streak < ratio => {
                let streak = priority_streak + 1;
                return Some((k.1, reason(CallRule::Priority { class, streak }, tier, k)));
            }
            (Some(_), Some(k)) => {
                let streak = priority_streak;
                return Some((
                    k.1,
                    reason(CallRule::AfterPriorityStreak { streak }, tier, k),
                ));
            }
            (None, Some(k)) => return Some((k.1, reason(CallRule::Fifo, tier, k))),
            (None, None) => {}
        }
    }
    None
}

/// Waiting tickets this window could call (targeted plus all its tiers).
pub(crate) fn waiting_for_window(h: &impl QueueView, window: &Window) -> u32 {
    let targeted = h.targeted(window.number).map_or(0, |s| s.len());
    let queued: usize = window
        .tiers
        .iter()
        .flatten()
        .filter_map(|c| h.queue(c))
        .map(QueueIndex::len)
        .sum();
    (targeted + queued) as u32
}

/// Tickets that will be called before waiting ticket `t` (an estimate for
/// interleaving: normal tickets count the priority ones the ratio lets in).
pub(crate) fn people_ahead(h: &impl QueueView, t: &Ticket, now: Millis) -> u32 {
    let key = (t.sort_at, t.id);
    if let Some(w) = t.target_window {
        return h.targeted(w).map_or(0, |s| s.range(..key).count() as u32);
    }
    let Some(q) = h.queue(&t.queue) else {
        return 0;
    };
    let count_before = |set: &std::collections::BTreeSet<Key>| rank(set, &key);
    let mut prio_before = count_before(&q.priority);
    let mut normal_before = count_before(&q.normal);
    let mut prio_total = q.priority.len() as u32;
    for k in &q.appointment {
        let due = appointment_is_due(h, h.ticket(k.1), now);
        if due {
            prio_total += 1;
        }
        if *k < key {
            if due {
                prio_before += 1;
            } else {
                normal_before += 1;
            }
        }
    }
    let ratio = h.policy().priority_ratio.max(1);
    let is_priority = match t.priority {
        Priority::Normal => false,
        Priority::Appointment => appointment_is_due(h, t, now),
        _ => true,
    };
    if is_priority {
        prio_before + (prio_before / ratio).min(normal_before)
    } else {
        normal_before + prio_total.min(ratio * (normal_before + 1))
    }
}

/// Number of elements below `key`, in O(min(rank, len - rank)) steps: a new
/// ticket (near the back) and the next to be called (near the front) are
/// both cheap, which are the look-ups that happen on every issue and call.
fn rank(set: &std::collections::BTreeSet<Key>, key: &Key) -> u32 {
    let mut below = set.range(..*key);
    let mut above = set.range(*key..);
    let mut n = 0usize;
    loop {
        match below.next_back() {
            None => return n as u32,
            Some(_) => n += 1,
        }
        if above.next().is_none() {
            // Everything not at or above `key` is below it.
            return (set.len() - set.range(*key..).count()) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rank;
    use std::collections::BTreeSet;

    #[test]
    fn rank_counts_from_the_nearer_end() {
        let set: BTreeSet<(i64, u64)> = (0..100).map(|i| (i * 10, i as u64)).collect();
        for (probe, want) in [
            ((0, 0), 0),
            ((5, 0), 1),
            ((990, 99), 99),
            ((2000, 0), 100),
            ((495, 0), 50),
            ((-1, 0), 0),
        ] {
            assert_eq!(rank(&set, &probe), want, "{probe:?}");
        }
        assert_eq!(rank(&BTreeSet::new(), &(1, 1)), 0);
    }
}
