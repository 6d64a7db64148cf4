from .gw_checkpoint import (GWCheckpointConversion, check_against_backbone, convert_gw_checkpoint,
                            infer_backbone_cfg, load_source_checkpoint, unwrap_state_dict)

__all__ = [
    'GWCheckpointConversion', 'check_against_backbone', 'convert_gw_checkpoint', 'infer_backbone_cfg',
    'load_source_checkpoint', 'unwrap_state_dict'
]
