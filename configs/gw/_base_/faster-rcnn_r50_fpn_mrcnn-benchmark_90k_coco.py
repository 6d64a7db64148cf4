# Faster R-CNN R-50-FPN as maskrcnn-benchmark trains it for Group Whitening (Huang et al., CVPR 2021) Table 2:
# mmdet's model and COCO detection data, maskrcnn-benchmark's 1x schedule for 8 GPUs x 2 images
# (../../_base_/schedules/mrcnn-benchmark_1x-90k.py) and R-CNN settings (./mrcnn-benchmark_rcnn-fpn.py).
# COCO 2014 train+valminusminival / minival, the authors' split, are the images of COCO 2017 train / val.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    '../../_base_/schedules/mrcnn-benchmark_1x-90k.py',
    './mrcnn-benchmark_rcnn-fpn.py',
]
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(roi_head=_base_.mrcnn_benchmark_roi_head, **_base_.mrcnn_benchmark_rcnn)
