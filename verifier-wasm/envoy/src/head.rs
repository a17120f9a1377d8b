//! The request's headers, read in one host call and parsed without trusting them, and written
//! back in one.
//!
//! One `proxy_get_header_map_pairs` replaces a call per header read, and one
//! `proxy_set_header_map_pairs` replaces a call per header written or removed (the identity
//! headers, the Authorization header): each host call is a round trip out of the VM that costs
//! more than building the whole list again (the README's profile has the figures). The SDK's own
//! wrapper turns header names into `String` with `unwrap`, so a name that is not UTF-8 would
//! panic and kill the VM; this reads the host's serialisation as bytes, with every offset
//! checked, and writes the fields it keeps back byte for byte.
#![allow(unsafe_code)]

use proxy_wasm::types::MapType;

use crate::profile::{self, HostCall, Step};

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_set_header_map_pairs(map_type: u32, map_data: *const u8, map_size: usize) -> u32;
}

/// The request headers as the host serialised them.
#[derive(Debug, Default)]
pub(crate) struct RequestHead {
    buffer: Vec<u8>,
    /// (name, value) byte ranges into `buffer`.
    fields: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl RequestHead {
    /// Reads the request headers of the current HTTP context (empty if the host cannot).
    pub(crate) fn read() -> RequestHead {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the host writes a pointer and length of memory it allocated in this VM through
        // the SDK's exported `proxy_on_memory_allocate`, which hands out a boxed `[u8]` of exactly
        // `size` bytes; ownership passes to us, as in the SDK's own `get_map_bytes`.
        let buffer = unsafe {
            let status = profile::host_call(HostCall::ReadHeaders, || {
                proxy_get_header_map_pairs(MapType::HttpRequestHeaders as u32, &mut data, &mut size)
            });
            if status != 0 || data.is_null() {
                return RequestHead::default();
            }
            Vec::from_raw_parts(data, size, size)
        };
        profile::step(Step::ParseHeaders, || RequestHead::parse(buffer))
    }

    /// Parses the proxy-wasm map serialisation: a u32 count, `count` pairs of u32 lengths, then
    /// each name and value followed by a NUL. Anything malformed yields the fields read so far.
    fn parse(buffer: Vec<u8>) -> RequestHead {
        let u32_at = |at: usize| -> Option<usize> {
            let bytes = buffer.get(at..at.checked_add(4)?)?;
            Some(u32::from_le_bytes(bytes.try_into().ok()?) as usize)
        };
        let Some(count) = u32_at(0) else {
            return RequestHead {
                buffer,
                fields: Vec::new(),
            };
        };
        // Each field takes at least 10 bytes (two lengths, two NULs): a count the buffer cannot
        // hold does not size the allocation.
        let mut fields = Vec::with_capacity(count.min(buffer.len() / 10));
        let Some(mut at) = count.checked_mul(8).and_then(|n| n.checked_add(4)) else {
            return RequestHead { buffer, fields };
        };
        for n in 0..count {
            let lengths = 4 + n * 8;
            let (Some(name_len), Some(value_len)) = (u32_at(lengths), u32_at(lengths + 4)) else {
                break;
            };
            let name = at..at.saturating_add(name_len);
            let value_start = name.end.saturating_add(1);
            let value = value_start..value_start.saturating_add(value_len);
            if value.end > buffer.len() {
                break;
            }
            at = value.end.saturating_add(1);
            fields.push((name, value));
        }
        RequestHead { buffer, fields }
    }

    /// The values of header `name` (lower case, as Envoy keeps them), in order.
    pub(crate) fn values<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.fields.iter().filter_map(move |(n, v)| {
            let field_name = self.buffer.get(n.clone())?;
            (field_name == name.as_bytes()).then(|| self.buffer.get(v.clone()))?
        })
    }

    /// The first value of header `name`.
    pub(crate) fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).next()
    }

    /// The headers to forward, serialised for `proxy_set_header_map_pairs`: every field, in order,
    /// except those `drop` (called once per field, in order) refuses, then `add`. `None` when that
    /// is the request as it came, so that nothing need be written.
    pub(crate) fn rewritten(
        &self,
        mut drop: impl FnMut(&[u8]) -> bool,
        add: &[(&str, &str)],
    ) -> Option<Vec<u8>> {
        let mut kept = Vec::with_capacity(self.fields.len());
        for (name, value) in &self.fields {
            let (Some(n), Some(v)) = (
                self.buffer.get(name.clone()),
                self.buffer.get(value.clone()),
            ) else {
                continue;
            };
            if !drop(n) {
                kept.push((n, v));
            }
        }
        if kept.len() == self.fields.len() && add.is_empty() {
            return None;
        }
        let pairs = kept
            .iter()
            .copied()
            .chain(add.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
        serialise(pairs)
    }
}

/// The proxy-wasm map serialisation of `pairs`, in one allocation of its exact size; `None` if a
/// length does not fit in 32 bits.
fn serialise<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone) -> Option<Vec<u8>> {
    let (count, strings) = pairs
        .clone()
        .fold((0usize, 0usize), |(n, bytes), (name, value)| {
            (n + 1, bytes + name.len() + value.len() + 2)
        });
    let mut out = Vec::with_capacity(4 + 8 * count + strings);
    out.extend(u32::try_from(count).ok()?.to_le_bytes());
    for (name, value) in pairs.clone() {
        out.extend(u32::try_from(name.len()).ok()?.to_le_bytes());
        out.extend(u32::try_from(value.len()).ok()?.to_le_bytes());
    }
    for (name, value) in pairs {
        out.extend_from_slice(name);
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    Some(out)
}

/// Replaces the request's headers with `pairs` (from [`RequestHead::rewritten`]); false if the
/// host refused.
pub(crate) fn write(pairs: &[u8]) -> bool {
    // SAFETY: the host only reads `pairs.len()` bytes from `pairs`, during the call.
    let status = profile::host_call(HostCall::WriteHeaders, || unsafe {
        proxy_set_header_map_pairs(
            MapType::HttpRequestHeaders as u32,
            pairs.as_ptr(),
            pairs.len(),
        )
    });
    status == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serialise(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
        for (n, v) in pairs {
            out.extend((n.len() as u32).to_le_bytes());
            out.extend((v.len() as u32).to_le_bytes());
        }
        for (n, v) in pairs {
            out.extend(*n);
            out.push(0);
            out.extend(*v);
            out.push(0);
        }
        out
    }

    #[test]
    fn reads_names_and_values_as_bytes() {
        let head = RequestHead::parse(serialise(&[
            (b":method", b"GET"),
            (b"authorization", b"Bearer a"),
            (b"\xff\xfe", b"\x00\xff"),
            (b"authorization", b"Bearer b"),
        ]));
        assert_eq!(head.first(":method"), Some(&b"GET"[..]));
        assert_eq!(head.values("authorization").count(), 2);
        assert_eq!(head.first("authorization"), Some(&b"Bearer a"[..]));
        assert!(head.first("x-auth-subject").is_none());
    }

    #[test]
    fn rewrites_byte_for_byte_dropping_and_adding() {
        let original = serialise(&[
            (b":path", b"/x"),
            (b"authorization", b"Bearer a"),
            (b"\xff", b"\x00\xfe"),
            (b"x-auth-subject", b"forged"),
            (b"authorization", b"Bearer b"),
        ]);
        let head = RequestHead::parse(original.clone());
        assert_eq!(
            head.rewritten(|_| false, &[]),
            None,
            "nothing to change, nothing written"
        );
        let mut authorizations = 0;
        let out = head.rewritten(
            |name| match name {
                b"x-auth-subject" => true,
                b"authorization" => {
                    authorizations += 1;
                    authorizations > 1
                }
                _ => false,
            },
            &[("x-auth-subject", "svc")],
        );
        let expected = serialise(&[
            (b":path", b"/x"),
            (b"authorization", b"Bearer a"),
            (b"\xff", b"\x00\xfe"),
            (b"x-auth-subject", b"svc"),
        ]);
        assert_eq!(out, Some(expected));
        assert_eq!(
            head.rewritten(|_| true, &[]),
            Some(0u32.to_le_bytes().to_vec()),
            "everything dropped"
        );
    }

    #[test]
    fn malformed_serialisations_never_panic() {
        let good = serialise(&[(b":path", b"/x"), (b"a", b"b")]);
        for cut in 0..good.len() {
            let _ = RequestHead::parse(good[..cut].to_vec());
        }
        let mut huge = good.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let _ = RequestHead::parse(huge);
        let mut long = good;
        long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(RequestHead::parse(long).first(":path").is_none());
    }
}
