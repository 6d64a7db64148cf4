# maskrcnn-benchmark's R-CNN-FPN settings as the Group Whitening authors ran them (github.com/huangleiBuaa/
# GroupWhitening, maskrcnn_debug/: maskrcnn_benchmark/config/defaults.py, configs/*.yaml, modeling/), where
# mmdet's _base_/models/{faster,mask}-rcnn_r50_fpn.py differ. Applied by ./faster-rcnn_r50_fpn_mrcnn-benchmark_
# 90k_coco.py and ./mask-rcnn_r50_fpn_mrcnn-benchmark_180k_coco.py; the differences that remain are listed in
# ../README.md ("Where the configs differ from the paper").
#
# Coordinates: maskrcnn-benchmark counts a box x1..x2 as x2 - x1 + 1 pixels (TO_REMOVE = 1 in its box coder,
# IoU, NMS, xywh conversion); mmdet counts x2 - x1 and stores a COCO box (x, y, w, h) as x2 = x + w where
# they store x + w - 1. Their box [x1, x2] is mmdet's [x1, x2 + 1], and under that correspondence mmdet's
# DeltaXYWHBBoxCoder, IoU and NMS (offset 0) compute what theirs compute, so those stay mmdet's. (mmdet's
# LegacyDeltaXYWHBBoxCoder is not theirs: its decode widens every box by one pixel.)
#
# Already as theirs in mmdet's bases (kept): anchors of 32..512 on P2..P6, aspect ratios 0.5/1/2; RPN IoU
# 0.7/0.3 with low-quality matches, 256 anchors per image at 1/2 positive, NMS 0.7, pre-NMS top 2000 (train) /
# 1000 (test) per level, post-NMS 1000 per image at test (FPN_POST_NMS_TOP_N_TEST); RoI IoU 0.5/0.5, 512 RoIs
# per image at 1/4 positive, ground truth added to the proposals; box regression weights (10, 10, 5, 5) =
# target_stds (0.1, 0.1, 0.2, 0.2); cls normal(0.01), reg normal(0.001); RoI level k = floor(4 + log2(
# sqrt(area) / 224)); RoIs 7x7 (box), 14x14 (mask), mask targets 28x28; mask head 4 x (conv, norm, ReLU),
# kaiming_normal(fan_out) init; test score > 0.05, per-class NMS 0.5, 100 detections, mask threshold 0.5;
# input shorter side 800, longer at most 1333, padded to a multiple of 32, horizontal flip 0.5.

# ROI_BOX_HEAD / ROI_MASK_HEAD POOLER_SAMPLING_RATIO 2 in every run yaml (defaults.py: 0, adaptive). Their
# ROIAlign is Detectron's, without the half-pixel shift: mmcv's aligned=False.
mrcnn_benchmark_roi_layer = dict(sampling_ratio=2, aligned=False)
mrcnn_benchmark_rcnn = dict(
    # FPN convs (make_layers.conv_with_kaiming_uniform): kaiming_uniform(a=1), bias 0; mmdet: Xavier.
    neck=dict(init_cfg=dict(type='Caffe2Xavier', layer='Conv2d')),
    rpn_head=dict(
        # Detectron's anchors sit on the centre of each stride x stride cell: their (stride - 1) / 2 is
        # mmdet's stride / 2 (mmdet's default centres them on the cell's corner).
        anchor_generator=dict(center_offset=0.5),
        # rpn/loss.py: smooth L1 with beta 1/9, summed over the positive anchors' 4 deltas and divided by the
        # number of sampled anchors of the batch, which is mmdet's avg_factor with a sampler.
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    train_cfg=dict(
        rpn=dict(
            # Matcher(allow_low_quality_matches=True) makes each ground truth's best anchors positive at any
            # IoU; mmdet's default needs 0.3, which drops small objects (a 10x10 box reaches 0.1 at best).
            assigner=dict(min_pos_iou=0.0),
            # RPN.STRADDLE_THRESH 0: anchors crossing the image border are ignored in the RPN loss.
            allowed_border=0),
        # RPN.MIN_SIZE 0 keeps every proposal, also those clipped to zero width; mmdet's 0 drops those.
        # FPN_POST_NMS_TOP_N_TRAIN is 1000 per image here (mmdet's base); their run scripts ask for 1000 per
        # 1-image GPU batch (Mask R-CNN) and 2000 per 2-image batch (Faster R-CNN, see ../README.md).
        rpn_proposal=dict(min_bbox_size=-1),
        # ROI heads: Matcher(allow_low_quality_matches=False) (mmdet's Mask R-CNN base turns it on).
        rcnn=dict(assigner=dict(match_low_quality=False))),
    test_cfg=dict(rpn=dict(min_bbox_size=-1)))
mrcnn_benchmark_roi_head = dict(
    bbox_roi_extractor=dict(roi_layer=mrcnn_benchmark_roi_layer),
    bbox_head=dict(
        # box_head/loss.py: smooth L1 with beta 1, summed over the positive RoIs' 4 deltas of their class and
        # divided by the number of sampled RoIs, which is mmdet's avg_factor (bbox_targets.size(0)).
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
        # make_fc: kaiming_uniform(a=1) for the fcs (mmdet: Xavier); FPNXconv1fcFeatureExtractor: convs
        # normal(0.01) (a no-op in the 2fc head, which has none); FPNPredictor: cls normal(0.01), reg
        # normal(0.001); biases 0. The same as XConvFCBBoxHead's default.
        init_cfg=[
            dict(type='Normal', std=0.01, layer='Conv2d'),
            dict(type='Caffe2Xavier', override=dict(name='shared_fcs')),
            dict(type='Normal', std=0.01, override=dict(name='fc_cls')),
            dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
        ]))
