# The ResNet-50 of the bgn/, gnplus/, itn/ and swbn/ configs, on top of a GW config's backbone
# (PositionNormResNet with frozen BN, ../../gw/): a norm that keeps statistics over the batch (BGN,
# GNPlus, ItN, SWBN) where GW sits in the GW paper (after the stem conv and each bottleneck's 3x3 conv),
# frozen BN elsewhere, from torchvision's ImageNet ResNet-50 (torchvision://resnet50, needs the torchvision
# package): there is no ImageNet ResNet-50 trained with these norms. They take BN's affine weight/bias at
# their positions (and its running statistics where the shapes agree) and learn their own statistics in
# detection training, so they stay out of norm_eval (norm_eval_positions) and no stage is frozen
# (frozen_stages=-1; the frozen-BN positions stay frozen by requires_grad=False). Used as
#   _base_ = ['../gw/<GW config>.py', '../_base_/models/r50_batch-stats-norm-at-gw-positions.py']
#   model = dict(backbone=dict(stem_norm_cfg=dict(_delete_=True, **norm_cfg),
#                              norm2_cfg=dict(_delete_=True, **norm_cfg), **_base_.batch_stats_at_gw_positions))
batch_stats_at_gw_positions = dict(
    frozen_stages=-1,
    norm_eval_positions=('norm1', 'norm3', 'downsample'),
    init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'),
    checkpoint_hint=None)
