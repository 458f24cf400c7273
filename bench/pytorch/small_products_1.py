"""PyTorch twin of bench/workloads/small_products.ts, 1 new frame(s)."""
from common import main
from small_products_common import make_setup

if __name__ == "__main__":
    main(make_setup(1))
