"""Features: each one a module declaring a :class:`controller.compile.feature.Feature`
(its compiler, its network kinds, its routes). ``switching`` holds the flows the
core writes whatever features are loaded."""
