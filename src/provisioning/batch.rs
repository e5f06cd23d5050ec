//! Concurrent pushes of one source, applied together. Every push waits for the source's
//! apply lock anyway; whoever holds it takes every change queued behind it into one
//! reconcile and one apply (as the token writer batches issuance), and tells each waiter
//! how its own people fared. Each answer is still sent only after its change is committed.
//! Deactivations are never batched: the guard judges, and holds, them alone.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::directory::person::DirectoryPerson;

/// How one waiter's people fared in a batch: `Err` names why one was refused.
pub type Fate = Result<(), String>;

struct Waiter {
    people: Vec<DirectoryPerson>,
    reply: oneshot::Sender<Result<Fate, String>>,
}

/// The changes waiting for each source's apply lock.
#[derive(Default)]
pub struct Queue {
    waiting: Mutex<HashMap<String, Vec<Waiter>>>,
}

/// A waiter's place in the queue.
pub struct Ticket {
    pub reply: oneshot::Receiver<Result<Fate, String>>,
}

/// Everyone drained from the queue at once.
pub struct Batch {
    waiters: Vec<Waiter>,
}

impl Queue {
    pub fn join(&self, source: &str, people: Vec<DirectoryPerson>) -> Ticket {
        let (reply, rx) = oneshot::channel();
        self.waiting
            .lock()
            .expect("batch queue")
            .entry(source.to_owned())
            .or_default()
            .push(Waiter { people, reply });
        Ticket { reply: rx }
    }

    /// Takes everyone waiting on `source`; the caller holds its apply lock.
    pub fn drain(&self, source: &str) -> Batch {
        let waiters = self
            .waiting
            .lock()
            .expect("batch queue")
            .remove(source)
            .unwrap_or_default();
        Batch { waiters }
    }
}

impl Batch {
    /// Every waiter's people, one entry per person: a later change of the same person wins.
    pub fn people(&self) -> Vec<DirectoryPerson> {
        let mut by_dn: HashMap<&str, usize> = HashMap::new();
        let mut all: Vec<DirectoryPerson> = Vec::new();
        for p in self.waiters.iter().flat_map(|w| &w.people) {
            match by_dn.get(p.dn.as_str()) {
                Some(&i) => all[i] = p.clone(),
                None => {
                    by_dn.insert(&p.dn, all.len());
                    all.push(p.clone());
                }
            }
        }
        all
    }

    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// Answers each waiter: the batch failed (`Err`), or each one's own fate, which
    /// `fate` reads off its people.
    pub fn answer(self, result: Result<(), String>, fate: impl Fn(&[DirectoryPerson]) -> Fate) {
        for w in self.waiters {
            let own = match &result {
                Ok(()) => Ok(fate(&w.people)),
                Err(e) => Err(e.clone()),
            };
            // A waiter whose request went away no longer listens.
            let _ = w.reply.send(own);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(dn: &str, name: &str) -> DirectoryPerson {
        DirectoryPerson {
            username: crate::domain::Username::parse(name).unwrap(),
            email: String::new(),
            name: name.into(),
            groups: vec![],
            attributes: Default::default(),
            dn: dn.into(),
            external_id: None,
            disabled: None,
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn a_batch_holds_each_person_once_and_answers_every_waiter() {
        let q = Queue::default();
        let a = q.join("s", vec![person("scim:1", "alice")]);
        let b = q.join(
            "s",
            vec![person("scim:2", "bob"), person("scim:1", "alicia")],
        );
        let other = q.join("t", vec![person("scim:9", "zed")]);
        let batch = q.drain("s");
        assert_eq!(batch.len(), 2);
        let names: Vec<String> = batch.people().iter().map(|p| p.name.clone()).collect();
        assert_eq!(names, ["alicia", "bob"]);
        batch.answer(Ok(()), |people| {
            if people.iter().any(|p| p.name == "bob") {
                Err("bob refused".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(a.reply.await.unwrap(), Ok(Ok(())));
        assert_eq!(b.reply.await.unwrap(), Ok(Err("bob refused".into())));
        assert!(q.drain("s").is_empty());
        assert_eq!(q.drain("t").len(), 1);
        drop(other);
    }
}
