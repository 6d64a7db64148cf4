# Where a GW ResNet-50 backbone (GW(64) at the paper's positions) gets its ImageNet weights, and what the
# missing-file message tells the user: used as **_base_.gw_r50_imagenet_weights in a backbone dict.
gw_r50_imagenet_weights = dict(
    init_cfg=dict(type='Pretrained', checkpoint='checkpoints/gw_resnet50_imagenet_converted.pth'),
    checkpoint_hint=(
        "Download the GW authors' ImageNet GW ResNet-50 (README of github.com/huangleiBuaa/GroupWhitening, "
        'Google Drive file 1bNeTDhfu5jg8aBatOCSQAe_WzTouUfHA) and run: '
        'python tools/model_converters/gw2normdet.py <downloaded.pth> '
        'checkpoints/gw_resnet50_imagenet_converted.pth. '
        'Or pretrain it: tools/dist_train.sh configs/pretrain/resnet50_gw-paper_8xb32_in1k.py 8 (one process: '
        'python tools/train.py configs/pretrain/resnet50_gw-paper_8xb32_in1k.py), then train with --cfg-options '
        'model.backbone.init_cfg.prefix=backbone. '
        'model.backbone.init_cfg.checkpoint=work_dirs/resnet50_gw-paper_8xb32_in1k/epoch_100.pth'))
