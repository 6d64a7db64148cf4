"""Run the CPU demo protocol (same data, seed and schedule) for BN, GN, GW, BGN, GNPlus, ItN and SWBN and
write results/compare.md, results/compare.json and results/compare.png.

    python tools/compare_norms.py [--only GN GW ...] [--out results]
"""
import argparse

from normdet.engine.demo import COMPARE_CONFIGS, compare_norms


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--only', nargs='+', choices=list(COMPARE_CONFIGS), help='a subset of the norms')
    parser.add_argument('--out', default='results', help='output directory')
    return parser.parse_args()


def main():
    args = parse_args()
    configs = {k: v for k, v in COMPARE_CONFIGS.items() if not args.only or k in args.only}
    compare_norms(configs, out_dir=args.out)


if __name__ == '__main__':
    main()
