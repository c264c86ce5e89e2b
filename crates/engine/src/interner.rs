//! String interning: state refers to reps, contacts and segments by a small integer.

use ahash::AHashMap;

/// Maps each distinct string to a dense `u32` and back.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: AHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |name| name)
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// Every name, indexed by id.
    pub(crate) fn names(&self) -> &[Box<str>] {
        &self.names
    }

    /// The interner whose ids are the positions of `names`; `None` if a name repeats.
    pub(crate) fn from_names(names: Vec<Box<str>>) -> Option<Interner> {
        let mut ids = AHashMap::with_capacity(names.len());
        for (id, name) in (0u32..).zip(&names) {
            if ids.insert(name.clone(), id).is_some() {
                return None;
            }
        }
        (names.len() == ids.len()).then_some(Interner { ids, names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_reversible() {
        let mut interner = Interner::default();
        assert_eq!(interner.intern("r-ana"), 0);
        assert_eq!(interner.intern("r-ben"), 1);
        assert_eq!(interner.intern("r-ana"), 0);
        assert_eq!(interner.name(1), "r-ben");
        assert_eq!(interner.len(), 2);
    }

    #[test]
    fn rebuilt_from_names_keeps_the_ids() {
        let mut interner = Interner::default();
        for name in ["c-2", "c-1", "c-3"] {
            interner.intern(name);
        }
        let mut rebuilt = Interner::from_names(interner.names().to_vec()).expect("distinct");
        assert_eq!(rebuilt.intern("c-1"), 1);
        assert_eq!(rebuilt.intern("c-4"), 3);
        assert!(Interner::from_names(vec!["a".into(), "b".into(), "a".into()]).is_none());
    }
}
