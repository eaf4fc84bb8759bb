//! A dictionary from id text (member ids in a visit export) to dense numbers in order of first
//! appearance, built for bulk loads: one probe of a compact table per lookup, the texts copied
//! once into one arena, no allocation per entry.
//!
//! A lookup costs what the memory it touches costs: a `HashMap<&str, u32>` whose keys point
//! into a large input reads a far-away key on every hit. Here a slot holds a hash tag, the
//! text's length and its first eight bytes, so a probe for an id of up to eight bytes (most
//! member ids) reads slots only (usually one; the next ones after a collision); a longer one
//! also reads its text in the arena, which is as compact as the distinct ids themselves.

/// A random hash key, as the standard library's hash maps draw theirs.
pub(super) fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0u64)
}

/// Texts numbered 0, 1, 2, … in order of first appearance.
#[derive(Debug, Clone)]
pub(super) struct Dictionary {
    /// A power of two long, at most three quarters full; empty until first needed for a
    /// dictionary made of stored texts ([`Dictionary::from_texts`]), which is often only read
    /// (a report names members, it does not look them up).
    slots: Vec<Slot>,
    /// Per entry, its full hash (growing needs no text).
    hashes: Vec<u64>,
    /// Per entry, where its text ends in `arena`.
    ends: Vec<usize>,
    arena: String,
    seed: u64,
}

/// One entry's place in the table.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The text's first eight bytes, zero-padded.
    head: u64,
    /// High bits of the hash above, the text's length (up to 255) in the low byte.
    tag: u32,
    /// The entry's number plus one; 0 for an empty slot.
    entry: u32,
}

impl Slot {
    fn of(text: &[u8], hash: u64) -> Slot {
        let mut head = [0u8; 8];
        let n = text.len().min(8);
        head[..n].copy_from_slice(&text[..n]);
        Slot {
            head: u64::from_le_bytes(head),
            tag: ((hash >> 40) as u32) << 8 | text.len().min(255) as u32,
            entry: 0,
        }
    }
}

impl Dictionary {
    /// An empty dictionary; `seed` keys its hash (pass a random one, so that ids chosen to
    /// collide cannot slow a load down).
    pub(super) fn new(seed: u64) -> Self {
        Dictionary {
            slots: vec![Slot::default(); 16],
            hashes: Vec::new(),
            ends: Vec::new(),
            arena: String::new(),
            seed,
        }
    }

    /// The texts `arena[..ends[0]]`, `arena[ends[0]..ends[1]]`, … numbered in that order
    /// (distinct, `ends` ascending at character boundaries); the hash table is built on the
    /// first insertion.
    pub(super) fn from_texts(seed: u64, arena: String, ends: Vec<usize>) -> Self {
        Dictionary {
            slots: Vec::new(),
            hashes: Vec::new(),
            ends,
            arena,
            seed,
        }
    }

    /// Builds the hash table of a dictionary made by [`Dictionary::from_texts`].
    #[cold]
    fn build_index(&mut self) {
        let size = (self.len() * 4 / 3 + 1).next_power_of_two().max(16);
        let mask = size - 1;
        let mut slots = vec![Slot::default(); size];
        let mut hashes = Vec::with_capacity(self.len());
        for id in 0..self.len() as u32 {
            let text = self.text(id).as_bytes();
            let h = hash(text, self.seed);
            hashes.push(h);
            let mut at = h as usize & mask;
            while slots[at].entry != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = Slot {
                entry: id + 1,
                ..Slot::of(text, h)
            };
        }
        self.slots = slots;
        self.hashes = hashes;
    }

    /// How many texts it holds.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Text number `id`.
    pub(super) fn text(&self, id: u32) -> &str {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.arena[start..self.ends[id]]
    }

    /// The number of `text`, given the next free one on first sight.
    pub(super) fn id(&mut self, text: &str) -> u32 {
        self.id_hashed(text, self.hash(text))
    }

    /// The hash of `text` in this dictionary, for [`Dictionary::touch`] and
    /// [`Dictionary::id_hashed`].
    pub(super) fn hash(&self, text: &str) -> u64 {
        hash(text.as_bytes(), self.seed)
    }

    /// Asks the processor to fetch the slot where a lookup of `hash` starts. A bulk load
    /// touches the slots of the next few dozen ids while it parses their rows: the fetches run
    /// side by side, and the lookups then find their slots in cache instead of waiting for
    /// memory one at a time. (A plain load would not do: the processor cannot retire it, nor
    /// much after it, until its data arrives.)
    pub(super) fn touch(&self, hash: u64) {
        if let Some(slot) = self
            .slots
            .get(hash as usize & self.slots.len().wrapping_sub(1))
        {
            prefetch(slot);
        }
    }

    /// The number of `text`, if it is here.
    pub(super) fn find(&self, text: &str) -> Option<u32> {
        if self.slots.is_empty() {
            // Not indexed (stored texts, only read so far): a scan.
            return (0..self.len() as u32).find(|&id| self.text(id) == text);
        }
        self.lookup(text, self.hash(text)).ok()
    }

    /// `Ok(number)` of `text`, or `Err(slot)`: the free slot where it would go.
    #[inline]
    fn lookup(&self, text: &str, hash: u64) -> Result<u32, usize> {
        let wanted = Slot::of(text.as_bytes(), hash);
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.entry == 0 {
                return Err(at);
            }
            if slot.tag == wanted.tag
                && slot.head == wanted.head
                && (text.len() <= 8 || self.text(slot.entry - 1) == text)
            {
                return Ok(slot.entry - 1);
            }
            at = (at + 1) & mask;
        }
    }

    /// As [`Dictionary::id`], with `hash` from [`Dictionary::hash`].
    pub(super) fn id_hashed(&mut self, text: &str, hash: u64) -> u32 {
        debug_assert_eq!(hash, self.hash(text));
        if self.slots.is_empty() {
            self.build_index();
        }
        let at = match self.lookup(text, hash) {
            Ok(id) => return id,
            Err(at) => at,
        };
        let wanted = Slot::of(text.as_bytes(), hash);
        let id = self.ends.len() as u32;
        self.arena.push_str(text);
        self.ends.push(self.arena.len());
        self.hashes.push(hash);
        self.slots[at] = Slot {
            entry: id + 1,
            ..wanted
        };
        if self.ends.len() * 4 > self.slots.len() * 3 {
            self.grow();
        }
        id
    }

    /// Adds `other`'s texts not yet here, in `other`'s order, and returns the number here of
    /// each of `other`'s. Both must have the same seed (the hashes are reused).
    pub(super) fn absorb(&mut self, other: &Dictionary) -> Vec<u32> {
        assert_eq!(self.seed, other.seed, "dictionaries with the same seed");
        const AHEAD: usize = 16;
        let mut ids = Vec::with_capacity(other.len());
        if other.hashes.len() < other.len() {
            // Not indexed: hashed here.
            for id in 0..other.len() as u32 {
                ids.push(self.id(other.text(id)));
            }
            return ids;
        }
        for (id, &hash) in other.hashes.iter().enumerate() {
            if let Some(&later) = other.hashes.get(id + AHEAD) {
                self.touch(later);
            }
            ids.push(self.id_hashed(other.text(id as u32), hash));
        }
        ids
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let mask = size - 1;
        let mut slots = vec![Slot::default(); size];
        for (id, slot) in self
            .slots
            .iter()
            .filter(|s| s.entry != 0)
            .map(|s| (s.entry - 1, s))
        {
            let mut at = self.hashes[id as usize] as usize & mask;
            while slots[at].entry != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = *slot;
        }
        self.slots = slots;
    }
}

/// Starts fetching `slot` into the cache, without waiting for it.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn prefetch(slot: &Slot) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is a hint that never faults and reads nothing the program sees; the
    // pointer comes from a reference, and SSE is part of every x86_64 processor.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast()) }
}

/// Elsewhere, lookups wait for memory as they come.
#[cfg(not(target_arch = "x86_64"))]
fn prefetch(_: &Slot) {}

/// A keyed hash of `bytes`: eight bytes at a time, each word mixed in by a multiply and
/// rotate, the length folded in, the result finished by a multiply-xorshift so that every
/// bit of the input reaches the low bits the table uses.
fn hash(bytes: &[u8], seed: u64) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    h ^= h >> 32;
    h = h.wrapping_mul(0xd6e8_feb8_6659_fd93);
    h ^ (h >> 29)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn numbers_texts_in_order_of_first_appearance_like_a_hash_map() {
        let mut dictionary = Dictionary::new(7);
        let mut reference: HashMap<String, u32> = HashMap::new();
        // Lengths around the word size, an empty text, non-ASCII text, many repeats: enough
        // entries to grow the table several times.
        for i in 0..20_000u32 {
            let text = match i % 5 {
                0 => format!("M-{:06}", (i * 7_919) % 6_007),
                1 => format!("{}", (i * 31) % 3_001),
                2 => format!("会员{}", i % 1_009),
                3 => "x".repeat((i % 19) as usize),
                _ => format!("card-{:016}", (i as u64 * 1_000_003) % 4_001),
            };
            let next = reference.len() as u32;
            let expected = *reference.entry(text.clone()).or_insert(next);
            assert_eq!(dictionary.id(&text), expected, "{text:?}");
        }
        assert_eq!(dictionary.len(), reference.len());
        for (text, &id) in &reference {
            assert_eq!(dictionary.text(id), text);
        }
    }

    #[test]
    fn texts_that_differ_in_one_byte_or_in_length_hash_apart() {
        let a = hash(b"M-000001", 1);
        assert_ne!(a, hash(b"M-000002", 1));
        assert_ne!(a, hash(b"M-000001\0", 1));
        assert_ne!(a, hash(b"M-000001", 2));
        assert_ne!(hash(b"", 1), hash(b"\0", 1));
    }
}
