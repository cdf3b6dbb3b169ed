"""Hooks for sphinx-gallery (importable by name, so Sphinx can cache the config)."""


def one_torch_thread(gallery_conf, fname):
    """Run every gallery example on one torch thread.

    The examples' networks are tiny: one thread is faster than two (thread hand-offs
    cost more than the work; on a loaded 2-core machine, about 20x more), and the
    printed numbers do not depend on the core count of the machine that builds the
    docs.

    Parameters
    ----------
    gallery_conf : dict
        sphinx-gallery's configuration (unused).
    fname : str
        The example about to run (unused).
    """
    import torch

    torch.set_num_threads(1)
