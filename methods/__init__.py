"""Data-free synthesizers and baselines, declared lazily so listing them imports no torch.

Each entry points at a ``MethodSpec`` in the method's own module (one file per family). The
order of registration is the order of the paper's rows: the teacher and the real-data
baselines, then the inversion methods, the generative family and FastDFKD.
"""

from harness.core.registry import BASELINES, METHODS, About

BASELINES.register("teacher", "methods.baselines:teacher", about=About(
    "Teacher", "the pretrained network", docs="teacher-baseline"))
BASELINES.register("scratch", "methods.baselines:scratch", about=About(
    "Student", "trained on the real data", docs="scratch-baseline"))
BASELINES.register("kd", "methods.baselines:kd", about=About(
    "KD", "Hinton et al., Distilling the Knowledge in a Neural Network, 2015 (on the real data)",
    docs="kd-baseline"))

METHODS.register("deepinv", "methods.deepinv:deepinv", about=About(
    "DeepInv", "Yin et al., Dreaming to Distill (DeepInversion), CVPR 2020", speedup_reference=True,
    docs="deepinversion"))
METHODS.register("cmi", "methods.cmi:cmi", about=About(
    "CMI", "Fang et al., Contrastive Model Inversion for Data-Free Knowledge Distillation, IJCAI 2021", docs="cmi"))
METHODS.register("dafl", "methods.generative:dafl", about=About(
    "DAFL", "Chen et al., Data-Free Learning of Student Networks, ICCV 2019", docs="dafl"))
METHODS.register("zskt", "methods.generative:zskt", about=About(
    "ZSKT", "Micaelli & Storkey, Zero-shot Knowledge Transfer via Adversarial Belief Matching, NeurIPS 2019",
    docs="zskt"))
METHODS.register("dfq", "methods.generative:dfq", about=About(
    "DFQ", "Choi et al., Data-Free Network Quantization with Adversarial Knowledge Distillation, CVPRW 2020",
    docs="dfq"))
METHODS.register("dfad", "methods.generative:dfad", about=About(
    "DFAD", "Fang et al., Data-Free Adversarial Distillation, arXiv 2019", docs="dfad"))
_FAST = "Fang et al., Up to 100x Faster Data-free Knowledge Distillation, AAAI 2022"
METHODS.register("fast", "methods.fast:fast", about=About("Fast", _FAST + " (generator reused, no meta-learning)",
                                                                 docs="fast-sequential"))
for _steps in (2, 5, 10, 50):
    METHODS.register(f"fast{_steps}", f"methods.fast:fast{_steps}", about=About(
        f"Fast-{_steps}", _FAST, docs="fast-meta"))
METHODS.register("fast50_imagenet", "methods.fast_imagenet:fast50_imagenet", about=About(
    "Fast-50 (ImageNet)", _FAST + " (its ImageNet synthesizer: latent maps, a meta-learned latent)",
    docs="fast-imagenet-variant"))
