"""Architectures for the tasks. Every classifier's ``forward(x, return_features=False)`` can also
return the penultimate feature vector (docs/methods.md#cifar-pairs), which DAFL's activation loss needs; a
classifier's ``stages()`` lists the modules whose outputs are its stage feature maps, shallow to
deep (ZSKT's attention transfer compares them)."""
