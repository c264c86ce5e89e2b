//! String interning: state refers to reps, contacts, leads, deals, customers and segments by a
//! small integer.
//!
//! Memory is what this module is about: with a million contacts and a million and a half leads the
//! names are a large part of the state. Each name is stored once, in one shared text buffer, and
//! the index is a table of bare `u32` ids hashed by the name they point to: about the name's length
//! plus 13 bytes per name (an 8-byte end offset, a 4-byte slot and a control byte, at hashbrown's
//! load factor), where a `HashMap<Box<str>, u32>` and a `Vec<Box<str>>` of the same names took two
//! heap blocks and two 16-byte pointers per name on top of the slot.

use std::fmt;
use std::marker::PhantomData;

use ahash::RandomState;
use hashbrown::HashTable;
use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Maps each distinct string to a dense `u32` and back.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    /// Every name, back to back, in id order.
    text: String,
    /// Where each name ends in `text`; name `i` starts where name `i - 1` ends.
    ends: Vec<usize>,
    /// The ids, found by the hash of the name they stand for.
    index: HashTable<u32>,
    hasher: RandomState,
}

impl Interner {
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        let hash = self.hasher.hash_one(name);
        let Interner {
            text, ends, index, ..
        } = self;
        if let Some(&id) = index.find(hash, |&id| name_of(text, ends, id) == name) {
            return id;
        }
        let id = u32::try_from(ends.len()).unwrap_or(u32::MAX);
        text.push_str(name);
        ends.push(text.len());
        let hasher = &self.hasher;
        index.insert_unique(hash, id, |&id| hasher.hash_one(name_of(text, ends, id)));
        id
    }

    /// The id of `name`, if it was interned.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(name);
        self.index
            .find(hash, |&id| name_of(&self.text, &self.ends, id) == name)
            .copied()
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        name_of(&self.text, &self.ends, id)
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Every name, in id order.
    pub(crate) fn names(&self) -> impl ExactSizeIterator<Item = &str> {
        (0..self.ends.len()).map(|id| {
            let start = id.checked_sub(1).map_or(0, |previous| self.ends[previous]);
            &self.text[start..self.ends[id]]
        })
    }

    /// The interner whose ids are the positions of `names`; `None` if a name repeats.
    pub(crate) fn from_names<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> Option<Self> {
        let mut interner = Interner {
            ends: Vec::with_capacity(names.len()),
            index: HashTable::with_capacity(names.len()),
            ..Interner::default()
        };
        for (expected, name) in (0u32..).zip(names) {
            if interner.intern(name) != expected {
                return None;
            }
        }
        interner.text.shrink_to_fit();
        Some(interner)
    }
}

/// Name `id` of an interner's `text` and `ends` (borrowed apart from its index, so the index can be
/// searched and grown while names are read).
fn name_of<'a>(text: &'a str, ends: &[usize], id: u32) -> &'a str {
    let id = id as usize;
    let Some(&end) = ends.get(id) else {
        return "";
    };
    let start = id.checked_sub(1).map_or(0, |previous| ends[previous]);
    &text[start..end]
}

/// A map from names to values, stored as an [`Interner`] and a dense vector of values indexed by
/// the name's id: one `u32` slot per entry in the hash table instead of the name's box and the
/// whole value, so a large value (a lead, a deal) costs its own size and no more.
///
/// Entries are never removed: the leads, deals and customers it holds feed lifetime metrics.
#[derive(Debug, Default)]
pub(crate) struct Keyed<V> {
    keys: Interner,
    values: Vec<V>,
}

impl<V: Default> Keyed<V> {
    /// The value of `key`, inserted as the default if it is new.
    pub(crate) fn entry_or_default(&mut self, key: &str) -> &mut V {
        let id = self.keys.intern(key) as usize;
        if id >= self.values.len() {
            self.values.resize_with(id + 1, V::default);
        }
        &mut self.values[id]
    }
}

impl<V> Keyed<V> {
    #[cfg(test)]
    pub(crate) fn get(&self, key: &str) -> Option<&V> {
        self.values.get(self.keys.get(key)? as usize)
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.values.iter()
    }

    #[cfg(test)]
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.values.iter_mut()
    }

    /// Entries sorted by key, so that equal maps list (and save) identically whatever the order
    /// the keys were first seen in.
    pub(crate) fn sorted(&self) -> Vec<(&str, &V)> {
        let mut entries: Vec<(&str, &V)> = self.keys.names().zip(&self.values).collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }

    /// Adds an entry whose key must be new; false (and nothing added) if it is not.
    fn push_new(&mut self, key: &str, value: V) -> bool {
        if self.keys.intern(key) as usize != self.values.len() {
            return false;
        }
        self.values.push(value);
        true
    }
}

/// A [`Keyed`] read from the sequence of `(key, value)` pairs [`Keyed::sorted`] saves, built as it
/// is read, with no vector of entries in between (that vector was as large as the map itself at
/// restore). A repeated key is remembered rather than refused, so the caller can report it as an
/// inconsistency of the state.
pub(crate) struct KeyedEntries<V> {
    keyed: Keyed<V>,
    repeated: bool,
}

impl<V> KeyedEntries<V> {
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.keyed.values()
    }

    /// The map; `None` if a key repeated.
    pub(crate) fn into_keyed(self) -> Option<Keyed<V>> {
        (!self.repeated).then_some(self.keyed)
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for KeyedEntries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = KeyedEntries<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of (key, value) pairs")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // A length read from damaged input reserves at most about a megabyte.
                let capacity = seq
                    .size_hint()
                    .unwrap_or(0)
                    .min(MAX_PREALLOCATION / size_of::<V>().max(1));
                let mut entries = KeyedEntries {
                    keyed: Keyed {
                        keys: Interner {
                            ends: Vec::with_capacity(capacity),
                            index: HashTable::with_capacity(capacity),
                            ..Interner::default()
                        },
                        values: Vec::with_capacity(capacity),
                    },
                    repeated: false,
                };
                while let Some((key, value)) = seq.next_element::<(&'de str, V)>()? {
                    entries.repeated |= !entries.keyed.push_new(key, value);
                }
                entries.keyed.keys.text.shrink_to_fit();
                Ok(entries)
            }
        }

        deserializer.deserialize_seq(EntriesVisitor(PhantomData))
    }
}

/// Bytes reserved at most from a length read from saved input, before any entry is read.
const MAX_PREALLOCATION: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_reversible() {
        let mut interner = Interner::default();
        assert_eq!(interner.intern("r-ana"), 0);
        assert_eq!(interner.intern("r-ben"), 1);
        assert_eq!(interner.intern("r-ana"), 0);
        assert_eq!(interner.intern(""), 2);
        assert_eq!(interner.intern("r-a"), 3);
        assert_eq!(interner.name(1), "r-ben");
        assert_eq!(interner.name(2), "");
        assert_eq!(interner.name(3), "r-a");
        assert_eq!(interner.name(4), "");
        assert_eq!(interner.get("r-ben"), Some(1));
        assert_eq!(interner.get("r-be"), None);
        assert_eq!(interner.len(), 4);
        assert_eq!(
            interner.names().collect::<Vec<_>>(),
            ["r-ana", "r-ben", "", "r-a"]
        );
    }

    #[test]
    fn rebuilt_from_names_keeps_the_ids() {
        let mut interner = Interner::default();
        for name in ["c-2", "c-1", "c-3"] {
            interner.intern(name);
        }
        let mut rebuilt = Interner::from_names(interner.names()).expect("distinct");
        assert_eq!(rebuilt.intern("c-1"), 1);
        assert_eq!(rebuilt.intern("c-4"), 3);
        assert!(Interner::from_names(["a", "b", "a"].into_iter()).is_none());
    }

    #[test]
    fn keyed_values_follow_their_keys_and_list_sorted() {
        let mut keyed: Keyed<u32> = Keyed::default();
        *keyed.entry_or_default("L-2") += 5;
        *keyed.entry_or_default("L-10") += 1;
        *keyed.entry_or_default("L-2") += 2;
        assert_eq!(keyed.len(), 2);
        assert_eq!(keyed.get("L-2"), Some(&7));
        assert_eq!(keyed.get("L-1"), None);
        assert_eq!(keyed.sorted(), [("L-10", &1), ("L-2", &7)]);
        let saved = postcard::to_stdvec(&keyed.sorted()).expect("serializes");
        let rebuilt: KeyedEntries<u32> = postcard::from_bytes(&saved).expect("deserializes");
        let rebuilt = rebuilt.into_keyed().expect("distinct");
        assert_eq!(rebuilt.get("L-2"), Some(&7));
        assert_eq!(rebuilt.sorted(), [("L-10", &1), ("L-2", &7)]);
        let repeated =
            postcard::to_stdvec(&vec![("a", 1u32), ("b", 2), ("a", 3)]).expect("serializes");
        let repeated: KeyedEntries<u32> = postcard::from_bytes(&repeated).expect("deserializes");
        assert_eq!(repeated.values().copied().collect::<Vec<_>>(), [1, 2]);
        assert!(repeated.into_keyed().is_none());
    }
}
