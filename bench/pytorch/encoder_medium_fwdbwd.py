"""PyTorch twin of encoder_medium_fwdbwd (bench/workloads/encoder.ts)."""
from common import main
from encoder_bench import setup_encoder

if __name__ == "__main__":
    main(setup_encoder("medium", "fwdbwd"))
