"""Compiling flows: the pipeline's declaration, the Flow value and its actions, the Feature declaration, a host's pieces and their union, what a change marks, the simulator and its words."""
