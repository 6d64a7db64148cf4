"""The embedded CPU demo: generate the shapes data set, train Mask R-CNN with GW from scratch, print COCO AP.

    python tools/demo.py [CONFIG] [--work-dir DIR] [--cfg-options KEY=VALUE ...]
"""
import argparse

from mmengine.config import DictAction

from normdet.engine.demo import DEMO_CONFIG, format_demo_result, run_demo


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', default=DEMO_CONFIG, help='demo config')
    parser.add_argument('--work-dir', help='where checkpoint, logs and demo_results.json go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args()


def main():
    args = parse_args()
    result = run_demo(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options)
    print('\nnormdet demo: ' + args.config)
    print(format_demo_result(result))


if __name__ == '__main__':
    main()
