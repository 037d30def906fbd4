//! A tiny eBPF instruction builder and the one program porttop loads, written
//! out instruction by instruction: no compiler, no object file, nothing built
//! but Rust. Encodings from the kernel's `Documentation/bpf/standardization/
//! instruction-set.rst` and `include/uapi/linux/bpf_common.h`, `bpf.h`.

use super::btf::Field;

/// `struct bpf_insn`: opcode, dst (low nibble) and src (high nibble)
/// registers, a signed 16-bit offset and a signed 32-bit immediate.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

// Instruction classes, sizes, modes, operations (bpf_common.h, bpf.h).
const LDX: u8 = 0x01;
const STX: u8 = 0x03;
const JMP: u8 = 0x05;
const ALU64: u8 = 0x07;
const MEM: u8 = 0x60;
const K: u8 = 0x00;
const X: u8 = 0x08;
const MOV: u8 = 0xb0;
const ADD: u8 = 0x00;
const AND: u8 = 0x50;
const JEQ: u8 = 0x10;
const JNE: u8 = 0x50;
const CALL: u8 = 0x80;
const EXIT: u8 = 0x90;

/// `BPF_FUNC_seq_write` (enum bpf_func_id, include/uapi/linux/bpf.h):
/// `long bpf_seq_write(struct seq_file *m, const void *data, u32 len)`.
const FUNC_SEQ_WRITE: i32 = 127;

/// Registers: r0 return value, r1-r5 arguments (clobbered by calls), r6-r9
/// kept across calls, r10 the read-only frame pointer.
#[derive(Clone, Copy)]
pub enum Reg {
    R0 = 0,
    R1,
    R2,
    R3,
    R6 = 6,
    R7,
    R8,
    R10 = 10,
}

/// A load or store width in bytes, as the opcode's size bits.
fn size_bits(bytes: u32) -> Option<u8> {
    match bytes {
        4 => Some(0x00),
        2 => Some(0x08),
        1 => Some(0x10),
        8 => Some(0x18),
        _ => None,
    }
}

fn insn(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (dst as u8) | ((src as u8) << 4),
        off,
        imm,
    }
}

/// Instructions with forward jumps to one label, `out` (patched by `finish`).
#[derive(Default)]
struct Builder {
    code: Vec<Insn>,
    to_out: Vec<usize>,
}

impl Builder {
    fn push(&mut self, i: Insn) {
        self.code.push(i);
    }
    /// dst = *(size *)(src + off)
    fn load(&mut self, dst: Reg, src: Reg, f: Field) -> Option<()> {
        let off = i16::try_from(f.offset).ok()?;
        self.push(insn(LDX | MEM | size_bits(f.size)?, dst, src, off, 0));
        Some(())
    }
    /// *(size *)(dst + off) = src
    fn store(&mut self, dst: Reg, off: i16, src: Reg, size: u32) -> Option<()> {
        self.push(insn(STX | MEM | size_bits(size)?, dst, src, off, 0));
        Some(())
    }
    fn mov(&mut self, dst: Reg, src: Reg) {
        self.push(insn(ALU64 | MOV | X, dst, src, 0, 0));
    }
    fn mov_imm(&mut self, dst: Reg, imm: i32) {
        self.push(insn(ALU64 | MOV | K, dst, Reg::R0, 0, imm));
    }
    fn add_imm(&mut self, dst: Reg, imm: i32) {
        self.push(insn(ALU64 | ADD | K, dst, Reg::R0, 0, imm));
    }
    fn and_imm(&mut self, dst: Reg, imm: i32) {
        self.push(insn(ALU64 | AND | K, dst, Reg::R0, 0, imm));
    }
    /// if dst OP imm goto out
    fn jump_out(&mut self, op: u8, dst: Reg, imm: i32) {
        self.to_out.push(self.code.len());
        self.push(insn(JMP | op | K, dst, Reg::R0, 0, imm));
    }
    fn call(&mut self, func: i32) {
        self.push(insn(JMP | CALL, Reg::R0, Reg::R0, 0, func));
    }
    /// Places `out` here (`r0 = 0; exit`) and patches the jumps to it.
    fn finish(mut self) -> Option<Vec<Insn>> {
        let out = self.code.len();
        for at in std::mem::take(&mut self.to_out) {
            // A jump's offset counts from the instruction after it.
            self.code[at].off = i16::try_from(out - at - 1).ok()?;
        }
        self.mov_imm(Reg::R0, 0);
        self.push(insn(JMP | EXIT, Reg::R0, Reg::R0, 0, 0));
        Some(self.code)
    }
}

/// Where the program reads what it reads, all from the running kernel's BTF.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// The context's slots (`struct bpf_iter__task_file`: one u64 per
    /// parameter of `bpf_iter_task_file`, `fd` a u32 in its slot).
    pub ctx_meta: Field,
    pub ctx_task: Field,
    pub ctx_fd: Field,
    pub ctx_file: Field,
    pub meta_seq: Field,
    pub task_tgid: Field,
    pub file_inode: Field,
    pub inode_mode: Field,
    pub inode_ino: Field,
}

/// `S_IFMT` and `S_IFSOCK` (include/uapi/linux/stat.h).
const S_IFMT: i32 = 0o170000;
const S_IFSOCK: i32 = 0o140000;

/// The size of one record the program writes: tgid u32, fd u32, inode u64,
/// in the machine's byte order.
pub const RECORD: usize = 16;

/// The program, per (task, fd) the iterator visits:
///
/// ```text
/// task = ctx->task; if (!task) return 0;      // NULL on the final call
/// file = ctx->file; if (!file) return 0;
/// inode = file->f_inode; if (!inode) return 0;
/// if ((inode->i_mode & S_IFMT) != S_IFSOCK) return 0;
/// rec = { task->tgid, ctx->fd, inode->i_ino };  // on the stack
/// bpf_seq_write(ctx->meta->seq, &rec, 16); return 0;
/// ```
///
/// Loads through `task`, `file` and `inode` are BTF-typed (the verifier
/// checks each offset and size against the kernel's own types, which is why
/// they come from its BTF), and faults in them read as zero.
/// None when a field's size is not one a load can have.
pub fn program(l: &Layout) -> Option<Vec<Insn>> {
    use Reg::*;
    let mut b = Builder::default();
    b.mov(R6, R1); // ctx, kept across the call
    b.load(R7, R6, l.ctx_task)?;
    b.jump_out(JEQ, R7, 0);
    b.load(R8, R6, l.ctx_file)?;
    b.jump_out(JEQ, R8, 0);
    b.load(R2, R8, l.file_inode)?;
    b.jump_out(JEQ, R2, 0);
    b.load(R3, R2, l.inode_mode)?;
    b.and_imm(R3, S_IFMT);
    b.jump_out(JNE, R3, S_IFSOCK);
    b.load(R3, R2, l.inode_ino)?;
    b.store(R10, -8, R3, 8)?;
    b.load(R3, R7, l.task_tgid)?;
    b.store(R10, -16, R3, 4)?;
    b.load(R3, R6, l.ctx_fd)?;
    b.store(R10, -12, R3, 4)?;
    b.load(R1, R6, l.ctx_meta)?;
    b.load(R1, R1, l.meta_seq)?;
    b.mov(R2, R10);
    b.add_imm(R2, -(RECORD as i32));
    b.mov_imm(R3, RECORD as i32);
    b.call(FUNC_SEQ_WRITE);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(offset: u32, size: u32) -> Field {
        Field { offset, size }
    }

    fn layout() -> Layout {
        Layout {
            ctx_meta: f(0, 8),
            ctx_task: f(8, 8),
            ctx_fd: f(16, 4),
            ctx_file: f(24, 8),
            meta_seq: f(0, 8),
            task_tgid: f(2500, 4),
            file_inode: f(32, 8),
            inode_mode: f(0, 2),
            inode_ino: f(64, 8),
        }
    }

    #[test]
    fn the_program_encodes_as_the_instruction_set_says() {
        let p = program(&layout()).unwrap();
        // r6 = r1
        assert_eq!(p[0], insn(0xbf, Reg::R6, Reg::R1, 0, 0));
        // r7 = *(u64 *)(r6 + 8)
        assert_eq!(p[1], insn(0x79, Reg::R7, Reg::R6, 8, 0));
        // r3 = *(u16 *)(r2 + 0); r3 &= 0xf000; if r3 != 0xc000 goto out
        assert_eq!(p[7], insn(0x69, Reg::R3, Reg::R2, 0, 0));
        assert_eq!(p[8], insn(0x57, Reg::R3, Reg::R0, 0, 0xf000));
        assert_eq!(p[9].code, 0x55);
        assert_eq!(p[9].imm, 0xc000);
        // r3 = *(u32 *)(r7 + 2500) (tgid)
        assert_eq!(p[12], insn(0x61, Reg::R3, Reg::R7, 2500, 0));
        // call bpf_seq_write; then out: r0 = 0; exit
        let n = p.len();
        assert_eq!(p[n - 3], insn(0x85, Reg::R0, Reg::R0, 0, 127));
        assert_eq!(p[n - 2], insn(0xb7, Reg::R0, Reg::R0, 0, 0));
        assert_eq!(p[n - 1], insn(0x95, Reg::R0, Reg::R0, 0, 0));
        // every early jump lands on `out`
        for (i, x) in p.iter().enumerate() {
            if x.code == 0x15 || x.code == 0x55 {
                assert_eq!(i as i64 + 1 + x.off as i64, n as i64 - 2, "jump at {i}");
            }
        }
    }

    #[test]
    fn fields_no_load_can_read_are_refused() {
        let mut l = layout();
        l.inode_mode = f(0, 3);
        assert!(program(&l).is_none());
        let mut l = layout();
        l.task_tgid = f(40_000, 4); // beyond a 16-bit offset
        assert!(program(&l).is_none());
    }
}
