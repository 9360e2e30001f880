"""What methods and tasks are written against: the Synthesizer and Task interfaces, the registry
that finds them by name, config fields, losses, augmentations, the image pool, precision and the
one error type users see. Imports nothing from the later stages. Importing the package imports
no torch (``bench --help`` stays fast): import the modules themselves."""
