"""PyTorch twin of features_b1 (bench/workloads/features.ts)."""
from common import main
from features import setup_features

if __name__ == "__main__":
    main(setup_features(1))
