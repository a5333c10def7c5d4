//! A vector stored in fixed-size, reference-counted chunks, so a copy of
//! a run state or the view model (a replay checkpoint, a cached seek
//! position) copies chunk pointers, not elements.
//!
//! Writing to an element copies its chunk first only when another copy
//! still shares it (`Arc::make_mut`): the live cockpit, which never copies
//! its view model, writes in place; a replay's view model copies the few
//! chunks it touches after a checkpoint was taken.

use std::fmt;
use std::ops::{Index, IndexMut};
use std::sync::Arc;

/// An append-mostly vector of `T` in chunks of `N` elements (`N` a power of two).
pub struct ChunkVec<T, const N: usize = 64> {
    chunks: Vec<Arc<Vec<T>>>,
    len: usize,
}

impl<T, const N: usize> Default for ChunkVec<T, N> {
    fn default() -> Self {
        ChunkVec {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T, const N: usize> Clone for ChunkVec<T, N> {
    /// Copies the chunk pointers only.
    fn clone(&self) -> Self {
        ChunkVec {
            chunks: self.chunks.clone(),
            len: self.len,
        }
    }
}

impl<T: fmt::Debug, const N: usize> fmt::Debug for ChunkVec<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T, const N: usize> ChunkVec<T, N> {
    const SHIFT: u32 = N.trailing_zeros();

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Element `i`, if in range.
    pub fn get(&self, i: usize) -> Option<&T> {
        if i < self.len {
            Some(&self.chunks[i >> Self::SHIFT][i & (N - 1)])
        } else {
            None
        }
    }

    /// The last element.
    pub fn last(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    /// Elements in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The chunks, in order (tests check copies share them).
    #[cfg(test)]
    pub(crate) fn chunks(&self) -> &[Arc<Vec<T>>] {
        &self.chunks
    }
}

impl<T: Clone, const N: usize> ChunkVec<T, N> {
    /// Appends an element (copying the last chunk first if it is shared).
    pub fn push(&mut self, value: T) {
        // A power of two keeps indexing a shift and a mask.
        const { assert!(N.is_power_of_two()) };
        if self.len & (N - 1) == 0 {
            self.chunks.push(Arc::new(Vec::with_capacity(N)));
        }
        let last = self.chunks.len() - 1;
        Arc::make_mut(&mut self.chunks[last]).push(value);
        self.len += 1;
    }

    /// Element `i` for writing, if in range.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i < self.len {
            Some(&mut Arc::make_mut(&mut self.chunks[i >> Self::SHIFT])[i & (N - 1)])
        } else {
            None
        }
    }
}

impl<T, const N: usize> Index<usize> for ChunkVec<T, N> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        assert!(
            i < self.len,
            "index {i} out of range for length {}",
            self.len
        );
        &self.chunks[i >> Self::SHIFT][i & (N - 1)]
    }
}

impl<T: Clone, const N: usize> IndexMut<usize> for ChunkVec<T, N> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len;
        self.get_mut(i)
            .unwrap_or_else(|| panic!("index {i} out of range for length {len}"))
    }
}

impl<T: serde::Serialize, const N: usize> serde::Serialize for ChunkVec<T, N> {
    /// As a plain list.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<T: Clone, const N: usize> FromIterator<T> for ChunkVec<T, N> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v = ChunkVec::default();
        for x in iter {
            v.push(x);
        }
        v
    }
}

/// Bytes a chunk's elements hold, roughly (the replay player's memory
/// accounting: inline size plus owned heap, shared `Arc` payloads excluded).
pub trait ApproxBytes {
    /// Approximate bytes, inline size included.
    fn approx_bytes(&self) -> usize;
}

impl<T: ApproxBytes, const N: usize> ChunkVec<T, N> {
    /// Bytes held by the chunks of `self` that `other` does not share
    /// (compared position by position), plus the chunk table itself.
    pub fn unshared_bytes(&self, other: &ChunkVec<T, N>) -> usize {
        let table = self.chunks.capacity() * size_of::<Arc<Vec<T>>>();
        let chunks: usize = self
            .chunks
            .iter()
            .enumerate()
            .filter(|(i, c)| other.chunks.get(*i).is_none_or(|o| !Arc::ptr_eq(c, o)))
            .map(|(_, c)| {
                c.iter().map(ApproxBytes::approx_bytes).sum::<usize>()
                    + (c.capacity() - c.len()) * size_of::<T>()
            })
            .sum();
        table + chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ApproxBytes for u64 {
        fn approx_bytes(&self) -> usize {
            8
        }
    }

    #[test]
    fn push_index_iter_and_clone_share_chunks() {
        let mut a: ChunkVec<u64, 4> = (0..10).collect();
        assert_eq!(a.len(), 10);
        assert_eq!(a[9], 9);
        assert_eq!(a.get(10), None);
        assert_eq!(
            a.iter().copied().collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.chunks()[0], &b.chunks()[0]));
        // A write copies only the chunk it lands in.
        a[5] = 50;
        assert_eq!(b[5], 5);
        assert_eq!(a[5], 50);
        assert!(Arc::ptr_eq(&a.chunks()[0], &b.chunks()[0]));
        assert!(!Arc::ptr_eq(&a.chunks()[1], &b.chunks()[1]));
        assert!(Arc::ptr_eq(&a.chunks()[2], &b.chunks()[2]));
        // Appending to a shared, partly filled chunk copies it too.
        a.push(10);
        assert_eq!(b.len(), 10);
        assert_eq!(a[10], 10);
        // Only the two written chunks (4 elements of 8 bytes each) differ.
        let table = a.chunks.capacity() * size_of::<Arc<Vec<u64>>>();
        assert_eq!(a.unshared_bytes(&b), table + 2 * 4 * 8);
        assert_eq!(
            format!("{b:?}"),
            format!("{:?}", (0..10).collect::<Vec<u64>>())
        );
    }
}
