//! A bounds-checked big-endian reader over a byte slice: every read either succeeds or returns `None`, so hostile
//! lengths and offsets can neither panic nor read past the data.

/// A position within a borrowed byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, position: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.position)
    }

    pub(crate) fn position(&self) -> usize {
        self.position
    }

    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(n)?;
        let bytes = self.data.get(self.position..end)?;
        self.position = end;
        Some(bytes)
    }

    pub(crate) fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(drop)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let rest = self.data.get(self.position..).unwrap_or_default();
        self.position = self.data.len();
        rest
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    pub(crate) fn f64(&mut self) -> Option<f64> {
        self.array().map(f64::from_be_bytes)
    }

    pub(crate) fn fourcc(&mut self) -> Option<[u8; 4]> {
        self.array()
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end_instead_of_panicking() {
        let mut cursor = Cursor::new(&[0, 1, 2]);
        assert_eq!(cursor.u16(), Some(1));
        assert_eq!(cursor.u16(), None, "only one byte is left");
        assert_eq!(cursor.u8(), Some(2));
        assert_eq!(cursor.take(usize::MAX), None, "an overflowing length is refused");
        assert_eq!(cursor.remaining(), 0);
    }
}
