//! Topic aliases (MQTT 5.0 §3.3.2.3.4): the server's towards us, and ours towards it.
//! Both tables live for one connection only ([MQTT-3.3.2-7]).

use alloc::vec::Vec;
use core::num::NonZeroU16;
use mqtt_proto::{ReasonCode, TopicName};

/// Aliases the server set up towards us.
pub(crate) struct IncomingAliases {
    maximum: u16,
    topics: Vec<Option<TopicName>>,
}

impl IncomingAliases {
    pub(crate) fn new(maximum: u16) -> IncomingAliases {
        IncomingAliases {
            maximum,
            topics: Vec::new(),
        }
    }

    /// Resolves the topic of an incoming PUBLISH: an empty topic takes the alias's topic,
    /// a non-empty one (re)binds the alias (U5-20). Errors carry the DISCONNECT reason.
    pub(crate) fn resolve(
        &mut self,
        topic: &mut TopicName,
        alias: NonZeroU16,
    ) -> Result<(), ReasonCode> {
        let a = alias.get();
        if a > self.maximum {
            // [MQTT-3.3.2-11]: above our Topic Alias Maximum.
            return Err(ReasonCode::TopicAliasInvalid);
        }
        let index = usize::from(a - 1);
        if topic.is_empty() {
            match self.topics.get(index) {
                Some(Some(t)) => {
                    *topic = t.clone();
                    Ok(())
                }
                _ => Err(ReasonCode::ProtocolError),
            }
        } else {
            if self.topics.len() <= index {
                self.topics.resize(index + 1, None);
            }
            self.topics[index] = Some(topic.clone());
            Ok(())
        }
    }
}

/// Aliases we set up towards the server, replacing the least recently used one when all
/// are taken.
pub(crate) struct OutgoingAliases {
    maximum: u16,
    entries: Vec<(TopicName, u64)>,
    clock: u64,
}

/// How to send a topic: the alias alone, or the topic name binding an alias.
pub(crate) enum AliasUse {
    /// The topic is bound to this alias: send an empty topic name with it.
    Known(NonZeroU16),
    /// Send the topic name with this alias to bind it.
    Bind(NonZeroU16),
}

impl OutgoingAliases {
    pub(crate) fn new(maximum: u16) -> OutgoingAliases {
        OutgoingAliases {
            maximum,
            entries: Vec::new(),
            clock: 0,
        }
    }

    /// Forgets `alias` (its binding was never sent).
    pub(crate) fn unbind(&mut self, alias: NonZeroU16) {
        let i = usize::from(alias.get() - 1);
        if i + 1 == self.entries.len() {
            self.entries.pop();
        } else if let Some(e) = self.entries.get_mut(i) {
            // Keep the slot (indices are aliases) but make it the first to reuse, under a
            // topic no message can have.
            *e = (TopicName::empty(), 0);
        }
    }

    /// The alias to use for `topic`, if aliases are allowed ([MQTT-3.2.2-17],
    /// [MQTT-3.2.2-18]: never above the server's maximum, none when it is 0).
    pub(crate) fn lookup(&mut self, topic: &TopicName) -> Option<AliasUse> {
        if self.maximum == 0 {
            return None;
        }
        self.clock += 1;
        if let Some(i) = self.entries.iter().position(|(t, _)| t == topic) {
            self.entries[i].1 = self.clock;
            return NonZeroU16::new(i as u16 + 1).map(AliasUse::Known);
        }
        let index = if self.entries.len() < usize::from(self.maximum) {
            self.entries.push((topic.clone(), self.clock));
            self.entries.len() - 1
        } else {
            let (i, _) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, used))| *used)?;
            self.entries[i] = (topic.clone(), self.clock);
            i
        };
        NonZeroU16::new(index as u16 + 1).map(AliasUse::Bind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> TopicName {
        TopicName::try_from(s).unwrap()
    }

    // [MQTT-3.3.2-9] / [MQTT-3.2.2-17]: never above the server's maximum; LRU replaced.
    #[test]
    fn outgoing_aliases_stay_within_maximum_and_replace_lru() {
        let mut a = OutgoingAliases::new(2);
        assert!(matches!(a.lookup(&t("a")), Some(AliasUse::Bind(n)) if n.get() == 1));
        assert!(matches!(a.lookup(&t("b")), Some(AliasUse::Bind(n)) if n.get() == 2));
        assert!(matches!(a.lookup(&t("a")), Some(AliasUse::Known(n)) if n.get() == 1));
        // "b" is least recently used now: "c" takes alias 2.
        assert!(matches!(a.lookup(&t("c")), Some(AliasUse::Bind(n)) if n.get() == 2));
        assert!(matches!(a.lookup(&t("a")), Some(AliasUse::Known(n)) if n.get() == 1));
    }

    // [MQTT-3.2.2-18]: no aliases when the server allows none.
    #[test]
    fn no_outgoing_alias_when_maximum_is_zero() {
        assert!(OutgoingAliases::new(0).lookup(&t("a")).is_none());
    }

    // U5-20 and [MQTT-3.3.2-10] / [MQTT-3.3.2-11].
    #[test]
    fn incoming_aliases_bind_resolve_and_refuse() {
        let mut a = IncomingAliases::new(3);
        let one = NonZeroU16::new(1).unwrap();
        let mut topic = t("x/y");
        a.resolve(&mut topic, one).unwrap();
        let mut empty = TopicName::empty();
        a.resolve(&mut empty, one).unwrap();
        assert_eq!(empty, t("x/y"));
        let mut unknown = TopicName::empty();
        assert_eq!(
            a.resolve(&mut unknown, NonZeroU16::new(2).unwrap()),
            Err(ReasonCode::ProtocolError)
        );
        let mut any = t("z");
        assert_eq!(
            a.resolve(&mut any, NonZeroU16::new(4).unwrap()),
            Err(ReasonCode::TopicAliasInvalid)
        );
    }
}
