"""normdet.engine.runner: NormDetRunner overrides Runner methods instead of patching mmengine or torch, so
importing normdet changes nothing for code that does not use it."""
import torch


def test_import_patches_nothing():
    import mmengine.dist.utils
    from mmengine.runner import Runner

    import normdet  # noqa: F401
    assert torch.cuda.set_device.__module__ == 'torch.cuda'
    assert mmengine.dist.utils.init_dist.__module__ == 'mmengine.dist.utils'
    assert Runner.load_checkpoint.__module__ == 'mmengine.runner.runner'
    assert not any(getattr(g, '__name__', '') == 'HistoryBuffer' for g in torch.serialization.get_safe_globals())
