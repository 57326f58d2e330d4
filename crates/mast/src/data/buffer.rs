//! Read-only arrays that are either owned vectors or slices of a memory-mapped
//! file (the binary CSR cache), behind one `Deref<Target = [T]>`.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use memmap2::Mmap;

/// Plain numeric types that can be read in place from a mapped file: any bit
/// pattern is a valid value, and their alignment is at most 8.
///
/// # Safety
/// Implementors must be valid for every bit pattern, with no padding.
pub unsafe trait Plain: Copy + Send + Sync + 'static {}
// SAFETY: integers and floats accept every bit pattern and have no padding.
unsafe impl Plain for u32 {}
// SAFETY: as above.
unsafe impl Plain for u64 {}
// SAFETY: as above.
unsafe impl Plain for usize {}
// SAFETY: as above.
unsafe impl Plain for f64 {}
// SAFETY: as above.
unsafe impl Plain for i32 {}
// SAFETY: as above.
unsafe impl Plain for i64 {}

/// An owned vector or a typed slice of a shared memory map.
///
/// ```
/// use mast::data::Buffer;
/// let b: Buffer<u32> = vec![1, 2, 3].into();
/// assert_eq!(&b[..], &[1, 2, 3]);
/// ```
pub enum Buffer<T: Plain> {
    /// A vector in memory.
    Owned(Vec<T>),
    /// `len` values at byte `offset` of a mapped file (`offset` is a multiple of
    /// `align_of::<T>()`, checked when made).
    Mapped {
        /// The mapping, shared by every buffer cut from it.
        map: Arc<Mmap>,
        /// Byte offset of the first value.
        offset: usize,
        /// Number of values.
        len: usize,
    },
    /// `len` values owned by someone else (a NumPy array, say), kept alive by
    /// `owner`: made by [`Buffer::shared`].
    Shared {
        /// Keeps the memory alive and unchanged while any buffer holds it.
        owner: Arc<dyn std::any::Any + Send + Sync>,
        /// The first value.
        ptr: SharedPtr<T>,
        /// Number of values.
        len: usize,
    },
}

/// The address of a [`Buffer::Shared`]'s first value.
#[derive(Debug, Clone, Copy)]
pub struct SharedPtr<T>(*const T);

impl<T> SharedPtr<T> {
    /// The address.
    pub fn as_ptr(self) -> *const T {
        self.0
    }
}

// SAFETY: the pointer is only read through (`Buffer::deref`), and `Buffer::shared`'s
// contract makes the memory immutable and alive while the owner lives; T is `Plain`
// (Send + Sync) wherever a buffer holds one.
unsafe impl<T: Sync> Send for SharedPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for SharedPtr<T> {}

impl<T: Plain> Buffer<T> {
    /// `len` values of type `T` at byte `offset` of `map`, or `None` if they do
    /// not lie inside it or are misaligned.
    pub fn mapped(map: &Arc<Mmap>, offset: usize, len: usize) -> Option<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        let end = offset.checked_add(bytes)?;
        let aligned = (map.as_ptr() as usize + offset).is_multiple_of(std::mem::align_of::<T>());
        (end <= map.len() && aligned).then(|| Buffer::Mapped {
            map: map.clone(),
            offset,
            len,
        })
    }

    /// `len` values at `ptr`, owned by `owner` (no copy): how memory from another
    /// runtime (a NumPy array) becomes a buffer.
    ///
    /// # Safety
    /// `ptr` must be non-null, aligned for `T`, and point to `len` initialised
    /// values that stay valid and unmodified for as long as `owner` is alive.
    pub unsafe fn shared(
        owner: Arc<dyn std::any::Any + Send + Sync>,
        ptr: *const T,
        len: usize,
    ) -> Self {
        Buffer::Shared {
            owner,
            ptr: SharedPtr(ptr),
            len,
        }
    }

    /// Whether the values live in a memory map.
    pub fn is_mapped(&self) -> bool {
        matches!(self, Buffer::Mapped { .. })
    }

    /// The values as an owned vector (a copy when mapped).
    pub fn into_vec(self) -> Vec<T> {
        match self {
            Buffer::Owned(v) => v,
            Buffer::Mapped { .. } | Buffer::Shared { .. } => self.to_vec(),
        }
    }
}

impl<T: Plain> Deref for Buffer<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Buffer::Owned(v) => v,
            Buffer::Mapped { map, offset, len } => {
                // SAFETY: `mapped` checked that the range lies inside the map and is
                // aligned for T; T accepts every bit pattern (`Plain`); the map is
                // read-only and lives as long as `self` holds its Arc.
                unsafe { std::slice::from_raw_parts(map.as_ptr().add(*offset).cast::<T>(), *len) }
            }
            // SAFETY: `Buffer::shared`'s contract: `len` valid values at `ptr`, alive
            // and unchanged while `owner` is, which `self` keeps alive.
            Buffer::Shared { ptr, len, .. } => unsafe { std::slice::from_raw_parts(ptr.0, *len) },
        }
    }
}

impl<T: Plain> From<Vec<T>> for Buffer<T> {
    fn from(v: Vec<T>) -> Self {
        Buffer::Owned(v)
    }
}

impl<T: Plain> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        match self {
            Buffer::Owned(v) => Buffer::Owned(v.clone()),
            Buffer::Mapped { map, offset, len } => Buffer::Mapped {
                map: map.clone(),
                offset: *offset,
                len: *len,
            },
            Buffer::Shared { owner, ptr, len } => Buffer::Shared {
                owner: owner.clone(),
                ptr: *ptr,
                len: *len,
            },
        }
    }
}

impl<T: Plain + fmt::Debug> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Buffer::Owned(_) => "owned",
            Buffer::Mapped { .. } => "mapped",
            Buffer::Shared { .. } => "shared",
        };
        write!(f, "Buffer({kind}, {} values)", self.len())
    }
}
