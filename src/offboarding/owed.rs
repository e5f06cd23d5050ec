//! Offboardings that were asked for but that the database could not record (a full disk, a
//! database that cannot be reached or written). The person is refused on this replica at
//! once, from memory, and the write is retried until it lands; a replica that owes one is
//! not ready, and says so. They live in this process: a restart before the write lands
//! forgets them, which the alert line says, and the caller was never told it was done.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::audit::Actor;
use crate::domain::Username;
use crate::domain::time::Millis;
use crate::store::StorageFault;

/// More than this many unrecorded offboardings are not kept (the caller is told so).
pub const MAX_OWED: usize = 10_000;

/// One offboarding waiting for the database.
#[derive(Debug, Clone)]
pub struct OwedOffboarding {
    pub actor: Actor,
    pub username: Username,
    pub reason: String,
    /// When it was first refused by the database.
    pub since: Millis,
    pub fault: StorageFault,
}

/// The unrecorded offboardings, one per person.
#[derive(Debug, Default)]
pub struct Owed {
    list: Mutex<BTreeMap<String, OwedOffboarding>>,
}

impl Owed {
    /// Keeps `o` (the first request for a person stays: it is the oldest); false when full.
    pub fn add(&self, o: OwedOffboarding) -> bool {
        let mut list = self.list.lock().expect("owed lock");
        if list.len() >= MAX_OWED && !list.contains_key(o.username.as_str()) {
            return false;
        }
        list.entry(o.username.as_str().to_owned())
            .and_modify(|old| old.fault = o.fault)
            .or_insert(o);
        true
    }

    pub fn all(&self) -> Vec<OwedOffboarding> {
        self.list
            .lock()
            .expect("owed lock")
            .values()
            .cloned()
            .collect()
    }

    pub fn remove(&self, username: &Username) {
        self.list
            .lock()
            .expect("owed lock")
            .remove(username.as_str());
    }

    pub fn len(&self) -> usize {
        self.list.lock().expect("owed lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest unrecorded offboarding's first refusal.
    pub fn oldest(&self) -> Option<(Millis, StorageFault)> {
        self.list
            .lock()
            .expect("owed lock")
            .values()
            .map(|o| (o.since, o.fault))
            .min_by_key(|(since, _)| *since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owed(user: &str, since: Millis) -> OwedOffboarding {
        OwedOffboarding {
            actor: Actor("hr".into()),
            username: Username::parse(user).unwrap(),
            reason: "left".into(),
            since,
            fault: StorageFault::Full,
        }
    }

    #[test]
    fn one_entry_per_person_keeping_the_first_request() {
        let o = Owed::default();
        assert!(o.add(owed("alice", 10)));
        assert!(o.add(owed("alice", 20)));
        assert!(o.add(owed("bob", 15)));
        assert_eq!(o.len(), 2);
        assert_eq!(o.oldest().unwrap().0, 10);
        o.remove(&Username::parse("alice").unwrap());
        assert_eq!(o.oldest().unwrap().0, 15);
    }
}
