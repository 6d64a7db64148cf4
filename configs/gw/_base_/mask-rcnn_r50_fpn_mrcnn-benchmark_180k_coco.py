# Mask R-CNN R-50-FPN as maskrcnn-benchmark trains it for Group Whitening (Huang et al., CVPR 2021) Table 3:
# mmdet's model and COCO instance data, maskrcnn-benchmark's 1x schedule for 8 GPUs x 1 image
# (../../_base_/schedules/mrcnn-benchmark_1x-180k.py, SOLVER.IMS_PER_BATCH 8) and R-CNN settings
# (./mrcnn-benchmark_rcnn-fpn.py), the mask RoIAlign included.
# COCO 2014 train+valminusminival / minival, the authors' split, are the images of COCO 2017 train / val.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    '../../_base_/schedules/mrcnn-benchmark_1x-180k.py',
    './mrcnn-benchmark_rcnn-fpn.py',
]
custom_imports = dict(imports=['normdet'], allow_failed_imports=False)

model = dict(
    roi_head=dict(mask_roi_extractor=dict(roi_layer=_base_.mrcnn_benchmark_roi_layer),
                  **_base_.mrcnn_benchmark_roi_head),
    **_base_.mrcnn_benchmark_rcnn)
train_dataloader = dict(batch_size=1)
