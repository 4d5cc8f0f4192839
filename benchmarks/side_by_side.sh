# Sourced by train_step.sh and distill_step.sh: runs `pare` and `torch` (functions the caller
# defines, reading $PREC) in fp32 and in bf16 (Pare --precision bf16 against PyTorch under
# torch.autocast bf16, each side's best setting on a CPU with AVX512_BF16 or AMX; skipped where
# Pare refuses bf16), one after the other on the same machine, and prints the tokens/s ratios.
# PRECISIONS="fp32" (or "bf16") runs one of them.
# PyTorch's best attention, measured in this run: `torch_attn ATTN` (the caller's) runs PyTorch
# with eager or sdpa attention; both run and the faster one's output is the figure (which one
# wins moved between sessions: sdpa in fp32; eager under bf16 autocast on 2026-12-04, sdpa on 12-05).
torch() {
  local e s te ts
  e=$(torch_attn eager); s=$(torch_attn sdpa)
  te=$(echo "$e" | tps); ts=$(echo "$s" | tps)
  echo "PyTorch attention: eager ${te:-failed} tokens/s, sdpa ${ts:-failed} tokens/s; the faster is the peer" >&2
  if awk -v a="${te:-0}" -v b="${ts:-0}" 'BEGIN { exit !(a > b) }'; then echo "$e"; else echo "$s"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
tps() { grep -o 'median step [0-9.]* s: [0-9.]* tokens/s' | awk '{print $5}'; }
for PREC in ${PRECISIONS:-fp32 bf16}; do
  echo "=== precision: $PREC"
  if ! p=$(pare 2>&1); then
    echo "$p" | tail -n 3
    echo "Pare refused $PREC here; skipped"; continue
  fi
  t=$(torch)
  echo "$p"; echo "$t"
  pt=$(echo "$p" | tps); tt=$(echo "$t" | tps)
  echo "$PREC: Pare $pt tokens/s, PyTorch $tt tokens/s: Pare/PyTorch = $(ratio "$pt" "$tt")x"
done
