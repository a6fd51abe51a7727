//! eBPF instruction encoding and a tiny assembler with forward labels.
//! Encoding: Documentation/bpf/standardization/instruction-set.rst.

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    /// dst register in the low nibble, src register in the high nibble.
    regs: u8,
    off: i16,
    imm: i32,
}

/// Registers: r0 return value, r1-r5 arguments, r6-r9 callee-saved, r10 frame pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reg(u8);

pub(crate) const R0: Reg = Reg(0);
pub(crate) const R1: Reg = Reg(1);
pub(crate) const R2: Reg = Reg(2);
pub(crate) const R3: Reg = Reg(3);
pub(crate) const R4: Reg = Reg(4);
pub(crate) const R5: Reg = Reg(5);
pub(crate) const R6: Reg = Reg(6);
pub(crate) const R7: Reg = Reg(7);
pub(crate) const R8: Reg = Reg(8);
pub(crate) const R9: Reg = Reg(9);
pub(crate) const R10: Reg = Reg(10);

/// Memory access sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Size {
    /// 32 bits.
    W = 0x00,
    /// 16 bits.
    H = 0x08,
    /// 8 bits.
    B = 0x10,
    /// 64 bits.
    DW = 0x18,
}

// Instruction classes, sources and operations.
const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_ST: u8 = 0x02;
const BPF_STX: u8 = 0x03;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_IMM: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_DW: u8 = 0x18;
const BPF_ADD: u8 = 0x00;
const BPF_SUB: u8 = 0x10;
const BPF_OR: u8 = 0x40;
const BPF_AND: u8 = 0x50;
const BPF_LSH: u8 = 0x60;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_END: u8 = 0xd0;
/// `BPF_END` source bit: convert to big endian.
const BPF_TO_BE: u8 = 0x08;
const BPF_JA: u8 = 0x00;
const BPF_JEQ: u8 = 0x10;
const BPF_JGT: u8 = 0x20;
const BPF_JGE: u8 = 0x30;
const BPF_JNE: u8 = 0x50;
const BPF_JLT: u8 = 0xa0;
const BPF_CALL: u8 = 0x80;
const BPF_EXIT: u8 = 0x90;
/// `src_reg` of a 64-bit immediate load that holds a map fd (`BPF_PSEUDO_MAP_FD`).
const BPF_PSEUDO_MAP_FD: u8 = 1;

fn insn(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src.0 << 4) | (dst.0 & 0x0f),
        off,
        imm,
    }
}

/// A jump target, bound with [`Asm::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Label(usize);

/// An instruction list with labels resolved when finished.
#[derive(Debug, Default)]
pub(crate) struct Asm {
    insns: Vec<Insn>,
    labels: Vec<Option<usize>>,
    fixups: Vec<(usize, Label)>,
}

impl Asm {
    pub(crate) fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    pub(crate) fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.insns.len());
    }

    fn push(&mut self, i: Insn) -> &mut Self {
        self.insns.push(i);
        self
    }

    fn jump(&mut self, i: Insn, target: Label) -> &mut Self {
        self.fixups.push((self.insns.len(), target));
        self.push(i)
    }

    /// `dst = src` (64 bit).
    pub(crate) fn mov(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0))
    }

    /// `dst = imm` (64 bit, sign-extended).
    pub(crate) fn mov_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, R0, 0, imm))
    }

    /// `dst += imm` (64 bit).
    pub(crate) fn add_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, R0, 0, imm))
    }

    /// `dst += src` (64 bit).
    pub(crate) fn add(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_ADD | BPF_X, dst, src, 0, 0))
    }

    /// `dst -= src` (64 bit).
    pub(crate) fn sub(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_SUB | BPF_X, dst, src, 0, 0))
    }

    /// `dst |= src` (64 bit).
    pub(crate) fn or(&mut self, dst: Reg, src: Reg) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_OR | BPF_X, dst, src, 0, 0))
    }

    /// `dst &= imm` (64 bit, `imm` sign-extended).
    pub(crate) fn and_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_AND | BPF_K, dst, R0, 0, imm))
    }

    /// `dst <<= imm` (64 bit).
    pub(crate) fn lsh_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_LSH | BPF_K, dst, R0, 0, imm))
    }

    /// `dst >>= imm` (64 bit, logical).
    pub(crate) fn rsh_imm(&mut self, dst: Reg, imm: i32) -> &mut Self {
        self.push(insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, R0, 0, imm))
    }

    /// `dst = htobe16(dst)`: the low 16 bits in network order, upper bits cleared.
    pub(crate) fn be16(&mut self, dst: Reg) -> &mut Self {
        self.push(insn(BPF_ALU | BPF_END | BPF_TO_BE, dst, R0, 0, 16))
    }

    /// `dst = *(size *)(src + off)`.
    pub(crate) fn load(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.push(insn(BPF_LDX | BPF_MEM | size as u8, dst, src, off, 0))
    }

    /// `*(size *)(dst + off) = src`.
    pub(crate) fn store(&mut self, size: Size, dst: Reg, off: i16, src: Reg) -> &mut Self {
        self.push(insn(BPF_STX | BPF_MEM | size as u8, dst, src, off, 0))
    }

    /// `*(size *)(dst + off) = imm`.
    pub(crate) fn store_imm(&mut self, size: Size, dst: Reg, off: i16, imm: i32) -> &mut Self {
        self.push(insn(BPF_ST | BPF_MEM | size as u8, dst, R0, off, imm))
    }

    /// `dst = map fd` (relocated by the kernel to the map pointer); two slots.
    pub(crate) fn load_map_fd(&mut self, dst: Reg, fd: i32) -> &mut Self {
        self.push(insn(
            BPF_LD | BPF_IMM | BPF_DW,
            dst,
            Reg(BPF_PSEUDO_MAP_FD),
            0,
            fd,
        ));
        self.push(insn(0, R0, R0, 0, 0))
    }

    /// `if dst == imm goto target`.
    pub(crate) fn jeq_imm(&mut self, dst: Reg, imm: i32, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JEQ | BPF_K, dst, R0, 0, imm), target)
    }

    /// `if dst == src goto target`.
    pub(crate) fn jeq(&mut self, dst: Reg, src: Reg, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JEQ | BPF_X, dst, src, 0, 0), target)
    }

    /// `if dst != imm goto target`.
    pub(crate) fn jne_imm(&mut self, dst: Reg, imm: i32, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JNE | BPF_K, dst, R0, 0, imm), target)
    }

    /// `if dst != src goto target`.
    pub(crate) fn jne(&mut self, dst: Reg, src: Reg, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JNE | BPF_X, dst, src, 0, 0), target)
    }

    /// `if dst < imm goto target` (unsigned).
    pub(crate) fn jlt_imm(&mut self, dst: Reg, imm: i32, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JLT | BPF_K, dst, R0, 0, imm), target)
    }

    /// `if dst > imm goto target` (unsigned).
    pub(crate) fn jgt_imm(&mut self, dst: Reg, imm: i32, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JGT | BPF_K, dst, R0, 0, imm), target)
    }

    /// `if dst >= src goto target` (unsigned).
    pub(crate) fn jge(&mut self, dst: Reg, src: Reg, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JGE | BPF_X, dst, src, 0, 0), target)
    }

    /// `if dst > src goto target` (unsigned).
    pub(crate) fn jgt(&mut self, dst: Reg, src: Reg, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JGT | BPF_X, dst, src, 0, 0), target)
    }

    /// `goto target`.
    pub(crate) fn ja(&mut self, target: Label) -> &mut Self {
        self.jump(insn(BPF_JMP | BPF_JA, R0, R0, 0, 0), target)
    }

    /// `call helper`.
    pub(crate) fn call(&mut self, helper: i32) -> &mut Self {
        self.push(insn(BPF_JMP | BPF_CALL, R0, R0, 0, helper))
    }

    /// `exit` (return r0).
    pub(crate) fn exit(&mut self) -> &mut Self {
        self.push(insn(BPF_JMP | BPF_EXIT, R0, R0, 0, 0))
    }

    /// Resolves jumps. Panics only on an assembler bug (unbound label or a jump out of
    /// `i16` range), which the unit tests exercise for every program we build.
    pub(crate) fn finish(mut self) -> Vec<Insn> {
        for &(at, Label(l)) in &self.fixups {
            let target = self.labels[l].expect("unbound BPF label");
            let rel = target as i64 - at as i64 - 1;
            let rel = i16::try_from(rel).expect("BPF jump out of range");
            self.insns[at].off = rel;
        }
        self.insns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_kernel_macros() {
        let mut a = Asm::default();
        let end = a.label();
        a.mov(R6, R1)
            .load(Size::W, R2, R6, 16)
            .jeq_imm(R0, 0, end)
            .load_map_fd(R1, 7);
        a.bind(end);
        a.exit();
        let p = a.finish();
        // BPF_MOV64_REG(R6, R1) = 0xbf, regs 0x16
        assert_eq!(
            p[0],
            Insn {
                code: 0xbf,
                regs: 0x16,
                off: 0,
                imm: 0
            }
        );
        // BPF_LDX_MEM(BPF_W, R2, R6, 16) = 0x61, regs 0x62
        assert_eq!(
            p[1],
            Insn {
                code: 0x61,
                regs: 0x62,
                off: 16,
                imm: 0
            }
        );
        // jeq r0, 0, +2 (skips both halves of the ld_imm64)
        assert_eq!(
            p[2],
            Insn {
                code: 0x15,
                regs: 0x00,
                off: 2,
                imm: 0
            }
        );
        // BPF_LD_MAP_FD(R1, 7) = 0x18 with src = 1
        assert_eq!(
            p[3],
            Insn {
                code: 0x18,
                regs: 0x11,
                off: 0,
                imm: 7
            }
        );
        assert_eq!(p[5].code, 0x95);
    }
}
