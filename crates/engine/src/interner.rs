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
}
