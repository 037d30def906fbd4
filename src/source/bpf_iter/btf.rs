//! The little of the kernel's BTF (`/sys/kernel/btf/vmlinux`) the iterator
//! needs: the type id of the FUNC `bpf_iter_task_file` (the program's attach
//! point), the index of each of its parameters (the context is one u64 slot
//! per parameter), and the byte offset and size of a few struct members
//! (`task_struct.tgid`, `file.f_inode`, `inode.i_mode`, `inode.i_ino`,
//! `bpf_iter_meta.seq`), so nothing about the running kernel's layout is
//! hard-coded.
//!
//! The format is the kernel's `Documentation/bpf/btf.rst` and
//! `include/uapi/linux/btf.h`: a header (magic 0xeB9F, `hdr_len`, then the
//! type and string sections' offsets and lengths after the header), then
//! `struct btf_type { name_off, info, size_or_type }` records, numbered from
//! 1, each followed by data whose length depends on its kind (`info` bits
//! 24-28) and `vlen` (bits 0-15). Everything is read with bounds checks: a
//! truncated or unknown section is an error, never a panic.

use super::BpfError;

const MAGIC: u16 = 0xeb9f;

// Kinds (include/uapi/linux/btf.h).
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// One type record: its fixed part and the bytes that follow it.
#[derive(Clone, Copy)]
struct Type<'a> {
    name_off: u32,
    kind: u32,
    vlen: usize,
    kind_flag: bool,
    size_or_type: u32,
    extra: &'a [u8],
}

/// Parsed BTF: where each type record starts (by id; 0 is `void`), the
/// strings, and the ids of the structs and functions asked for by name at
/// parse time (found in the one pass over the types; other names are looked
/// up by a scan).
pub struct Btf<'a> {
    raw_types: &'a [u8],
    starts: Vec<u32>,
    strings: &'a [u8],
    asked: Vec<(&'a str, u32)>,
}

/// A struct member as the verifier checks loads of it: byte offset and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub offset: u32,
    pub size: u32,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

impl<'a> Btf<'a> {
    /// Parses raw BTF as the kernel exports it (little-endian on the hosts
    /// porttop runs on; a big-endian blob is refused, not misread). The
    /// structs and functions named in `names` are noted on the way.
    pub fn parse(raw: &'a [u8], names: &[&'a str]) -> Result<Btf<'a>, BpfError> {
        let bad = BpfError::BadBtf;
        if u16_at(raw, 0) != Some(MAGIC) {
            return Err(bad("bad magic (not little-endian BTF)"));
        }
        let field = |at| {
            u32_at(raw, at)
                .map(|v| v as usize)
                .ok_or(bad("short header"))
        };
        let hdr_len = field(4)?;
        let (type_off, type_len) = (field(8)?, field(12)?);
        let (str_off, str_len) = (field(16)?, field(20)?);
        let section = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            raw.get(start..start.checked_add(len)?)
        };
        let raw_types = section(type_off, type_len).ok_or(bad("type section out of bounds"))?;
        let strings = section(str_off, str_len).ok_or(bad("string section out of bounds"))?;
        if u32::try_from(raw_types.len()).is_err() {
            return Err(bad("type section too large"));
        }
        let mut btf = Btf {
            raw_types,
            // About 140,000 types in a distribution kernel, ~40 bytes each.
            starts: Vec::with_capacity(type_len / 32),
            strings,
            asked: Vec::new(),
        };
        btf.starts.push(u32::MAX); // void
        let mut at = 0;
        while at < raw_types.len() {
            let (Some(name_off), Some(info)) = (u32_at(raw_types, at), u32_at(raw_types, at + 4))
            else {
                return Err(bad("truncated type record"));
            };
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra_len = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
                KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
                _ => return Err(bad("unknown type kind (newer BTF than this parser)")),
            };
            let end = at + 12 + extra_len;
            if end > raw_types.len() {
                return Err(bad("truncated type data"));
            }
            if matches!(kind, KIND_STRUCT | KIND_FUNC) && name_off != 0 {
                let id = btf.starts.len() as u32;
                for n in names {
                    if btf.name_is(name_off, n.as_bytes()) {
                        btf.asked.push((*n, id));
                    }
                }
            }
            btf.starts.push(at as u32);
            at = end;
        }
        Ok(btf)
    }

    /// The NUL-terminated string at `off` (empty when out of bounds).
    fn name(&self, off: u32) -> &'a [u8] {
        let Some(rest) = self.strings.get(off as usize..) else {
            return &[];
        };
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// Whether the string at `off` is `name` (without scanning for its end).
    fn name_is(&self, off: u32, name: &[u8]) -> bool {
        let o = off as usize;
        o.checked_add(name.len()).is_some_and(|end| {
            self.strings.get(o..end) == Some(name) && self.strings.get(end) == Some(&0)
        })
    }

    /// Type `id`, decoded from its record (bounds checked at parse time).
    fn get(&self, id: u32) -> Option<Type<'a>> {
        let at = *self.starts.get(id as usize)? as usize;
        if id == 0 {
            return None;
        }
        let r = self.raw_types;
        let info = u32_at(r, at + 4)?;
        let kind = (info >> 24) & 0x1f;
        let vlen = (info & 0xffff) as usize;
        let end = self
            .starts
            .get(id as usize + 1)
            .map_or(r.len(), |n| *n as usize);
        Some(Type {
            name_off: u32_at(r, at)?,
            kind,
            vlen,
            kind_flag: info >> 31 == 1,
            size_or_type: u32_at(r, at + 8)?,
            extra: r.get(at + 12..end)?,
        })
    }

    /// Ids of the types of `kind` named `name`, in id order: those noted at
    /// parse time, or by a scan of every type.
    fn named(&self, kind: u32, name: &str) -> Vec<u32> {
        let noted: Vec<u32> = self
            .asked
            .iter()
            .filter(|(n, id)| *n == name && self.get(*id).is_some_and(|t| t.kind == kind))
            .map(|(_, id)| *id)
            .collect();
        if !noted.is_empty() {
            return noted;
        }
        (1..self.starts.len() as u32)
            .filter(|id| {
                self.get(*id)
                    .is_some_and(|t| t.kind == kind && self.name_is(t.name_off, name.as_bytes()))
            })
            .collect()
    }

    /// The id of the FUNC `name` and its parameter names, in order.
    pub fn func(&self, name: &str) -> Result<(u32, Vec<String>), BpfError> {
        let id = self
            .named(KIND_FUNC, name)
            .first()
            .copied()
            .ok_or_else(|| BpfError::Missing(format!("function {name}")))?;
        let proto = self
            .get(id)
            .and_then(|f| self.get(f.size_or_type))
            .filter(|p| p.kind == KIND_FUNC_PROTO)
            .ok_or(BpfError::BadBtf("function without prototype"))?;
        let params = (0..proto.vlen)
            .map(|i| {
                let off = u32_at(proto.extra, i * 8).unwrap_or(0);
                String::from_utf8_lossy(self.name(off)).into_owned()
            })
            .collect();
        Ok((id, params))
    }

    /// The byte offset and size of member `member` of struct `name`, found in
    /// anonymous unions and structs too (where the kernel keeps many fields).
    pub fn field(&self, name: &str, member: &str) -> Result<Field, BpfError> {
        let missing = || BpfError::Missing(format!("{name}.{member}"));
        // Several structs of one name are possible (none in practice after
        // deduplication); the first that has the member wins.
        for id in self.named(KIND_STRUCT, name) {
            if let Some(bits) = self.find_member(id, member.as_bytes(), 0, 0) {
                let (bit_off, ty) = bits;
                if bit_off % 8 != 0 {
                    return Err(missing());
                }
                let size = self.size_of(ty).ok_or_else(missing)?;
                return Ok(Field {
                    offset: bit_off / 8,
                    size,
                });
            }
        }
        Err(missing())
    }

    /// (bit offset, type id) of `member` in the struct or union `id`, which
    /// itself sits at `base` bits; `depth` bounds the recursion.
    fn find_member(&self, id: u32, member: &[u8], base: u32, depth: u32) -> Option<(u32, u32)> {
        let t = self.get(id)?;
        if !matches!(t.kind, KIND_STRUCT | KIND_UNION) || depth > 8 {
            return None;
        }
        for i in 0..t.vlen {
            let name_off = u32_at(t.extra, i * 12)?;
            let ty = u32_at(t.extra, i * 12 + 4)?;
            let raw_off = u32_at(t.extra, i * 12 + 8)?;
            // With kind_flag the top 8 bits are a bitfield's size.
            let (bit_off, bitfield) = if t.kind_flag {
                (raw_off & 0x00ff_ffff, raw_off >> 24)
            } else {
                (raw_off, 0)
            };
            let at = base.checked_add(bit_off)?;
            if name_off == 0 {
                let inner = self.skip_modifiers(ty)?;
                if let Some(found) = self.find_member(inner, member, at, depth + 1) {
                    return Some(found);
                }
            } else if bitfield == 0 && self.name_is(name_off, member) {
                return Some((at, ty));
            }
        }
        None
    }

    /// Follows typedefs and qualifiers to the type they name.
    fn skip_modifiers(&self, mut id: u32) -> Option<u32> {
        for _ in 0..32 {
            let t = self.get(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Some(id),
            }
        }
        None
    }

    /// The size in bytes of a scalar or pointer type (what a load reads).
    fn size_of(&self, id: u32) -> Option<u32> {
        let t = self.get(self.skip_modifiers(id)?)?;
        match t.kind {
            KIND_INT | KIND_ENUM | KIND_ENUM64 => Some(t.size_or_type),
            KIND_PTR => Some(8),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny BTF blob: int (1), struct s { int a; union { int b; int c; }; } (3),
    /// the anonymous union (2), a FUNC_PROTO(x, y) (4) and FUNC f (5).
    fn blob() -> Vec<u8> {
        let strings = b"\0int\0s\0a\0b\0c\0x\0y\0f\0".to_vec();
        let off = |s: &str| {
            let pat = format!("\0{s}\0");
            strings
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap() as u32
                + 1
        };
        let mut t: Vec<u8> = Vec::new();
        let mut rec = |v: &[u32]| v.iter().for_each(|x| t.extend_from_slice(&x.to_le_bytes()));
        rec(&[off("int"), KIND_INT << 24, 4, 32]); // 1: int, 32 bits
        rec(&[0, KIND_UNION << 24 | 2, 4]); // 2: union { b; c }
        rec(&[off("b"), 1, 0, off("c"), 1, 0]);
        rec(&[off("s"), KIND_STRUCT << 24 | 2, 8]); // 3: struct s
        rec(&[off("a"), 1, 0, 0, 2, 32]);
        rec(&[0, KIND_FUNC_PROTO << 24 | 2, 1]); // 4: proto (x, y)
        rec(&[off("x"), 1, off("y"), 1]);
        rec(&[off("f"), KIND_FUNC << 24, 4]); // 5: f
        let mut b = Vec::new();
        for v in [MAGIC as u32 | 1 << 16, 24, 0, t.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&(t.len() as u32).to_le_bytes());
        b.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        b.extend_from_slice(&t);
        b.extend_from_slice(&strings);
        b
    }

    #[test]
    fn members_are_found_directly_and_inside_anonymous_unions() {
        let raw = blob();
        let btf = Btf::parse(&raw, &["s"]).unwrap();
        assert_eq!(btf.field("s", "a").unwrap(), Field { offset: 0, size: 4 });
        assert_eq!(btf.field("s", "c").unwrap(), Field { offset: 4, size: 4 });
        assert!(matches!(btf.field("s", "z"), Err(BpfError::Missing(_))));
        assert!(matches!(btf.field("t", "a"), Err(BpfError::Missing(_))));
        let (id, params) = btf.func("f").unwrap();
        assert_eq!((id, params), (5, vec!["x".to_string(), "y".to_string()]));
    }

    #[test]
    fn truncated_or_foreign_blobs_are_errors_not_panics() {
        let raw = blob();
        for cut in 0..raw.len() {
            let _ = Btf::parse(&raw[..cut], &["s"]).map(|b| b.field("s", "c"));
            let _ = Btf::parse(&raw[..cut], &[]).map(|b| b.func("f"));
        }
        assert!(matches!(
            Btf::parse(b"\x9f\xeb", &[]),
            Err(BpfError::BadBtf(_))
        ));
        let mut unknown = raw.clone();
        unknown[24 + 7] = 30; // the first type's kind byte
        assert!(matches!(
            Btf::parse(&unknown, &[]),
            Err(BpfError::BadBtf(_))
        ));
        // names not noted at parse time are found by a scan
        let btf = Btf::parse(&raw, &[]).unwrap();
        assert_eq!(btf.field("s", "c").unwrap(), Field { offset: 4, size: 4 });
    }

    #[test]
    fn the_running_kernels_btf_has_what_the_iterator_needs() {
        let Ok(raw) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            eprintln!("SKIP: no /sys/kernel/btf/vmlinux");
            return;
        };
        let btf = Btf::parse(&raw, &super::super::BTF_NAMES).unwrap();
        assert_eq!(
            btf.asked.len(),
            super::super::BTF_NAMES.len(),
            "one of each"
        );
        let (_, params) = btf.func("bpf_iter_task_file").unwrap();
        assert_eq!(params, ["meta", "task", "fd", "file"]);
        assert_eq!(btf.field("task_struct", "tgid").unwrap().size, 4);
        assert_eq!(btf.field("file", "f_inode").unwrap().size, 8);
        assert_eq!(btf.field("inode", "i_mode").unwrap().size, 2);
        assert_eq!(btf.field("inode", "i_ino").unwrap().size, 8);
        assert_eq!(btf.field("bpf_iter_meta", "seq").unwrap().offset, 0);
    }
}
