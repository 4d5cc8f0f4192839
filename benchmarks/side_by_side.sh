# Sourced by train_step.sh and distill_step.sh: runs `pare` and `torch` (functions the caller
# defines) twice — in the environment as it is, and with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset for both commands, so OpenBLAS picks its own kernel (this workplace
# pins Haswell kernels because some OpenBLAS builds miscompute on newer CPUs; each run prints
# the core in use and its losses, so both can be compared) — and prints the tokens/s ratio.
ENVP=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
tps() { grep -o 'median step [0-9.]* s: [0-9.]* tokens/s' | awk '{print $5}'; }
for mode in environment autodetect; do
  echo "=== OpenBLAS kernel: $mode"
  if [ "$mode" = autodetect ]; then ENVP=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE); else ENVP=(env); fi
  p=$(pare); t=$(torch)
  echo "$p"; echo "$t"
  pt=$(echo "$p" | tps); tt=$(echo "$t" | tps)
  echo "Pare $pt tokens/s, PyTorch $tt tokens/s: Pare/PyTorch = $(ratio "$pt" "$tt")x"
done
