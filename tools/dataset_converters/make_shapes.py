"""Generate the synthetic shapes instance-segmentation dataset (COCO format) used by the CPU demo.

    python tools/dataset_converters/make_shapes.py --out data/shapes --difficulty 0.35

Training needs no such step: every ``ShapesDataset`` of a config writes its data set on first use
(configs/_base_/datasets/shapes_instance.py, whose ``shapes_cfg`` the line above reproduces). This writes
one without training, e.g. to look at it or to make other sizes. Nothing is rewritten when ``--out``
already holds a dataset generated with the same arguments.
"""
import argparse

from normdet.datasets import generate_shapes_dataset


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/shapes', help='output directory')
    parser.add_argument('--num-train', type=int, default=400, help='number of training images')
    parser.add_argument('--num-val', type=int, default=100, help='number of validation images')
    parser.add_argument('--image-size', type=int, default=256, help='side of the square images in pixels')
    parser.add_argument('--seed', type=int, default=0, help='seed of every random choice')
    parser.add_argument('--difficulty', type=float, default=0.5,
                        help='0 easy, 0.5 standard, 1 hard (see normdet.datasets.shapes_params)')
    return parser.parse_args()


def main():
    args = parse_args()
    result = generate_shapes_dataset(args.out, num_train=args.num_train, num_val=args.num_val,
                                     image_size=args.image_size, seed=args.seed, difficulty=args.difficulty)
    action = 'up to date' if result['skipped'] else f'written in {result["seconds"]:.1f} s'
    print(f'shapes dataset in {result["out_dir"]}: {action}')
    for split, stats in result['stats'].items():
        per_class = ', '.join(f'{name} {count}' for name, count in stats['instances_per_class'].items())
        print(f'  {split}: {stats["images"]} images, {stats["instances"]} instances ({per_class})')


if __name__ == '__main__':
    main()
